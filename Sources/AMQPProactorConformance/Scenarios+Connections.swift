import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

/// One check of the conformance suite: a name and what it does with a fresh harness.
public struct ConformanceScenario: Sendable, CustomStringConvertible {
    /// Shown in test names and failures.
    public let name: String
    let body: @Sendable (ConformanceHarness) -> Void

    /// The name.
    public var description: String { name }

    /// Runs the scenario on a new proactor of `backend`; returns the failures (none: it passed).
    public func run(on backend: ProactorBackend) -> [String] {
        let proactor: any Proactor
        do {
            proactor = try backend.make()
        } catch {
            return ["\(backend): could not make a proactor: \(error)"]
        }
        let harness = ConformanceHarness(proactor: proactor)
        body(harness)
        return harness.failures
    }
}

/// The suite that defines a backend: every scenario must pass on every proactor.
public enum ProactorConformance {
    /// Every scenario, in a stable order.
    public static var scenarios: [ConformanceScenario] {
        [transfer, refuse, connectionRefused, unknownHost, portInUse, wakesFromForeignThreads, interrupt,
         timeout, heartbeatsKeepAQuietConnection, idleTimeoutClosesASilentPeer, disconnect, release,
         probeWithoutAByte, peerVanishesMidTransfer, halfOpenPeer, largeMessages, manyConnections, outOfDescriptors,
         descriptorReuse, earlyWrite, releaseMidStream, stress] + tlsScenarios
    }
}

/// The application side of most scenarios: a server that answers in kind, accepts and settles what
/// arrives and grants credit again; a client that opens a sender and sends `count` messages of
/// `size` bytes, then closes once all are accepted.
final class MessagingApplication: Sendable {
    let count: Int
    let size: Int
    let serverConfiguration: DriverConfiguration
    /// The layer each accepted connection gets (nil: plain).
    let serverLayer: @Sendable () -> (any TransportLayer)?
    let sent = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let closedConnections = Atomic<Int>(0)
    /// Messages the server sent to receiving clients, and what those clients received.
    let serverSent = Atomic<Int>(0)
    let clientReceived = Atomic<Int>(0)
    let errors = LockedValue<[AMQPError]>([])
    // Accepted deliveries per sending link, to close each client when all of its are settled.
    private let settledPerLink = LockedValue<[ObjectIdentifier: Int]>([:])

    init(count: Int, size: Int, serverConfiguration: DriverConfiguration = DriverConfiguration(containerID: "server"),
         serverLayer: @escaping @Sendable () -> (any TransportLayer)? = { nil }) {
        self.count = count
        self.size = size
        self.serverConfiguration = serverConfiguration
        self.serverLayer = serverLayer
    }

    static func clientConfiguration(_ id: String = "client") -> DriverConfiguration { DriverConfiguration(containerID: id) }

    /// Handles one event of either side; `perClient` is how many messages each client sends.
    func handle(_ event: ProactorBatchEvent, _ batch: ProactorBatch, perClient: Int, onClientClosed: () -> Void = {}) {
        switch event {
        case .proactor(.listenerAccept(let l)):
            l.accept(configuration: serverConfiguration, layer: serverLayer())
        case .amqp(let e):
            guard let driver = batch.driver else { return }
            if driver.mode == .server { server(e) } else { client(e, driver, perClient: perClient, onClosed: onClientClosed) }
        default:
            break
        }
    }

    private func server(_ e: AMQPEvent) {
        switch e {
        case .connectionRemoteOpen(let c): c.open()
        case .sessionRemoteBegin(let s): s.begin()
        case .linkRemoteOpen(let l):
            l.localTarget = l.remoteAttach?.target?.target
            l.localSource = l.remoteAttach?.source
            l.attach()
            if l.role == .receiver { l.flow(credit: 100) }
        case .linkFlow(let l) where l.role == .sender:
            // A receiving client: send it `count` messages in all, as credit allows.
            while l.credit > UInt32(l.queued) && Int(l.deliveryCount) + l.queued < count {
                l.send([UInt8](repeating: 0xa5, count: size))
                serverSent.add(1, ordering: .relaxed)
            }
        case .delivery(let d) where d.link.role == .receiver && !d.isPartial && !d.locallySettled:
            received.add(1, ordering: .relaxed)
            let bytes = d.readPayload()
            if bytes.count != size || bytes.contains(where: { $0 != 0x5a }) {
                errors.withLock { $0.append(AMQPError(condition: ErrorCondition.decodeError, description: "server got \(bytes.count) bytes, not \(size) of 0x5a")) }
            }
            d.accept()
            d.link.flow(credit: 1)
        case .linkRemoteClose(let l): l.close()
        case .sessionRemoteEnd(let s): s.end()
        case .connectionRemoteClose(let c): c.close()
        case .transportError(let error): errors.withLock { $0.append(error) }
        default: break
        }
    }

    /// A client whose container-id starts with "receiver" receives `count` messages from the
    /// server; any other sends `perClient`.
    private func client(_ e: AMQPEvent, _ driver: ConnectionDriver, perClient: Int, onClosed: () -> Void) {
        switch e {
        case .connectionInit(let c):
            c.open()
            let s = c.session()
            s.begin()
            if driver.configuration.containerID.hasPrefix("receiver") {
                let r = s.receiver(name: "receiver", source: "queue")
                r.attach()
                r.flow(credit: 10)
            } else {
                s.sender(name: "sender", target: "queue").attach()
            }
        case .delivery(let d) where d.link.role == .receiver && !d.isPartial && !d.locallySettled:
            let bytes = d.readPayload()
            if bytes.count != size || bytes.contains(where: { $0 != 0xa5 }) {
                errors.withLock { $0.append(AMQPError(condition: ErrorCondition.decodeError, description: "client got \(bytes.count) bytes, not \(size) of 0xa5")) }
            }
            d.accept()
            if clientReceived.add(1, ordering: .relaxed).newValue == count { d.link.session.connection.close() } else { d.link.flow(credit: 1) }
        case .linkFlow(let l) where l.role == .sender:
            // Sent per link: the delivery count of the link tells how many went.
            while l.credit > UInt32(l.queued) && Int(l.deliveryCount) + l.queued < perClient {
                l.send([UInt8](repeating: 0x5a, count: size))
                sent.add(1, ordering: .relaxed)
            }
        case .delivery(let d) where d.link.role == .sender && d.remotelySettled:
            if d.remoteState == .accepted { accepted.add(1, ordering: .relaxed) }
            let link = d.link
            let id = ObjectIdentifier(link)
            let settled = settledPerLink.withLock { counts in
                counts[id, default: 0] += 1
                return counts[id]!
            }
            if settled == perClient { link.session.connection.close() }
        case .connectionRemoteClose: break
        case .transportClosed:
            closedConnections.add(1, ordering: .relaxed)
            onClosed()
        case .transportError(let error): errors.withLock { $0.append(error) }
        default: break
        }
    }
}

extension ProactorConformance {
    static func address(_ port: UInt16?) -> String { "127.0.0.1:\(port ?? 0)" }

    /// A listener, one client sending 200 messages of 100 bytes, every one accepted; the client
    /// closes, the listener closes, inactive.
    static var transfer: ConformanceScenario {
        ConformanceScenario(name: "connect, listen, accept, transfer, close") { h in
            let app = MessagingApplication(count: 200, size: 100)
            let opened = Atomic<Int>(0)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    opened.add(1, ordering: .relaxed)
                    h.check(l.port != nil && l.port != 0, "listener port \(String(describing: l.port))")
                    _ = h.proactor.connect(to: address(l.port), configuration: MessagingApplication.clientConfiguration())
                }
                app.handle(event, batch, perClient: 200) {
                    ListenerRegistry.closeAll(h)
                }
                if case .proactor(.listenerOpen(let l)) = event { ListenerRegistry.add(l, h) }
            }
            h.check(opened.load(ordering: .relaxed) == 1, "listener-open events: \(opened.load(ordering: .relaxed))")
            h.check(app.received.load(ordering: .relaxed) == 200, "received \(app.received.load(ordering: .relaxed)) of 200")
            h.check(app.accepted.load(ordering: .relaxed) == 200, "accepted \(app.accepted.load(ordering: .relaxed)) of 200")
            h.check(app.errors.withLock { $0.isEmpty }, "transport errors: \(app.errors.withLock { $0 })")
            h.check(h.grammar.connections == 2, "connections seen: \(h.grammar.connections)")
        }
    }
}

/// Listeners a scenario opened, to close them from a handler when the scenario is done.
enum ListenerRegistry {
    private static let listeners = LockedValue<[ObjectIdentifier: [ProactorListener]]>([:])

    static func add(_ l: ProactorListener, _ h: ConformanceHarness) {
        listeners.withLock { $0[ObjectIdentifier(h), default: []].append(l) }
    }

    static func closeAll(_ h: ConformanceHarness) {
        let all = listeners.withLock { $0.removeValue(forKey: ObjectIdentifier(h)) ?? [] }
        for l in all { l.close() }
    }
}

import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPProactor
import AMQPProactorConformance
import AMQPProactorTLS
import AMQPSystem
import AMQPTLS
import AMQPURing
import Foundation
import SharedFixtures
import Synchronization
import XCTest

/// Qpid Proton (Python, `SSLDomain`) as the TLS peer of our proactor, both ways, on epoll and
/// io_uring: Proton's TLS server with our client (`proton_tls_peer.py server`), and Proton's TLS
/// client with our listener (`proton_tls_peer.py client`). Client certificates are required and
/// checked by both; 500 messages go each way on one connection, all accepted, then a clean close.
final class ProtonTLSInteropTests: XCTestCase {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("proton_tls_peer.py").path
    let count = 500

    func testProtonServerOurClientOnEpoll() throws { try protonServer(backend: "epoll") }
    func testProtonServerOurClientOnIOURing() throws { try protonServer(backend: "io_uring") }
    func testProtonClientOurListenerOnEpoll() throws { try protonClient(backend: "epoll") }
    func testProtonClientOurListenerOnIOURing() throws { try protonClient(backend: "io_uring") }

    // MARK: the two directions

    /// Proton listens with TLS and requires our client certificate; we connect, send and receive.
    func protonServer(backend: String) throws {
        let (pki, proactor) = try prepare(backend)
        let peer = try Peer(["server", pki.serverCertificate, pki.serverKey, pki.caFile, "\(count)"])
        defer { peer.stop() }
        let port = try peer.firstLine().split(separator: " ").last.map(String.init) ?? ""
        var configuration = TLSConfiguration.client(serverName: "localhost")
        configuration.trustRoots = .file(pki.caFile)
        configuration.certificateChainFile = pki.clientCertificate
        configuration.privateKeyFile = pki.clientKey
        let context = try TLSContext(configuration: configuration)
        let app = Application(count: count)
        try proactor.connect(to: "127.0.0.1:\(port)", configuration: DriverConfiguration(containerID: "swift-client"), tls: context,
                             serverName: "localhost")
        run(proactor, app)
        let verdict = peer.finish()
        XCTAssertEqual(app.errors.withLock { $0 }, [], "our transport errors (\(backend))")
        XCTAssertEqual(app.accepted.load(ordering: .relaxed), count, "accepted by Proton (\(backend))")
        XCTAssertEqual(app.received.load(ordering: .relaxed), count, "received from Proton (\(backend))")
        XCTAssertTrue(verdict.status == 0 && verdict.output.contains("ok sent=\(count) received=\(count)"),
                      "Proton (\(backend)): status \(verdict.status)\n\(verdict.output)\n\(verdict.errors)")
        print("proton TLS server, our \(backend) client: \(verdict.output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// We listen with TLS and require Proton's client certificate; Proton connects, sends, receives.
    func protonClient(backend: String) throws {
        let (pki, proactor) = try prepare(backend)
        var configuration = TLSConfiguration.server(certificateChainFile: pki.serverCertificate, privateKeyFile: pki.serverKey)
        configuration.trustRoots = .file(pki.caFile)
        configuration.clientCertificates = .required
        let context = try TLSContext(configuration: configuration)
        let app = Application(count: count, serverContext: context)
        let listener = proactor.listen(on: "127.0.0.1:0", backlog: 4)
        app.listener.withLock { $0 = listener }
        let peer = try Peer(["client", "\(listener.port ?? 0)", pki.caFile, pki.clientCertificate, pki.clientKey, "\(count)"])
        defer { peer.stop() }
        run(proactor, app)
        let verdict = peer.finish()
        XCTAssertEqual(app.errors.withLock { $0 }, [], "our transport errors (\(backend))")
        XCTAssertEqual(app.received.load(ordering: .relaxed), count, "received from Proton (\(backend))")
        XCTAssertEqual(app.accepted.load(ordering: .relaxed), count, "accepted by Proton (\(backend))")
        XCTAssertEqual(app.transports.withLock { $0 }, [SASLTransport(isSecure: true, externalIdentity: pki.clientSubject)],
                       "what our SASL layer was told (\(backend))")
        XCTAssertTrue(verdict.status == 0 && verdict.output.contains("ok sent=\(count) received=\(count)"),
                      "Proton (\(backend)): status \(verdict.status)\n\(verdict.output)\n\(verdict.errors)")
        print("proton TLS client, our \(backend) listener: \(verdict.output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    // MARK: support

    func prepare(_ backend: String) throws -> (ConformancePKI, any Proactor) {
        guard try ProtonPython.require(for: "the Proton TLS interop test") else { throw Prerequisite.missing("no Proton") }
        let pki: ConformancePKI
        switch ConformancePKI.shared {
        case .success(let made): pki = made
        case .failure(let failure): throw Prerequisite.missing("no test certificates (the openssl command is needed): \(failure)")
        }
        if backend == "io_uring" {
            guard TestBackends.ioURingRuns else { throw Prerequisite.ioURingMissing() }
            return (pki, try URingProactor())
        }
        return (pki, try EpollProactor.epoll())
    }

    /// Runs two threads on the proactor until it is inactive; after 30 s everything is disconnected.
    func run(_ proactor: any Proactor, _ app: Application) {
        let finished = Atomic<Bool>(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
            if !finished.load(ordering: .acquiring) {
                app.errors.withLock { $0.append(AMQPError(condition: ErrorCondition.internalError, description: "timed out")) }
                proactor.disconnect(nil)
            }
        }
        XCTAssertNoThrow(try ProactorThreadPool.run(proactor, threads: 2) { batch in
            while let event = batch.next() { app.handle(event, batch) }
        })
        finished.store(true, ordering: .releasing)
    }

    /// Our side: a client that opens a sender and a receiver on "q", or a server that answers in
    /// kind; either way sends `count` messages, accepts `count`, and the client closes when both
    /// are done (the server answers Proton's close, then closes its listener).
    final class Application: Sendable {
        let count: Int
        let serverContext: TLSContext?
        let sent = Atomic<Int>(0)
        let accepted = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        let errors = LockedValue<[AMQPError]>([])
        let transports = LockedValue<[SASLTransport]>([])
        let listener = LockedValue<ProactorListener?>(nil)

        init(count: Int, serverContext: TLSContext? = nil) {
            self.count = count
            self.serverContext = serverContext
        }

        func handle(_ event: ProactorBatchEvent, _ batch: ProactorBatch) {
            switch event {
            case .proactor(.listenerAccept(let l)):
                do {
                    try l.accept(configuration: DriverConfiguration(containerID: "swift-server"), tls: serverContext!)
                } catch {
                    errors.withLock { $0.append(AMQPError(condition: ProactorCondition.io, description: "\(error)")) }
                    l.refuse()
                }
            case .amqp(let e):
                guard let driver = batch.driver else { return }
                amqp(e, driver)
            default:
                break
            }
        }

        private func amqp(_ e: AMQPEvent, _ driver: ConnectionDriver) {
            switch e {
            case .connectionInit(let c) where driver.mode == .client:
                c.open()
                let s = c.session()
                s.begin()
                s.sender(name: "swift-sender", target: "q").attach()
                let r = s.receiver(name: "swift-receiver", source: "q")
                r.attach()
                r.flow(credit: UInt32(count))
            case .connectionRemoteOpen(let c):
                if driver.mode == .server { transports.withLock { $0.append(driver.saslTransport) } }
                if c.localState == .uninitialized { c.open() }
            case .sessionRemoteBegin(let s):
                if s.localState == .uninitialized { s.begin() }
            case .linkRemoteOpen(let l):
                if l.localState == .uninitialized {
                    l.localSource = l.remoteAttach?.source
                    l.localTarget = l.remoteAttach?.target?.target
                    l.attach()
                    if l.role == .receiver { l.flow(credit: UInt32(count)) }
                }
            case .linkFlow(let l) where l.role == .sender:
                while l.credit > UInt32(l.queued) && sent.load(ordering: .relaxed) < count {
                    let i = sent.add(1, ordering: .relaxed).newValue
                    l.send(Message(value: .string("swift \(i)")))
                }
            case .delivery(let d) where d.link.role == .sender && d.remotelySettled:
                if d.remoteState == .accepted, accepted.add(1, ordering: .relaxed).newValue == count { closeIfDone(d.link.session.connection, driver) }
            case .delivery(let d) where d.link.role == .receiver && !d.isPartial && !d.locallySettled:
                let body = try? d.message().body
                guard case .value(.string(let text))? = body, text.hasPrefix("proton ") else {
                    errors.withLock { $0.append(AMQPError(condition: ErrorCondition.decodeError, description: "not Proton's message: \(String(describing: body))")) }
                    return
                }
                d.accept()
                if received.add(1, ordering: .relaxed).newValue == count { closeIfDone(d.link.session.connection, driver) }
            case .connectionRemoteClose(let c):
                if c.localState != .closed { c.close() }
            case .transportError(let error):
                errors.withLock { $0.append(error) }
            case .transportClosed where driver.mode == .server:
                listener.withLock { $0?.close() }
            default:
                break
            }
        }

        private func closeIfDone(_ c: Connection, _ driver: ConnectionDriver) {
            if driver.mode == .client && accepted.load(ordering: .relaxed) == count && received.load(ordering: .relaxed) == count { c.close() }
        }
    }

    /// `proton_tls_peer.py` under ``ProtonPython/path``.
    final class Peer {
        let process = Process()
        let stdout = Pipe()
        let stderr = Pipe()
        private var pending = Data()

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: ProtonPython.path)
            process.arguments = [ProtonTLSInteropTests.script] + arguments
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
        }

        /// The first line the peer prints (its port), within 10 s.
        func firstLine() throws -> String {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    return line
                }
                let data = stdout.fileHandleForReading.availableData
                if data.isEmpty { break }
                pending.append(data)
            }
            throw Prerequisite.missing("the Proton peer printed no port: \(String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self))")
        }

        /// Waits (10 s at most) for the peer's verdict.
        func finish() -> (status: Int32, output: String, errors: String) {
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let output = pending + stdout.fileHandleForReading.readDataToEndOfFile()
            let errors = stderr.fileHandleForReading.readDataToEndOfFile()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
        }

        func stop() {
            if process.isRunning { process.terminate() }
        }
    }
}

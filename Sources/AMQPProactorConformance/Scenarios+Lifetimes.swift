import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Connection lifetimes: ticks, idle peers, disconnect, release, and peers that misbehave at the
// socket level.
extension ProactorConformance {
    /// Two connected drivers with 1 s idle timeouts, silent for 2.5 s: heartbeats keep them open.
    static var heartbeatsKeepAQuietConnection: ConformanceScenario {
        ConformanceScenario(name: "heartbeats keep a quiet connection open") { h in
            let config = { var c = DriverConfiguration(containerID: "quiet"); c.idleTimeout = 1000; return c }()
            let client = Outcome(), server = Outcome()
            let openedAt = LockedValue<ContinuousClock.Instant?>(nil)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    _ = h.proactor.connect(to: address(l.port), configuration: config)
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: config)
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)) where batch.driver?.mode == .server:
                    c.open()
                case .amqp(.connectionRemoteOpen) where batch.driver?.mode == .client:
                    openedAt.withLock { $0 = .now }
                    h.proactor.setTimeout(.milliseconds(2500))
                case .proactor(.timeout):
                    // Still open after 2.5 quiet seconds: close now, from the client's batch.
                    ListenerRegistry.closeAll(h)
                    h.proactor.disconnect(AMQPError(condition: ErrorCondition.connectionForced, description: "done"))
                default: break
                }
                (batch.driver?.mode == .client ? client : server).record(event)
            }
            let errors = client.errors.withLock { $0 } + server.errors.withLock { $0 }
            h.check(errors.allSatisfy { $0.description == "done" }, "only the final disconnect closed them: \(errors)")
            h.check(openedAt.withLock { $0 } != nil, "the connection opened")
        }
    }

    /// A raw peer that sends the AMQP header and an open, then nothing: our 300 ms idle timeout
    /// closes it with amqp:resource-limit-exceeded.
    static var idleTimeoutClosesASilentPeer: ConformanceScenario {
        ConformanceScenario(name: "the idle timeout closes a silent peer") { h in
            let config = { var c = DriverConfiguration(containerID: "watchful"); c.idleTimeout = 300; return c }()
            let server = Outcome()
            let peer = LockedValue<RawPeer?>(nil)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, _ in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    peer.withLock { $0 = RawPeer.connect(port: l.port, send: RawPeer.headerAndOpen) }
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: config)
                case .amqp(.connectionRemoteOpen(let c)):
                    c.open()
                case .amqp(.transportClosed):
                    ListenerRegistry.closeAll(h)
                default: break
                }
                server.record(event)
            }
            peer.withLock { $0?.close() }
            let errors = server.errors.withLock { $0 }
            h.check(errors.map(\.condition) == [ErrorCondition.resourceLimitExceeded], "errors: \(errors)")
            h.check(errors.first?.description == "no frames from the peer for 300 ms", "error: \(errors)")
        }
    }

    /// disconnect() with connections and a listener open: every connection reaches
    /// transport-closed with the error, the listener closes, inactive comes once.
    static var disconnect: ConformanceScenario {
        ConformanceScenario(name: "disconnect closes everything, then inactive once") { h in
            let clients = 5
            let opened = Atomic<Int>(0)
            let errors = LockedValue<[AMQPError]>([])
            let listenerClosed = Atomic<Int>(0)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    for i in 0..<clients { _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c\(i)")) }
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .proactor(.listenerClose):
                    listenerClosed.add(1, ordering: .relaxed)
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)) where batch.driver?.mode == .server:
                    c.open()
                case .amqp(.connectionRemoteOpen) where batch.driver?.mode == .client:
                    if opened.add(1, ordering: .relaxed).newValue == clients {
                        h.proactor.disconnect(AMQPError(condition: ErrorCondition.connectionForced, description: "shutting down"))
                    }
                case .amqp(.transportError(let e)):
                    errors.withLock { $0.append(e) }
                default: break
                }
            }
            h.check(h.grammar.connections == 2 * clients, "connections: \(h.grammar.connections)")
            h.check(listenerClosed.load(ordering: .relaxed) == 1, "listener-close events")
            h.check(h.grammar.inactiveCount == 1, "inactive events: \(h.grammar.inactiveCount)")
            let forced = errors.withLock { $0 }.filter { $0.description == "shutting down" }.count
            h.check(forced >= clients, "connections closed with the disconnect's error: \(forced)")
        }
    }

    /// release() in a batch: the driver and socket come back; no more events for it.
    static var release: ConformanceScenario {
        ConformanceScenario(name: "release hands back the driver and the socket") { h in
            let afterRelease = Atomic<Int>(0)
            let releasedID = LockedValue<ObjectIdentifier?>(nil)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                if let d = batch.driver, releasedID.withLock({ $0 }) == ObjectIdentifier(d) { afterRelease.add(1, ordering: .relaxed) }
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c"))
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)) where batch.driver?.mode == .server:
                    c.open()
                case .amqp(.connectionRemoteOpen) where batch.driver?.mode == .client:
                    guard let (driver, socket) = h.proactor.release(batch) else { return h.fail("release returned nil") }
                    releasedID.withLock { $0 = ObjectIdentifier(driver) }
                    h.noteReleased(driver)
                    h.check(socket != nil, "the socket came back")
                    // The application owns the socket now: closing it ends the server's side.
                    try? socket?.close()
                case .amqp(.transportClosed) where batch.driver?.mode == .server:
                    ListenerRegistry.closeAll(h)
                default: break
                }
            }
            // The batch in which it was released is the last: no event of a later batch.
            h.check(afterRelease.load(ordering: .relaxed) <= 10, "events seen for the released connection: \(afterRelease.load(ordering: .relaxed))")
            h.check(h.grammar.connections == 2, "connections: \(h.grammar.connections)")
        }
    }

    /// A probe that connects and closes without a byte: the accepted connection just ends.
    static var probeWithoutAByte: ConformanceScenario {
        ConformanceScenario(name: "a probe that connects and closes without a byte") { h in
            let server = Outcome()
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, _ in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    RawPeer.connect(port: l.port, send: [])?.close()
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .amqp(.transportClosed):
                    ListenerRegistry.closeAll(h)
                default: break
                }
                server.record(event)
            }
            h.check(server.closed.load(ordering: .relaxed) == 1, "transport-closed")
            h.check(server.errors.withLock { $0 }.isEmpty, "a probe is no error: \(server.errors.withLock { $0 })")
        }
    }

    /// A peer that takes a 10 MB message and resets the connection after the first megabyte:
    /// a transport error mid-transfer, no SIGPIPE, and the process goes on.
    static var peerVanishesMidTransfer: ConformanceScenario {
        ConformanceScenario(name: "a peer that resets mid-transfer") { h in
            let client = Outcome()
            let peerGot = Atomic<Int>(0)
            let sentBig = Atomic<Bool>(false)
            guard let (listening, port) = RawPeer.listen() else { return h.fail("could not listen") }
            // The peer: a driver on a blocking socket that answers in kind, grants credit, reads
            // a megabyte of the transfer, then resets.
            let thread = try? SystemThread.spawn(name: "resetter") {
                guard let s = try? listening.accept() else { return }
                let driver = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "resetter"))
                while peerGot.load(ordering: .relaxed) < 1 << 20 {
                    let buffer = driver.readBuffer()
                    guard let n = try? s.read(into: buffer), n > 0 else { break }
                    peerGot.add(n, ordering: .relaxed)
                    driver.readDone(n)
                    while let e = driver.nextEvent() {
                        switch e {
                        case .connectionRemoteOpen(let c): c.open()
                        case .sessionRemoteBegin(let session): session.begin()
                        case .linkRemoteOpen(let l):
                            l.localTarget = l.remoteAttach?.target?.target
                            l.localSource = l.remoteAttach?.source
                            l.attach()
                            l.flow(credit: 10)
                        default: break
                        }
                    }
                    let out = driver.pendingOutput
                    if !out.isEmpty, let written = out.withUnsafeBytes({ try? s.send($0) }) { driver.writeDone(written) }
                }
                RawPeer.reset(s)
            }
            h.proactor.connect(to: "127.0.0.1:\(port)", configuration: DriverConfiguration(containerID: "c"))
            h.run { event, _ in
                switch event {
                case .amqp(.connectionInit(let c)):
                    c.open()
                    let s = c.session()
                    s.begin()
                    s.sender(name: "big", target: "q").attach()
                case .amqp(.linkFlow(let l)) where l.credit > 0 && !sentBig.exchange(true, ordering: .relaxed):
                    l.send([UInt8](repeating: 7, count: 10 << 20))
                default: break
                }
                client.record(event)
            }
            thread?.join()
            try? listening.close()
            h.check(sentBig.load(ordering: .relaxed), "the message was sent")
            h.check(peerGot.load(ordering: .relaxed) >= 1 << 20, "the peer read \(peerGot.load(ordering: .relaxed)) bytes before the reset")
            h.check(client.closed.load(ordering: .relaxed) == 1, "transport-closed")
            let errors = client.errors.withLock { $0 }
            h.check(errors.map(\.condition) == [ProactorCondition.io], "one IO error: \(errors)")
        }
    }

    /// A peer that half-closes (shuts its write side) and never reads: the connection ends, and
    /// the proactor does not spin meanwhile (CPU time is measured).
    static var halfOpenPeer: ConformanceScenario {
        ConformanceScenario(name: "a half-open peer causes no busy loop") { h in
            let server = Outcome()
            let peer = LockedValue<RawPeer?>(nil)
            // CPU is counted over the quiet part only, from the peer's open (everything legitimate
            // is done by then) to the timeout: process-wide time would also count the set-up, which
            // a sanitizer makes slow enough to look like a loop.
            let quietFrom = LockedValue<(cpu: Duration, wall: ContinuousClock.Instant)?>(nil)
            let quiet = LockedValue<(cpu: Duration, wall: Duration)?>(nil)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, _ in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    let p = RawPeer.connect(port: l.port, send: RawPeer.headerAndOpen)
                    p?.shutdownWrite()
                    peer.withLock { $0 = p }
                    h.proactor.setTimeout(.milliseconds(500))
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .amqp(.connectionRemoteOpen):
                    quietFrom.withLock { $0 = (RawPeer.cpuTime(), ContinuousClock.now) }
                case .proactor(.timeout):
                    if let from = quietFrom.withLock({ $0 }) {
                        quiet.withLock { $0 = (RawPeer.cpuTime() - from.cpu, ContinuousClock.now - from.wall) }
                    }
                    ListenerRegistry.closeAll(h)
                default: break
                }
                server.record(event)
            }
            peer.withLock { $0?.close() }
            h.check(server.closed.load(ordering: .relaxed) == 1, "transport-closed: \(server.closed.load(ordering: .relaxed))")
            if let (cpu, wall) = quiet.withLock({ $0 }) {
                h.check(wall > .milliseconds(200), "the quiet part lasted only \(wall)")
                h.check(cpu < wall / 2, "CPU time \(cpu) over \(wall) of wall time after the open: a busy loop?")
            } else {
                h.check(false, "the peer's open never arrived")
            }
        }
    }
}

/// A peer on a plain blocking socket, for what a driver never does.
struct RawPeer: Sendable {
    let socket: Socket

    /// The AMQP header and an open, as a silent client would start.
    static var headerAndOpen: [UInt8] {
        // "AMQP" 0 1 0 0, then an open frame for container "raw": size, doff 2, type 0, channel 0,
        // described list 0x10 of one string.
        let body: [UInt8] = [0x00, 0x53, 0x10, 0xc0, 0x06, 0x01, 0xa1, 0x03] + Array("raw".utf8)
        let size = UInt32(8 + body.count)
        return [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0,
                UInt8(size >> 24), UInt8((size >> 16) & 0xff), UInt8((size >> 8) & 0xff), UInt8(size & 0xff), 2, 0, 0, 0] + body
    }

    static func connect(port: UInt16?, send bytes: [UInt8]) -> RawPeer? {
        guard let port, let s = try? Socket.connect(host: "127.0.0.1", port: "\(port)") else { return nil }
        if !bytes.isEmpty { _ = bytes.withUnsafeBytes { try? s.send($0) } }
        return RawPeer(socket: s)
    }

    static func listen() -> (Socket, UInt16)? {
        guard let s = try? Socket.open(.ipv4, nonBlocking: false),
              let a = try? SocketAddress.resolve(host: "127.0.0.1", port: "0").first else { return nil }
        do {
            try s.bind(to: a)
            try s.listen(backlog: 4)
            return (s, try s.localAddress().port ?? 0)
        } catch {
            try? s.close()
            return nil
        }
    }

    /// Closes with SO_LINGER 0: the peer gets a reset, not a FIN.
    static func reset(_ s: Socket) {
        try? s.setLinger(seconds: 0)
        try? s.close()
    }

    func shutdownWrite() { try? socket.shutdown(.write) }
    func close() { try? socket.close() }

    /// This process's user and system CPU time.
    static func cpuTime() -> Duration {
        (try? ResourceUsage.processorTime()) ?? .zero
    }
}

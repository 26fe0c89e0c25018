import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Load: large messages, many connections, and the threaderciser.
extension ProactorConformance {
    /// 10 MB messages both ways: from a client to a server and back from the server's sender.
    static var largeMessages: ConformanceScenario {
        ConformanceScenario(name: "10 MB messages both ways") { h in
            let size = 10 << 20
            let app = MessagingApplication(count: 1, size: size)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run(timeout: .seconds(120)) { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    // One client sends a 10 MB message, one receives one.
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "sender"))
                    _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "receiver"))
                }
                app.handle(event, batch, perClient: 1) {
                    if app.closedConnections.load(ordering: .relaxed) == 2 { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(app.received.load(ordering: .relaxed) == 1, "the server received \(app.received.load(ordering: .relaxed)) of 1")
            h.check(app.accepted.load(ordering: .relaxed) == 1, "the sender's message accepted: \(app.accepted.load(ordering: .relaxed))")
            h.check(app.clientReceived.load(ordering: .relaxed) == 1, "the receiver got \(app.clientReceived.load(ordering: .relaxed)) of 1")
            h.check(app.errors.withLock { $0.isEmpty }, "errors: \(app.errors.withLock { $0 })")
        }
    }

    /// 1000 connections at once (2000 sockets, the limit raised if need be), each sending one
    /// message, all open before any closes.
    static var manyConnections: ConformanceScenario {
        ConformanceScenario(name: "1000 concurrent connections") { h in
            let clients = 1000
            if let (soft, hard) = try? ResourceLimit.openFiles(), soft < 4096 {
                try? ResourceLimit.setOpenFiles(soft: min(hard, 8192), hard: hard)
            }
            let app = MessagingApplication(count: clients, size: 100)
            let opened = Atomic<Int>(0)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 1024)
            h.run(threads: 2, timeout: .seconds(120)) { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    for i in 0..<clients { _ = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c\(i)")) }
                }
                if case .amqp(.connectionRemoteOpen) = event, batch.driver?.mode == .client {
                    _ = opened.add(1, ordering: .relaxed)
                }
                app.handle(event, batch, perClient: 1) {
                    if app.closedConnections.load(ordering: .relaxed) == clients { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(opened.load(ordering: .relaxed) == clients, "opened \(opened.load(ordering: .relaxed)) of \(clients)")
            h.check(app.accepted.load(ordering: .relaxed) == clients, "accepted \(app.accepted.load(ordering: .relaxed)) of \(clients)")
            h.check(h.grammar.connections == 2 * clients, "connections: \(h.grammar.connections)")
        }
    }

    /// The threaderciser (Proton's `threaderciser.c`): half the threads do random connects,
    /// listens, closes, wakes and timeouts; half run the event loop. A per-connection
    /// in-handler flag (the grammar's) proves no two threads hold one connection's batch. It ends
    /// with disconnect, inactive, interrupt.
    static var stress: ConformanceScenario {
        ConformanceScenario(name: "threaderciser: random actions from many threads") { h in
            let actors = 2, rounds = 2000
            let listeners = LockedValue<[ProactorListener]>([])
            let connections = LockedValue<[ProactorConnection]>([])
            let ports = LockedValue<[UInt16]>([])
            let wakes = Atomic<Int>(0)
            let finished = Atomic<Int>(0)
            var actorThreads: [SystemThread] = []
            for a in 0..<actors {
                if let t = try? SystemThread.spawn(name: "actor-\(a)", {
                    var rng = UInt64(a + 7) &* 0x9E37_79B9_7F4A_7C15
                    func next(_ n: Int) -> Int { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return Int(rng % UInt64(n)) }
                    for _ in 0..<rounds {
                        switch next(6) {
                        case 0:
                            let l = h.proactor.listen(on: "127.0.0.1:0", backlog: 8)
                            listeners.withLock { $0.append(l) }
                            if let p = l.port { ports.withLock { $0.append(p) } }
                        case 1:
                            let port = ports.withLock { $0.isEmpty ? nil : $0[next($0.count)] }
                            if let port {
                                let c = h.proactor.connect(to: "127.0.0.1:\(port)", configuration: DriverConfiguration(containerID: "x"))
                                connections.withLock { $0.append(c) }
                            }
                        case 2:
                            let l = listeners.withLock { $0.isEmpty ? nil : $0.remove(at: next($0.count)) }
                            if let l {
                                ports.withLock { p in p.removeAll { $0 == l.port } }
                                l.close()
                            }
                        case 3, 4:
                            let c = connections.withLock { $0.isEmpty ? nil : $0[next($0.count)] }
                            if c?.wake() == true { wakes.add(1, ordering: .relaxed) }
                        default:
                            h.proactor.setTimeout(.milliseconds(next(20)))
                        }
                    }
                    // The last actor to finish shuts everything down.
                    if finished.add(1, ordering: .relaxed).newValue == actors {
                        h.proactor.disconnect(nil)
                    }
                }) { actorThreads.append(t) }
            }
            h.run(threads: 2, timeout: .seconds(60)) { event, batch in
                switch event {
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)):
                    if c.localState == .uninitialized { c.open() }
                    // Some connections close themselves; the rest wait for the disconnect.
                    if batch.driver?.mode == .client && c.remoteOpen?.containerID == "s" && wakes.load(ordering: .relaxed) % 3 == 0 { c.close() }
                case .amqp(.connectionRemoteClose(let c)):
                    c.close()
                case .amqp(.connectionWake(let c)):
                    if c.localState == .active && wakes.load(ordering: .relaxed) % 5 == 0 { c.close() }
                default: break
                }
            }
            for t in actorThreads { t.join() }
            h.check(finished.load(ordering: .relaxed) == actors, "actors finished")
            // After the run: an interrupt still reaches a wait, and the proactor is idle.
            h.proactor.interrupt()
            let batch = h.proactor.wait()
            if case .proactor = batch.kind {} else { h.fail("after the run, wait() returned a non-proactor batch") }
            var sawInterrupt = false
            while let e = batch.next() { if case .proactor(.interrupt) = e { sawInterrupt = true } }
            h.proactor.done(batch)
            h.check(sawInterrupt, "the final interrupt")
        }
    }
}

import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Descriptors: running out of them, and reusing their numbers.
extension ProactorConformance {
    /// With no descriptor left, accepting fails (`EMFILE`): the listener must back off, not spin,
    /// and accept again once descriptors are freed.
    static var outOfDescriptors: ConformanceScenario {
        ConformanceScenario(name: "out of descriptors, the listener recovers") { h in
            guard let (soft, hard) = try? ResourceLimit.openFiles(),
                  let target = try? SocketAddress.resolve(host: "127.0.0.1", port: "1").first else { return h.fail("no limits") }
            defer { try? ResourceLimit.setOpenFiles(soft: soft, hard: hard) }
            let listener = h.proactor.listen(on: "127.0.0.1:0", backlog: 8)
            guard let port = listener.port, let address = try? SocketAddress.resolve(host: "127.0.0.1", port: "\(port)").first else {
                return h.fail("the listener did not open")
            }
            _ = target
            // Exactly three descriptors left: the clients' sockets take them, so the proactor's
            // accepts find none. The sockets are made before any connects, so no accept can slip in.
            // Three probes take the three lowest free numbers (the process may have holes below
            // its highest descriptor, left by earlier tests); the limit ends just above them.
            var probes: [EventDescriptor] = []
            for _ in 0..<3 { if let p = try? EventDescriptor.create() { probes.append(p) } }
            guard probes.count == 3 else { return h.fail("no descriptors to probe with") }
            let highest = UInt64(probes.map(\.descriptor.rawValue).max() ?? 0)
            for p in probes { try? p.close() }
            do { try ResourceLimit.setOpenFiles(soft: highest + 1, hard: hard) } catch { return h.fail("cannot lower the limit: \(error)") }
            var clients: [Socket] = []
            for _ in 0..<3 { if let s = try? Socket.open(address.family, nonBlocking: false) { clients.append(s) } }
            h.check(clients.count == 3, "client sockets: \(clients.count)")
            for c in clients {
                try? c.connect(to: address)
                _ = RawPeer.headerAndOpen.withUnsafeBytes { try? c.send($0) }
            }
            let accepts = Atomic<Int>(0)
            let acceptsBeforeRelief = Atomic<Int>(0)
            let relieved = Atomic<Bool>(false)
            let opens = Atomic<Int>(0)
            let held = LockedValue(clients)
            let starvedCPU = LockedValue<Duration>(.zero)
            let cpuBefore = RawPeer.cpuTime()
            h.proactor.setTimeout(.milliseconds(300))
            h.run { event, _ in
                switch event {
                case .proactor(.timeout) where !relieved.load(ordering: .relaxed):
                    // 300 ms without a descriptor: free one (the first client leaves) and restore
                    // the limit; the listener must pick the queue up again.
                    relieved.store(true, ordering: .relaxed)
                    starvedCPU.withLock { $0 = RawPeer.cpuTime() - cpuBefore }
                    held.withLock { c in try? c.first?.close(); c.removeFirst() }
                    try? ResourceLimit.setOpenFiles(soft: soft, hard: hard)
                    h.proactor.setTimeout(.seconds(3))
                case .proactor(.timeout):
                    // Everything accepted and answered by now: end the scenario.
                    held.withLock { c in for s in c { try? s.close() }; c = [] }
                    listener.close()
                case .proactor(.listenerAccept(let l)):
                    accepts.add(1, ordering: .relaxed)
                    if !relieved.load(ordering: .relaxed) { acceptsBeforeRelief.add(1, ordering: .relaxed) }
                    l.accept(configuration: DriverConfiguration(containerID: "s"))
                case .amqp(.connectionRemoteOpen(let c)):
                    opens.add(1, ordering: .relaxed)
                    c.open()
                default: break
                }
            }
            h.check(acceptsBeforeRelief.load(ordering: .relaxed) == 0, "accepted \(acceptsBeforeRelief.load(ordering: .relaxed)) with no descriptor left")
            h.check(accepts.load(ordering: .relaxed) == 3, "accepted \(accepts.load(ordering: .relaxed)) of 3 after the relief")
            h.check(opens.load(ordering: .relaxed) == 3, "opens read: \(opens.load(ordering: .relaxed)) of 3")
            let cpu = starvedCPU.withLock { $0 }
            h.check(cpu < .milliseconds(200), "CPU time \(cpu) in 300 ms without descriptors: is the listener spinning?")
        }
    }

    /// Twenty connections one after another, each opening, sending one message and closing: each
    /// new socket reuses the numbers the last one freed, and gets none of its events (the grammar
    /// check would see an event after transport-closed).
    static var descriptorReuse: ConformanceScenario {
        ConformanceScenario(name: "descriptor numbers reused at once") { h in
            let rounds = 20
            let app = MessagingApplication(count: rounds, size: 10)
            let started = Atomic<Int>(1)
            let port = LockedValue<UInt16?>(nil)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    port.withLock { $0 = l.port }
                    h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c0"))
                }
                app.handle(event, batch, perClient: 1) {
                    // The next client only once the last one is closed, so its descriptors are free.
                    let n = started.add(1, ordering: .relaxed).newValue
                    if n <= rounds {
                        h.proactor.connect(to: address(port.withLock { $0 }), configuration: DriverConfiguration(containerID: "c\(n)"))
                    } else {
                        ListenerRegistry.closeAll(h)
                    }
                }
            }
            h.check(app.accepted.load(ordering: .relaxed) == rounds, "accepted \(app.accepted.load(ordering: .relaxed)) of \(rounds)")
            h.check(h.grammar.connections == 2 * rounds, "connections: \(h.grammar.connections)")
        }
    }
}

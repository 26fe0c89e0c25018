import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

// Wakes, interrupts and timeouts: what other threads (and signal handlers) ask of the proactor.
extension ProactorConformance {
    /// M foreign threads wake N connections K times each. Each wake bumps the connection's
    /// sequence number first; a wake event reads it. At the end every connection must have seen
    /// its last number: no wake lost, however they coalesced.
    static var wakesFromForeignThreads: ConformanceScenario {
        ConformanceScenario(name: "wakes from foreign threads, none lost") { h in
            let connections = 8, wakers = 4, rounds = 500
            let requested = (0..<connections).map { _ in Counter() }
            let seen = (0..<connections).map { _ in Counter() }
            let wakeEvents = Atomic<Int>(0)
            let handles = LockedValue<[ProactorConnection]>([])
            let index = LockedValue<[ObjectIdentifier: Int]>([:])
            let opened = Atomic<Int>(0)
            let listener = LockedValue<ProactorListener?>(nil)
            let wakersDone = Atomic<Bool>(false)
            let clientsClosed = Atomic<Int>(0)
            let threads = LockedValue<[SystemThread]>([])

            let finishedWakers = Atomic<Int>(0)
            @Sendable func startWakers() {
                let all = handles.withLock { $0 }
                for w in 0..<wakers {
                    if let t = try? SystemThread.spawn(name: "waker-\(w)", {
                        var rng = UInt64(w + 1) &* 0x9E37_79B9_7F4A_7C15
                        for _ in 0..<(rounds * connections / wakers) {
                            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                            let i = Int(rng % UInt64(connections))
                            requested[i].value.add(1, ordering: .sequentiallyConsistent)
                            if !all[i].wake() { h.fail("wake of a live connection returned false") }
                        }
                        // The last waker done: one more wake per connection, which closes it.
                        if finishedWakers.add(1, ordering: .sequentiallyConsistent).newValue == wakers {
                            wakersDone.store(true, ordering: .sequentiallyConsistent)
                            for c in all { _ = c.wake() }
                        }
                    }) { threads.withLock { $0.append(t) } }
                }
            }

            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run(threads: 3) { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    listener.withLock { $0 = l }
                    for i in 0..<connections {
                        let c = h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "c\(i)"))
                        handles.withLock { $0.append(c) }
                    }
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "server"))
                case .amqp(.connectionInit(let c)) where batch.driver?.mode == .client:
                    index.withLock { $0[ObjectIdentifier(c)] = $0.count }
                    c.open()
                case .amqp(.connectionRemoteOpen(let c)) where batch.driver?.mode == .server:
                    c.open()
                case .amqp(.connectionRemoteOpen) where batch.driver?.mode == .client:
                    if opened.add(1, ordering: .relaxed).newValue == connections { startWakers() }
                case .amqp(.connectionWake(let c)):
                    wakeEvents.add(1, ordering: .relaxed)
                    guard let i = index.withLock({ $0[ObjectIdentifier(c)] }) else { h.fail("wake for an unknown connection"); return }
                    let now = requested[i].value.load(ordering: .sequentiallyConsistent)
                    if now < seen[i].value.load(ordering: .relaxed) { h.fail("connection \(i) went back from \(seen[i].value.load(ordering: .relaxed)) to \(now)") }
                    seen[i].value.store(now, ordering: .relaxed)
                    if wakersDone.load(ordering: .sequentiallyConsistent) && c.localState == .active { c.close() }
                case .amqp(.connectionRemoteClose(let c)):
                    c.close()
                case .amqp(.transportClosed) where batch.driver?.mode == .client:
                    if clientsClosed.add(1, ordering: .relaxed).newValue == connections { listener.withLock { $0?.close() } }
                default: break
                }
            }
            for t in threads.withLock({ $0 }) { t.join() }
            for i in 0..<connections {
                let r = requested[i].value.load(ordering: .relaxed), s = seen[i].value.load(ordering: .relaxed)
                h.check(r == s, "connection \(i): \(r) wakes asked, the last wake event saw \(s)")
            }
            h.check(requested.map { $0.value.load(ordering: .relaxed) }.reduce(0, +) == rounds * connections, "wakes asked")
            h.check(wakeEvents.load(ordering: .relaxed) >= connections, "wake events: \(wakeEvents.load(ordering: .relaxed))")
            // Waking a connection that is gone does nothing and says so.
            for c in handles.withLock({ $0 }) { h.check(!c.wake(), "wake after the connection is gone returned true") }
        }
    }

    /// interrupt() from another thread, and from a signal handler, each reach exactly one wait.
    static var interrupt: ConformanceScenario {
        ConformanceScenario(name: "interrupt, also from a signal handler") { h in
            let interrupts = Atomic<Int>(0)
            let timeouts = Atomic<Int>(0)
            h.proactor.setTimeout(.milliseconds(20))
            h.run(threads: 2) { event, _ in
                switch event {
                case .proactor(.timeout) where timeouts.add(1, ordering: .relaxed).newValue == 1:
                    // A long timeout keeps the proactor active until all four have come.
                    h.proactor.setTimeout(.seconds(60))
                    // Three from threads, one from a signal handler.
                    for _ in 0..<3 { h.proactor.interrupt() }
                    SignalInterrupt.raise(on: h.proactor)
                case .proactor(.interrupt):
                    if interrupts.add(1, ordering: .relaxed).newValue == 4 { h.proactor.cancelTimeout() }
                default: break
                }
            }
            h.check(interrupts.load(ordering: .relaxed) == 4, "interrupt events: \(interrupts.load(ordering: .relaxed)) (4 asked)")
        }
    }

    /// The proactor timeout: set, replaced by a later one, moved earlier, cancelled.
    static var timeout: ConformanceScenario {
        ConformanceScenario(name: "timeout set, replaced, moved earlier, cancelled") { h in
            let p = h.proactor
            let fired = LockedValue<[Duration]>([])
            let start = ContinuousClock.now
            p.setTimeout(.seconds(60))
            p.setTimeout(.milliseconds(300))   // replaced: earlier
            p.setTimeout(.milliseconds(100))   // moved earlier again
            h.run(threads: 2) { event, _ in
                guard case .proactor(.timeout) = event else { return }
                let n = fired.withLock { f in f.append(ContinuousClock.now - start); return f.count }
                if n == 1 {
                    // Set, then cancelled: no event; the later one fires.
                    p.setTimeout(.milliseconds(50))
                    p.cancelTimeout()
                    p.setTimeout(.milliseconds(150))
                }
            }
            let got = fired.withLock { $0 }
            h.check(got.count == 2, "timeout events: \(got)")
            if got.count == 2 {
                h.check(got[0] >= .milliseconds(100) && got[0] < .seconds(10), "first timeout after \(got[0]) (asked 100 ms)")
                h.check(got[1] - got[0] >= .milliseconds(150), "second timeout \(got[1] - got[0]) after the first (asked 150 ms)")
            }
            h.check(h.grammar.inactiveCount == 1, "inactive events: \(h.grammar.inactiveCount)")
        }
    }
}

/// Sends SIGUSR1 to this process with a handler that calls `interrupt()`: the proof that
/// interrupt is async-signal-safe.
enum SignalInterrupt {
    // Read by the signal handler, which can capture nothing; set before the signal is raised.
    nonisolated(unsafe) static var target: (any Proactor)?

    static func raise(on proactor: any Proactor) {
        target = proactor
        try? Signal.user1.setHandler { _ in SignalInterrupt.target?.interrupt() }
        // To the process, not this thread: a thread that blocks the signal (test runners' may)
        // leaves it to one that does not.
        try? Signal.user1.sendToProcess()
    }
}

/// An atomic counter that can live in an array (an `Atomic` alone cannot be copied into one).
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

import AMQPProactor
import AMQPProactorConformance
import AMQPSystem
import Glibc
import Synchronization
import Testing
@testable import AMQPURing

/// A conformance scenario by name; the suite's own, so its assertions are the suite's.
func scenario(_ name: String) -> ConformanceScenario {
    guard let s = ProactorConformance.scenarios.first(where: { $0.name == name }) else {
        fatalError("no conformance scenario named \(name)")
    }
    return s
}

/// Runs `name` on a proactor made with `configuration`; returns the failures and the proactor's
/// counts afterwards.
func run(_ name: String, _ configuration: URingConfiguration,
         during: (@Sendable (URingProactor) -> Void)? = nil) -> ([String], URingStatistics) {
    let made = LockedValue<URingProactor?>(nil)
    let backend = ProactorBackend(name: "io_uring") {
        let p = try URingProactor(configuration: configuration)
        made.withLock { $0 = p }
        return p
    }
    let stop = Atomic(false)
    var helper: SystemThread?
    if let during {
        helper = try? SystemThread.spawn(name: "helper") {
            while !stop.load(ordering: .acquiring) {
                if let p = made.withLock({ $0 }) { during(p) }
                usleep(500)
            }
        }
    }
    let failures = scenario(name).run(on: backend)
    stop.store(true, ordering: .releasing)
    helper?.join()
    let stats = made.withLock { $0 }?.statistics ?? URingStatistics()
    made.withLock { $0 = nil }
    return (failures, stats)
}


/// One end of a socket pair with a slot on `proactor`'s ring and a multishot receive submitted;
/// returns its operations, that end (kept open by the caller) and the other end.
func armedReceive(on proactor: URingProactor, taskID: UInt64) throws -> (ConnectionOperations, Socket, Socket) {
    let (mine, peer) = try Socket.pair()
    let c = ConnectionOperations(descriptor: mine.descriptor.rawValue, taskID: taskID)
    proactor.lock.withLock {
        proactor.slots.insert(c)
        proactor.prepare(.receive(c))
        _ = try? proactor.ring.submit()
    }
    return (c, mine, peer)
}

/// Closes `c`'s socket as the proactor does and reaps until its slot is gone (or `deadline`);
/// returns how many slots are left.
func closeAndDrain(_ c: ConnectionOperations, on proactor: URingProactor, until deadline: ContinuousClock.Instant,
                   events: inout [ReadinessEvent]) -> Int {
    var closing: [CInt] = []
    proactor.lock.withLock { proactor.finish(c, .close, closing: &closing) }
    while proactor.lock.withLock({ proactor.slots.count }) > 0 && ContinuousClock.now < deadline {
        proactor.waitForIO(until: .now.advanced(by: .milliseconds(50)), into: &events)
    }
    return proactor.lock.withLock { proactor.slots.count }
}

/// The io_uring backend's own cases, beyond the conformance suite: the paths a ring takes
/// only when it is short of room, and the races of closing.
@Suite(.serialized, .enabled(if: URingSupport.runs, URingSupport.reason))
struct URingProactorTests {
    @Test func tinyCompletionQueueWithAThousandConnections() {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        configuration.submissionEntries = 4
        configuration.completionEntries = 4
        let (failures, stats) = run("1000 concurrent connections", configuration)
        #expect(failures.isEmpty, "\(failures)")
        // The kernel kept completions aside many times and none was lost (the scenario counts
        // every message and every close).
        #expect(stats.completionOverflows > 0)
        #expect(stats.staleCompletions == 0)
    }

    @Test func fourBufferRingCarriesTenMegabytesEachWay() {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        configuration.bufferCount = 4
        configuration.bufferSize = 4096
        let (failures, stats) = run("10 MB messages both ways", configuration)
        #expect(failures.isEmpty, "\(failures)")
        #expect(stats.starvedReceives > 0, "the 4-entry ring never ran dry")
    }

    /// The kernel finds the buffer ring empty (`ENOBUFS` ends the receive), and the buffers come
    /// back before that completion is seen: no later give-back would re-arm the receive, so
    /// seeing it must. Found by Benchmarks/proactor.sh with 4 buffers: the receiver stopped with
    /// 157,000 bytes in its socket.
    @Test func starvationSeenAfterTheBuffersCameBackRearmsTheReceive() throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        configuration.bufferCount = 1
        configuration.bufferSize = 16
        let proactor = try URingProactor(configuration: configuration)
        let (c, mine, peer) = try armedReceive(on: proactor, taskID: 9)
        defer { try? mine.close() }
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        func waitForCompletions() {
            while proactor.lock.withLock({ proactor.ring.readyCompletions }) == 0 && ContinuousClock.now < deadline { usleep(1000) }
        }
        // The one buffer fills, and its completion is taken: the connection holds the buffer.
        let first = [UInt8](repeating: 1, count: 16)
        _ = try first.withUnsafeBytes { try peer.send($0) }
        waitForCompletions()
        proactor.reapWithoutWaiting()
        #expect(proactor.lock.withLock { c.received.map(\.count) } == [16])
        // More arrives while the ring is empty: the kernel ends the receive with ENOBUFS...
        let second = [UInt8](repeating: 2, count: 10)
        _ = try second.withUnsafeBytes { try peer.send($0) }
        waitForCompletions()
        // ...and the connection gives its buffer back before that completion is looked at.
        proactor.lock.withLock {
            proactor.giveBack(c.received.map(\.id))
            c.received = []
        }
        proactor.reapWithoutWaiting()
        var state = proactor.lock.withLock { (proactor.counters.starvedReceives, c.starved, c.receiving) }
        #expect(state == (1, false, true), "starved receives, starved, receiving")
        // The re-armed receive takes the 10 bytes that waited in the socket.
        var events: [ReadinessEvent] = []
        while proactor.lock.withLock({ c.received.isEmpty }) && ContinuousClock.now < deadline {
            proactor.waitForIO(until: .now.advanced(by: .milliseconds(50)), into: &events)
        }
        let got = proactor.lock.withLock { c.received.first.map { Array(proactor.buffers.bytes(of: $0.id, length: $0.count)) } }
        #expect(got == second)
        state = proactor.lock.withLock { (proactor.counters.starvedReceives, c.starved, c.receiving) }
        #expect(state.0 == 1)
        try peer.close()
        #expect(closeAndDrain(c, on: proactor, until: deadline, events: &events) == 0)
    }

    @Test func forcedEndsOfMultishotReceivesLoseNoByte() {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        let (failures, stats) = run("10 MB messages both ways", configuration) { $0.forceEndOfReceives() }
        #expect(failures.isEmpty, "\(failures)")
        #expect(stats.receivesRearmed > 0, "no receive was ended")
    }

    @Test func cancellationThatFindsTheReceiveAlreadyDone() throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        let proactor = try URingProactor(configuration: configuration)
        let (c, mine, peer) = try armedReceive(on: proactor, taskID: 12345)
        // The receive completes (bytes, then end of input ends the multishot) in the kernel...
        let hello: [UInt8] = Array("hello".utf8)
        _ = try hello.withUnsafeBytes { try peer.send($0) }
        try peer.close()
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while proactor.lock.withLock({ proactor.ring.readyCompletions }) < 2 && ContinuousClock.now < deadline { usleep(1000) }
        // ...and only then is the socket closed, before those completions are reaped: the cancel
        // finds nothing, and the descriptor is closed only after the last completion.
        var closing: [CInt] = []
        proactor.lock.withLock { proactor.finish(c, .close, closing: &closing) }
        #expect(closing.isEmpty, "closed with a receive still counted in flight")
        var events: [ReadinessEvent] = []
        while proactor.lock.withLock({ proactor.slots.count }) > 0 && ContinuousClock.now < deadline {
            proactor.waitForIO(until: .now.advanced(by: .milliseconds(50)), into: &events)
        }
        #expect(proactor.lock.withLock { proactor.slots.count } == 0)
        #expect(events.isEmpty, "a closing socket's completions woke its task")
        #expect(proactor.statistics.cancelsFindingNothing == 1)
        // The descriptor is closed now: fcntl says EBADF.
        #expect(fcntl(mine.descriptor.rawValue, F_GETFD) == -1 && errno == EBADF)
    }
}

/// What the kernel does with an operation whose submitting thread has exited (pool threads come
/// and go; `get()` may be called from any thread), and that the proactor copes.
@Suite(.enabled(if: URingSupport.runs, URingSupport.reason))
struct URingThreadExitTests {
    @Test func aReceiveCancelledWithItsThreadIsRearmedAndLosesNothing() throws {
        var configuration = URingConfiguration()
        configuration.simulatedFailure = nil
        let proactor = try URingProactor(configuration: configuration)
        let (mine, peer) = try Socket.pair()
        let c = ConnectionOperations(descriptor: mine.descriptor.rawValue, taskID: 7)
        proactor.lock.withLock { proactor.slots.insert(c) }
        // The receive is submitted by a thread that exits at once (found in the table there, as
        // the socket's state is not Sendable).
        let submitter = try SystemThread.spawn(name: "submitter") {
            proactor.lock.withLock {
                for case let socket as ConnectionOperations in proactor.slots.all { proactor.prepare(.receive(socket)) }
                _ = try? proactor.ring.submit()
            }
        }
        submitter.join()
        let hi: [UInt8] = Array("hi".utf8)
        _ = try hi.withUnsafeBytes { try peer.send($0) }
        var events: [ReadinessEvent] = []
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while events.isEmpty && ContinuousClock.now < deadline {
            proactor.waitForIO(until: .now.advanced(by: .milliseconds(50)), into: &events)
        }
        // Linux cancels what an exiting thread submitted: the receive ends (ECANCELED) with no
        // byte taken, and the connection's task is told, so that its batch re-arms.
        #expect(events == [ReadinessEvent(token: 7, ready: .read)])
        var state = proactor.lock.withLock { (c.receiving, c.received.map(\.count), c.receiveError, proactor.counters.receivesRearmed) }
        #expect(state.0 == false && state.1 == [] && state.2 == nil && state.3 == 1)
        // Re-armed, as the batch does: the bytes were waiting in the socket all along.
        proactor.lock.withLock { proactor.prepare(.receive(c)) }
        events = []
        while proactor.lock.withLock({ c.received.isEmpty }) && ContinuousClock.now < deadline {
            proactor.waitForIO(until: .now.advanced(by: .milliseconds(50)), into: &events)
        }
        state = proactor.lock.withLock { (c.receiving, c.received.map(\.count), c.receiveError, proactor.counters.receivesRearmed) }
        #expect(state.0 == true && state.1 == [2] && state.2 == nil)
        let id = try #require(proactor.lock.withLock { c.received.first?.id })
        #expect(Array(proactor.buffers.bytes(of: id, length: 2)) == hi)
        try peer.close()
        #expect(closeAndDrain(c, on: proactor, until: deadline, events: &events) == 0)
    }
}

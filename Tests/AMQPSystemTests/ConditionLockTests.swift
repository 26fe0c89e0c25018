import AMQPSystem
import XCTest

/// Real pthread mutexes and condition variables, with real threads; nothing is mocked.
final class ConditionLockTests: XCTestCase {
    func testTimedWaitTimesOut() {
        let lock = ConditionLock()
        let clock = ContinuousClock()
        var woken = true
        lock.lock()
        let waited = clock.measure { woken = lock.wait(until: clock.now + .milliseconds(50)) }
        lock.unlock()
        XCTAssertFalse(woken)
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(40))
        XCTAssertLessThan(waited, .seconds(5))
    }

    func testPastDeadlineReturnsFalseAtOnce() {
        let lock = ConditionLock()
        let clock = ContinuousClock()
        lock.withLock {
            XCTAssertFalse(lock.wait(until: clock.now - .seconds(1)))
            XCTAssertFalse(lock.wait(until: clock.now))
        }
    }

    func testSignalWakesAWaiterOnAnotherThread() throws {
        let lock = ConditionLock()
        let state = State()
        let clock = ContinuousClock()
        var results: [Bool] = []
        lock.lock()
        // The thread cannot take the lock until this one waits, so the wait really sleeps.
        let thread = try SystemThread.spawn {
            lock.withLock {
                state.ready = true
                lock.signal()
            }
        }
        let waited = clock.measure {
            while !state.ready {
                let woken = lock.wait(until: clock.now + .seconds(5))
                results.append(woken)
                if !woken { break }
            }
        }
        lock.unlock()
        thread.join()
        XCTAssertTrue(state.ready)
        XCTAssertEqual(results.last, true)
        XCTAssertLessThan(waited, .seconds(5))
    }

    func testBroadcastWakesEveryWaiter() throws {
        let lock = ConditionLock()
        let state = State()
        let threads = try (0..<3).map { _ in
            try SystemThread.spawn {
                lock.withLock {
                    state.waiting += 1
                    lock.broadcast()  // tell the test thread
                    while !state.ready { _ = lock.wait(until: nil) }
                    state.woken += 1
                }
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        lock.withLock {
            while state.waiting < 3 && lock.wait(until: deadline) {}
            XCTAssertEqual(state.waiting, 3)
            state.ready = true
            lock.broadcast()
        }
        for thread in threads { thread.join() }
        XCTAssertEqual(lock.withLock { state.woken }, 3)
    }

    func testWithLockReturnsRethrowsAndReleases() {
        struct Failure: Error, Equatable {}
        let lock = ConditionLock()
        XCTAssertEqual(lock.withLock { 42 }, 42)
        XCTAssertThrowsError(try lock.withLock { throw Failure() }) { XCTAssertEqual($0 as? Failure, Failure()) }
        XCTAssertTrue(lock.tryLock(), "released after the throw")
        XCTAssertFalse(lock.tryLock(), "not recursive")
        lock.unlock()
    }

    func testTryLockFailsWhileAnotherThreadHolds() throws {
        let lock = ConditionLock()
        let state = State()
        lock.lock()
        let thread = try SystemThread.spawn {
            let took = lock.tryLock()
            if took { lock.unlock() }
            state.tookFromOtherThread = took
        }
        thread.join()
        lock.unlock()
        XCTAssertEqual(state.tookFromOtherThread, false)
    }
}

/// Test state shared between threads.
// @unchecked Sendable: every property is read and written with the test's ConditionLock held,
// or (tookFromOtherThread) written before the join that the read follows.
private final class State: @unchecked Sendable {
    var ready = false
    var waiting = 0
    var woken = 0
    var tookFromOtherThread: Bool?
}

import AMQPSystem
import XCTest

/// `LockedValue` under contention: run under `--sanitize=thread` in CI, where an access outside
/// the pthread mutex (or a `@unchecked Sendable` that lied) is reported as a race.
final class LockedValueTests: XCTestCase {
    func testConcurrentUpdatesAreAllKept() throws {
        let counter = LockedValue(0)
        let log = LockedValue<[Int]>([])
        let threads = try (0..<4).map { t in
            try SystemThread.spawn(name: "locked-\(t)") {
                for i in 0..<10_000 {
                    counter.withLock { $0 += 1 }
                    if i % 1000 == 0 { log.withLock { $0.append(t) } }
                }
            }
        }
        for t in threads { t.join() }
        XCTAssertEqual(counter.withLock { $0 }, 40_000)
        XCTAssertEqual(log.withLock { $0.count }, 40)
        XCTAssertEqual(Set(log.withLock { $0 }), [0, 1, 2, 3])
    }

    func testTypedThrowsPassThrough() {
        let value = LockedValue(1)
        XCTAssertThrowsError(try value.withLock { (_: inout Int) throws(Errno) in throw Errno.wouldBlock }) {
            XCTAssertEqual($0 as? Errno, .wouldBlock)
        }
        XCTAssertEqual(value.withLock { $0 }, 1)
    }
}

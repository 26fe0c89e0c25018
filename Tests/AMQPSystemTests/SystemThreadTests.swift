import AMQPSystem
import Glibc
import Synchronization
import XCTest

/// Real pthreads; nothing is mocked.
final class SystemThreadTests: XCTestCase {
    func testJoinWaitsForEveryBody() throws {
        let counter = Counter()
        let threads = try (0..<4).map { _ in
            try SystemThread.spawn {
                for _ in 0..<10_000 { counter.value.add(1, ordering: .relaxed) }
            }
        }
        for thread in threads { thread.join() }
        XCTAssertEqual(counter.value.load(ordering: .relaxed), 40_000)
    }

    func testBodyRunsOnAnotherThread() throws {
        let here = pthread_self()
        let there = Counter()
        let thread = try SystemThread.spawn { there.value.store(pthread_equal(pthread_self(), here) == 0 ? 1 : 2, ordering: .relaxed) }
        thread.join()
        XCTAssertEqual(there.value.load(ordering: .relaxed), 1)
    }

    func testNames() throws {
        XCTAssertEqual(try nameSeen(spawning: "amqp-test"), "amqp-test")
        XCTAssertEqual(try nameSeen(spawning: "amqp-proactor-worker-1"), "amqp-proactor-w", "cut to 15 bytes")
        // "ö" is two bytes and would end at byte 16: the name stops before it, not inside it.
        XCTAssertEqual(try nameSeen(spawning: "abcdefghijklmnöp"), "abcdefghijklmn")
        XCTAssertEqual(try nameSeen(spawning: ""), "")
        // Unnamed, a thread keeps the name Linux copies from the thread that created it.
        XCTAssertEqual(try nameSeen(spawning: nil), SystemThread.currentName)
    }

    private func nameSeen(spawning name: String?) throws -> String {
        let seen = NameBox()
        let thread = try SystemThread.spawn(name: name) { seen.name.withLock { $0 = SystemThread.currentName } }
        thread.join()
        return seen.name.withLock { $0 }
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

private final class NameBox: Sendable {
    let name = Mutex<String>("<not run>")
}

@testable import AMQPProactor
import XCTest

final class ProactorAddressTests: XCTestCase {
    func testForms() {
        let cases: [(String, String, String)] = [
            ("example.com:5672", "example.com", "5672"),
            ("example.com", "example.com", "amqp"),
            (":5673", "", "5673"),
            ("", "", "amqp"),
            ("[::1]:5674", "::1", "5674"),
            ("[fe80::1]", "fe80::1", "amqp"),
            ("::1", "::1", "amqp"),
            ("host:amqps", "host", "amqps"),
            ("host:", "host", "amqp"),
        ]
        for (text, host, port) in cases {
            let a = ProactorAddress(text)
            XCTAssertEqual(a?.host, host, text)
            XCTAssertEqual(a?.port, port, text)
        }
    }

    func testMalformed() {
        XCTAssertNil(ProactorAddress("[::1"))
        XCTAssertNil(ProactorAddress("[::1]5672"))
    }

    func testServiceNamesWithoutServicesFile() {
        XCTAssertEqual(ProactorAddress("h:amqp")?.numericPort, "5672")
        XCTAssertEqual(ProactorAddress("h:amqps")?.numericPort, "5671")
        XCTAssertEqual(ProactorAddress("h:9999")?.numericPort, "9999")
    }

    func testDescriptionBracketsIPv6() {
        XCTAssertEqual(ProactorAddress("[::1]:5672")?.description, "[::1]:5672")
        XCTAssertEqual(ProactorAddress("h:1")?.description, "h:1")
    }
}

final class TimerHeapTests: XCTestCase {
    func testEarliestFirstAndStaleEntriesSkipped() {
        let t0 = ContinuousClock.now
        var heap = TimerHeap()
        var current: [UInt64: ContinuousClock.Instant] = [:]
        // Owner 1 moves from +50 to +10; owner 2 is cancelled; owner 3 stays at +30.
        for (owner, ms) in [(1, 50), (2, 20), (3, 30), (1, 10)] as [(UInt64, Int)] {
            heap.push(t0.advanced(by: .milliseconds(ms)), owner: owner)
            current[owner] = t0.advanced(by: .milliseconds(ms))
        }
        current[2] = nil
        var order: [UInt64] = []
        while let top = heap.peek(current: { current[$0] }) {
            order.append(top.owner)
            heap.pop()
            current[top.owner] = nil
        }
        XCTAssertEqual(order, [1, 3])
        XCTAssertTrue(heap.isEmpty)
    }

    func testMatchesASortUnderRandomPushes() {
        let t0 = ContinuousClock.now
        var heap = TimerHeap()
        var state: UInt64 = 0x1234_5678
        var expected: [Int] = []
        for i in 0..<1000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let ms = Int(state >> 40) % 10_000
            heap.push(t0.advanced(by: .milliseconds(ms)), owner: UInt64(i))
            expected.append(ms)
        }
        var got: [Int] = []
        while let e = heap.pop() { got.append(Int((e.deadline - t0) / .milliseconds(1))) }
        XCTAssertEqual(got, expected.sorted())
    }
}

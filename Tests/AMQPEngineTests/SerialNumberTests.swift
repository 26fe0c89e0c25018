@testable import AMQPEngine
import XCTest

/// RFC 1982 arithmetic as AMQP uses it (§2.6.7): advancing wraps, distance is signed.
final class SerialNumberTests: XCTestCase {
    func testAdvancingWrapsAtTwoToThe32() {
        var n = SerialNumber(UInt32.max)
        n.increment()
        XCTAssertEqual(n.value, 0)
        XCTAssertEqual(SerialNumber(UInt32.max - 1).advanced(by: 5).value, 3)
        n.advance(by: UInt32.max)
        XCTAssertEqual(n.value, UInt32.max)
    }

    func testDistanceIsSignedAcrossTheWrap() {
        XCTAssertEqual(SerialNumber(3).distance(from: SerialNumber(UInt32.max - 2)), 6)
        XCTAssertEqual(SerialNumber(UInt32.max - 2).distance(from: SerialNumber(3)), -6)
        XCTAssertEqual(SerialNumber(10).distance(from: SerialNumber(10)), 0)
        XCTAssertEqual(SerialNumber(1 << 31 - 1).distance(from: SerialNumber(0)), Int64(Int32.max))
        XCTAssertEqual(SerialNumber(1 << 31).distance(from: SerialNumber(0)), Int64(Int32.min), "2^31 apart: undefined by RFC 1982, reported as behind")
    }

    func testCreditFromACountThatRanAhead() {
        // A receiver's flow counted from a delivery-count our transfers already passed: its
        // credit is used up by them, never 2^32 minus something.
        let ours = SerialNumber(2)
        let theirs = SerialNumber(UInt32.max)
        XCTAssertEqual(clampedCount(Int64(2) - ours.distance(from: theirs)), 0)
        XCTAssertEqual(clampedCount(Int64(10) - ours.distance(from: theirs)), 7)
    }
}

import SharedFixtures
import XCTest
@testable import AMQPCodec

/// The values Qpid Proton wrote in ../shared/test-vectors/interop decode to what its README lists,
/// and survive a re-encode.
final class InteropVectorTests: XCTestCase {
    func values(_ name: String) throws -> [AMQPValue] {
        let bytes = try SharedFixtures.bytes(try SharedFixtures.require("test-vectors/interop/\(name)"))
        var d = AMQPDecoder(bytes)
        var out: [AMQPValue] = []
        while !d.isAtEnd { out.append(try d.decodeValue()) }
        // Re-encoding may pick more compact forms, but must decode to the same values.
        var again: [UInt8] = []
        for v in out { v.encode(into: &again) }
        var d2 = AMQPDecoder(again)
        var back: [AMQPValue] = []
        while !d2.isAtEnd { back.append(try d2.decodeValue()) }
        XCTAssertEqual(back, out, "\(name) changed in a re-encode")
        return out
    }

    func testPrimitives() throws {
        let decoded = try values("primitives.amqp")
        XCTAssertEqual(decoded, [
            .bool(true), .bool(false), .ubyte(42), .ushort(42), .short(-42), .uint(12345), .int(-12345),
            .ulong(12345), .long(-12345), .float(0.125), .double(0.125),
        ])
    }

    func testStrings() throws {
        let decoded = try values("strings.amqp")
        XCTAssertEqual(decoded, [
            .binary(Binary(Array("abc\u{0}defg".utf8))), .string("abcdefg"), .symbol("abcdefg"),
            .binary([]), .string(""), .symbol(""),
        ])
    }

    func testDescribed() throws {
        let v = try values("described.amqp")
        XCTAssertEqual(v, [
            .described(descriptor: .symbol("foo-descriptor"), value: .string("foo-value")),
            .described(descriptor: .int(12), value: .int(13)),
        ])
        // The README says the int descriptor uses the smallint encoding.
        let bytes = try SharedFixtures.bytes(try SharedFixtures.require("test-vectors/interop/described.amqp"))
        XCTAssertEqual(Array(bytes.suffix(5)), [0x00, 0x54, 12, 0x54, 13])
        // And the whole file is exactly the two values in their smallest encodings, which we write too.
        XCTAssertEqual(v.flatMap(\.encoded), bytes)
    }

    func testDescribedArray() throws {
        let v = try values("described_array.amqp")
        XCTAssertEqual(v.count, 1)
        guard case .array(let a) = v[0] else { return XCTFail("not an array: \(v[0])") }
        XCTAssertEqual(a.descriptor, .symbol("int-array"))
        XCTAssertEqual(a.elementType, .int)
        XCTAssertEqual(a.elements, (0..<10).map { AMQPValue.int(Int32($0)) })
    }

    func testArrays() throws {
        let v = try values("arrays.amqp")
        XCTAssertEqual(v, [
            .array(try AMQPArray(of: .int, (0..<100).map { .int(Int32($0)) })),
            .array(try AMQPArray(of: .string, ["a", "b", "c"])),
            .array(try AMQPArray(of: .int, [])),
        ])
    }

    func testLists() throws {
        let decoded = try values("lists.amqp")
        XCTAssertEqual(decoded, [.list([.int(32), .string("foo"), .bool(true)]), .list([])])
    }

    func testMaps() throws {
        let decoded = try values("maps.amqp")
        XCTAssertEqual(decoded, [
            .map(["one": .int(1), "two": .int(2), "three": .int(3)]),
            .map([.int(1): "one", .int(2): "two", .int(3): "three"]),
            .map([:]),
        ])
    }

    func testNull() throws {
        let decoded = try values("null.amqp")
        XCTAssertEqual(decoded, [.null])
    }

    func testMessage() throws {
        let bytes = try SharedFixtures.bytes(try SharedFixtures.require("test-vectors/interop/message.amqp"))
        let m = try Message(decoding: bytes)
        // Proton wrote its default header and an empty properties section.
        XCTAssertEqual(m.header, Header(durable: false, priority: 4, ttl: nil, firstAcquirer: false, deliveryCount: 0))
        XCTAssertEqual(m.properties?.creationTime, Timestamp(millisecondsSince1970: 0))
        XCTAssertEqual(m.properties?.groupSequence, 0)
        XCTAssertNil(m.properties?.messageID)
        // The README lists an amqp-value holding "hello". The bytes hold an amqp-value whose value is
        // a binary with the encoding of "hello" inside (Proton's test put pre-encoded bytes in the
        // body), so the string is one decode further in.
        guard case .value(let body) = m.body else { return XCTFail("body is not an amqp-value: \(String(describing: m.body))") }
        switch body {
        case .string(let s):
            XCTAssertEqual(s, "hello")
        case .binary(let inner):
            XCTAssertEqual(try AMQPValue(decoding: Array(inner)), .string("hello"))
        default:
            XCTFail("unexpected body \(body)")
        }
        let again = try Message(decoding: m.encoded)
        XCTAssertEqual(again, m)
    }
}

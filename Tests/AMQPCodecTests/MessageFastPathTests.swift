import XCTest
@testable import AMQPCodec

/// Message(decoding:) reads common sections through a raw-pointer fast path and hands the rest to
/// the general decoder. Whatever the input, the outcome must be the general decoder's alone: the
/// same message, or the same error at the same offset.
final class MessageFastPathTests: XCTestCase {
    /// The general decoder alone, section after section.
    func general(_ bytes: [UInt8]) -> Result<Message, AMQPDecodingError> {
        var d = AMQPDecoder(bytes)
        do throws(AMQPDecodingError) { return .success(try Message(from: &d)) } catch { return .failure(error) }
    }

    func fast(_ bytes: [UInt8]) -> Result<Message, AMQPDecodingError> {
        do throws(AMQPDecodingError) { return .success(try Message(decoding: bytes)) } catch { return .failure(error) }
    }

    func fastSlice(_ bytes: [UInt8]) -> Result<Message, AMQPDecodingError> {
        // A slice that does not start at index 0, as a transfer's payload does.
        let padded = [0xde, 0xad] + bytes + [0xbe]
        let slice = padded[2 ..< 2 + bytes.count]
        do throws(AMQPDecodingError) { return .success(try Message(decoding: slice)) } catch { return .failure(error) }
    }

    func assertSame(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        // Compared by encoding: a corrupted float may decode as NaN, which equals nothing.
        let g = general(bytes).map(\.encoded)
        XCTAssertEqual(fast(bytes).map(\.encoded), g, what, file: file, line: line)
        XCTAssertEqual(fastSlice(bytes).map(\.encoded), g, what + " (slice)", file: file, line: line)
    }

    var messages: [Message] {
        var quiver = Message(value: .string(String(repeating: "x", count: 100)))
        quiver.applicationProperties = [.string("SendTime"): .long(1_700_000_000_000)]
        var everything = Message(value: .string("héllo wörld"))
        everything.header = Header(durable: true, priority: 7, ttl: 1000)
        everything.deliveryAnnotations = [.symbol("x-da"): .int(1)]
        everything.messageAnnotations = [.symbol("x-opt-jms-dest"): .byte(1)]
        everything.properties = Properties(messageID: .string("id-1"), subject: "s")
        everything.applicationProperties = [
            .string("a"): .null, .string("b"): .bool(true), .string("c"): .ubyte(1), .string("d"): .ushort(2),
            .string("e"): .uint(0), .string("f"): .uint(300), .string("g"): .ulong(0), .string("h"): .ulong(1 << 40),
            .string("i"): .byte(-1), .string("j"): .short(-2), .string("k"): .int(-3), .string("l"): .int(1 << 20),
            .string("m"): .long(-4), .string("n"): .long(1 << 50), .string("o"): .float(1.5), .string("p"): .double(2.5),
            .string("q"): .timestamp(Timestamp(millisecondsSince1970: 42)), .string("r"): .string("str"),
            .string("s"): .symbol("sym"), .string("t"): .binary([1, 2, 3]),
            .string("u"): .uuid(AMQPUUID(high: 1, low: 2)), .string("v"): .char("z"),
        ]
        everything.footer = [.symbol("x-f"): .string("f")]
        var data = Message(data: Binary([1, 2, 3]))
        data.body = .data([Binary([1, 2, 3]), Binary(Array(repeating: 9, count: 300)), Binary()])
        data.properties = Properties()
        var longKey = Message(value: .binary(Binary(Array(repeating: 7, count: 70_000))))
        longKey.applicationProperties = [.string(String(repeating: "k", count: 300)): .int(5)]
        var nonScalar = Message(value: .list([.int(1), .string("two")]))
        nonScalar.applicationProperties = [.string("key"): .string("value")]
        var symbolKey = Message(value: .symbol("s"))
        symbolKey.applicationProperties = [.symbol("key"): .long(1)]
        var nested = Message(value: .map([.string("k"): .list([.null])]))
        nested.applicationProperties = [.string("k"): .map([.string("x"): .null])]
        let sequence = Message(body: .sequence([[.int(1)], [.string("x")]]))
        let empty = Message(applicationProperties: AMQPMap(), body: .value(.null))
        return [quiver, everything, data, longKey, nonScalar, symbolKey, nested, sequence, empty, Message(),
                Message(value: .string("")), Message(value: .long(-1)), Message(value: .uint(7))]
    }

    func testWellFormedMessagesDecodeAsTheGeneralDecoderDoes() throws {
        for m in messages {
            let bytes = m.encoded
            XCTAssertEqual(try Message(decoding: bytes), m)
            assertSame(bytes, "\(m)")
        }
    }

    func testTruncatedAndCorruptedMessagesFailAsTheGeneralDecoderDoes() {
        for m in messages {
            let bytes = m.encoded
            guard bytes.count < 1_000 else { continue }
            for n in 0 ..< bytes.count { assertSame(Array(bytes[..<n]), "\(m) cut at \(n)") }
            for i in bytes.indices {
                for b: UInt8 in [0x00, 0x01, 0x40, 0x45, 0x53, 0x56, 0x77, 0x80, 0xa1, 0xb1, 0xc1, 0xd1, 0xff,
                                 bytes[i] &+ 1, bytes[i] &- 1] {
                    var corrupted = bytes
                    corrupted[i] = b
                    assertSame(corrupted, "\(m) byte \(i) = \(b)")
                }
            }
        }
    }

    func testInvalidUTF8IsRefusedInBothPaths() throws {
        var m = Message(value: .string("abcdefghij"))
        m.applicationProperties = [.string("SendTime"): .long(1)]
        var bytes = m.encoded
        bytes[bytes.count - 3] = 0xff // inside the body string
        assertSame(bytes, "invalid body")
        guard case .failure(let e) = fast(bytes) else { return XCTFail("decoded invalid UTF-8") }
        XCTAssertEqual(e.kind, .invalidText("invalid UTF-8"))
        let key = bytes.firstIndex(of: UInt8(ascii: "S"))!
        var badKey = m.encoded
        badKey[key] = 0xc3 // a lead byte with no continuation
        assertSame(badKey, "invalid key")
        XCTAssertThrowsError(try Message(decoding: badKey))
    }

    func testDepthLimitAppliesToTheFastPath() {
        var m = Message(value: .string("x"))
        m.applicationProperties = [.string("SendTime"): .long(1)]
        let bytes = m.encoded
        let limits = AMQPDecodingLimits(maxDepth: 0)
        var d = AMQPDecoder(bytes, limits: limits)
        let general = Result { () throws(AMQPDecodingError) in try Message(from: &d) }
        let fast = Result { () throws(AMQPDecodingError) in try Message(decoding: bytes, limits: limits) }
        XCTAssertEqual(fast, general)
        guard case .failure = fast else { return XCTFail("a map decoded at depth limit 0") }
    }

    /// A map of one string-keyed scalar entry is held inline; nothing about it may differ from the
    /// same map held as an array.
    func testInlineMapIsIndistinguishableFromAnArrayMap() throws {
        let inline: AMQPMap = [.string("SendTime"): .long(1_700_000_000_000)]
        let flat = AMQPMap([(AMQPValue.string("SendTime"), AMQPValue.long(1_700_000_000_000))])
        guard case .single = inline.storage, case .flat = flat.storage else { return XCTFail("unexpected storage") }
        XCTAssertEqual(inline, flat)
        XCTAssertEqual(inline.hashValue, flat.hashValue)
        XCTAssertEqual(inline.description, flat.description)
        XCTAssertEqual(inline.flattened, flat.flattened)
        XCTAssertEqual(inline.keys, flat.keys)
        XCTAssertEqual(inline.values, flat.values)
        XCTAssertEqual(inline.count, 1)
        XCTAssertEqual(inline[0].key, .string("SendTime"))
        XCTAssertEqual(inline[0].value, .long(1_700_000_000_000))
        XCTAssertEqual(AMQPValue.map(inline).encoded, AMQPValue.map(flat).encoded)
        XCTAssertEqual(inline.encodedSize, flat.encodedSize)
        XCTAssertEqual(inline[string: "SendTime"], .long(1_700_000_000_000))
        XCTAssertEqual(inline[.string("SendTime")], .long(1_700_000_000_000))
        XCTAssertNil(inline[string: "sendtime"])
        XCTAssertNil(inline[.symbol("SendTime")])
        XCTAssertNotEqual(inline, [.string("SendTime"): .long(1)])
        XCTAssertNotEqual(inline, [.symbol("SendTime"): .long(1_700_000_000_000)])
        XCTAssertNotEqual(inline, [.string("SendTime"): .ulong(1_700_000_000_000)])

        var m = inline
        m[string: "SendTime"] = .long(2)
        XCTAssertEqual(m, [.string("SendTime"): .long(2)])
        m[string: "other"] = .string("x")
        XCTAssertEqual(m.count, 2)
        XCTAssertEqual(m, AMQPMap([(.string("other"), .string("x")), (.string("SendTime"), .long(2))]))
        var removed = inline
        removed[string: "SendTime"] = nil
        XCTAssertEqual(removed, AMQPMap())
        XCTAssertTrue(removed.isEmpty)

        // Decoded: the fast path builds the inline form, the general decoder the array; equal.
        var message = Message(value: .string("body"))
        message.applicationProperties = flat
        let decoded = try Message(decoding: message.encoded)
        guard case .single? = decoded.applicationProperties?.storage else { return XCTFail("not inline") }
        XCTAssertEqual(decoded, message)
        XCTAssertEqual(decoded.hashValue, message.hashValue)
        var d = AMQPDecoder(message.encoded)
        XCTAssertEqual(try Message(from: &d), decoded)
    }
}

import SharedFixtures
import XCTest
@testable import AMQPCodec

final class AMQPValueTests: XCTestCase {
    func decode(_ bytes: [UInt8]) throws -> AMQPValue { try AMQPValue(decoding: bytes) }

    func decodeError(_ bytes: [UInt8], limits: AMQPDecodingLimits = .default, file: StaticString = #filePath, line: UInt = #line) -> AMQPDecodingError? {
        do {
            let v = try AMQPValue(decoding: bytes, limits: limits)
            XCTFail("decoded \(v) from bad input", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Fails unless decoding `bytes` throws exactly `kind` at `offset`.
    func assertDecodeError(_ bytes: [UInt8], limits: AMQPDecodingLimits = .default, _ kind: AMQPDecodingError.Kind, at offset: Int,
                           file: StaticString = #filePath, line: UInt = #line) {
        guard let e = decodeError(bytes, limits: limits, file: file, line: line) else { return }
        XCTAssertEqual(e.kind, kind, "\(bytes)", file: file, line: line)
        XCTAssertEqual(e.offset, offset, "\(bytes): offset", file: file, line: line)
    }

    /// Every encoding the spec allows decodes to its value (AMQP 1.0 §1.6).
    func testEveryPrimitiveEncoding() throws {
        let cases: [([UInt8], AMQPValue)] = [
            ([0x40], .null),
            ([0x41], .bool(true)), ([0x42], .bool(false)), ([0x56, 0x01], .bool(true)), ([0x56, 0x00], .bool(false)),
            ([0x50, 0xff], .ubyte(255)),
            ([0x60, 0x12, 0x34], .ushort(0x1234)),
            ([0x70, 0, 0, 1, 0], .uint(256)), ([0x52, 7], .uint(7)), ([0x43], .uint(0)),
            ([0x80, 0, 0, 0, 0, 0, 0, 1, 0], .ulong(256)), ([0x53, 9], .ulong(9)), ([0x44], .ulong(0)),
            ([0x51, 0xff], .byte(-1)),
            ([0x61, 0xff, 0xfe], .short(-2)),
            ([0x71, 0xff, 0xff, 0xff, 0xfd], .int(-3)), ([0x54, 0xfc], .int(-4)),
            ([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb], .long(-5)), ([0x55, 0xfa], .long(-6)),
            ([0x72, 0x3e, 0, 0, 0], .float(0.125)),
            ([0x82, 0x3f, 0xc0, 0, 0, 0, 0, 0, 0], .double(0.125)),
            ([0x74, 1, 2, 3, 4], .decimal32(Decimal32(bitPattern: 0x0102_0304))),
            ([0x84, 1, 2, 3, 4, 5, 6, 7, 8], .decimal64(Decimal64(bitPattern: 0x0102_0304_0506_0708))),
            ([0x94] + Array(1...16), .decimal128(Decimal128(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10))),
            ([0x73, 0, 1, 0xf6, 0x00], .char("\u{1F600}")),
            ([0x83, 0, 0, 0, 0, 0, 0, 0x03, 0xe8], .timestamp(Timestamp(millisecondsSince1970: 1000))),
            ([0x98] + Array(1...16), .uuid(AMQPUUID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10))),
            ([0xa0, 2, 0xde, 0xad], .binary([0xde, 0xad])), ([0xb0, 0, 0, 0, 1, 0xef], .binary([0xef])),
            ([0xa1, 2, 0x68, 0x69], .string("hi")), ([0xb1, 0, 0, 0, 2, 0xc3, 0xa9], .string("é")),
            ([0xa3, 1, 0x78], .symbol("x")), ([0xb3, 0, 0, 0, 1, 0x79], .symbol("y")),
            ([0x45], .list([])),
            ([0xc0, 3, 2, 0x41, 0x40], .list([.bool(true), .null])),
            ([0xd0, 0, 0, 0, 6, 0, 0, 0, 2, 0x41, 0x40], .list([.bool(true), .null])),
            ([0xc1, 5, 2, 0xa1, 1, 0x6b, 0x43], .map(["k": .uint(0)])),
            ([0xd1, 0, 0, 0, 8, 0, 0, 0, 2, 0xa1, 1, 0x6b, 0x43], .map(["k": .uint(0)])),
            ([0xe0, 4, 2, 0x50, 1, 2], .array(try AMQPArray(of: .ubyte, [.ubyte(1), .ubyte(2)]))),
            ([0xf0, 0, 0, 0, 7, 0, 0, 0, 2, 0x54, 1, 2], .array(try AMQPArray(of: .int, [.int(1), .int(2)]))),
            ([0xe0, 4, 2, 0x56, 1, 0], .array(try AMQPArray(of: .boolean, [.bool(true), .bool(false)]))),
            ([0xe0, 2, 3, 0x40], .array(try AMQPArray(of: .null, [.null, .null, .null]))),
            ([0xe0, 2, 2, 0x41], .array(try AMQPArray(of: .boolean, [.bool(true), .bool(true)]))),
            ([0x00, 0x53, 0x24, 0x45], .described(descriptor: .ulong(0x24), value: .list([]))),
            ([0x00, 0xa3, 1, 0x64, 0x41], .described(descriptor: .symbol("d"), value: .bool(true))),
        ]
        for (bytes, expected) in cases {
            XCTAssertEqual(try decode(Array(bytes)), expected, "\(bytes)")
        }
    }

    func testArrayOfDescribedAndCompoundElements() throws {
        // array8 of lists, described by ulong 7: [ [int 1], [] ]
        let bytes: [UInt8] = [0xe0, 11, 2, 0x00, 0x53, 0x07, 0xc0, 3, 1, 0x54, 1, 1, 0]
        let v = try decode(bytes)
        let expected = try AMQPArray(of: .list, descriptor: .ulong(7), [.list([.int(1)]), .list([])])
        XCTAssertEqual(v, .array(expected))
        XCTAssertEqual(try decode(v.encoded), v)
        // arrays of maps and of arrays
        let nested = try AMQPArray(of: .array, [
            .array(try AMQPArray(of: .string, ["a", "b"])),
            .array(try AMQPArray(of: .long, [.long(1)])),
        ])
        let maps = try AMQPArray(of: .map, [.map(["a": .int(1)]), .map([:])])
        for v in [AMQPValue.array(nested), .array(maps)] {
            XCTAssertEqual(try decode(v.encoded), v)
            XCTAssertEqual(v.encoded.count, v.encodedSize)
        }
    }

    /// Regression (found by the Proton differential test): array elements whose 8-bit size field
    /// would be exactly 256 must switch the whole array to the 32-bit element form.
    func testArrayElementsAtTheEightBitBoundary() throws {
        for n in 245...262 {
            let list = AMQPValue.list([.binary(Binary([UInt8](repeating: 1, count: n)))])
            let map = AMQPValue.map([.binary(Binary([UInt8](repeating: 2, count: n))): .null])
            for v in [AMQPValue.array(try AMQPArray(of: .list, [list])), .array(try AMQPArray(of: .map, [map]))] {
                XCTAssertEqual(v.encoded.count, v.encodedSize, "\(n)")
                XCTAssertEqual(try decode(v.encoded), v, "\(n)")
            }
        }
    }

    func testCompactEncodingsChosen() {
        XCTAssertEqual(AMQPValue.uint(0).encoded, [0x43])
        XCTAssertEqual(AMQPValue.uint(255).encoded, [0x52, 255])
        XCTAssertEqual(AMQPValue.uint(256).encoded, [0x70, 0, 0, 1, 0])
        XCTAssertEqual(AMQPValue.ulong(0).encoded, [0x44])
        XCTAssertEqual(AMQPValue.int(-128).encoded, [0x54, 0x80])
        XCTAssertEqual(AMQPValue.int(128).encoded, [0x71, 0, 0, 0, 128])
        XCTAssertEqual(AMQPValue.long(127).encoded, [0x55, 127])
        XCTAssertEqual(AMQPValue.list([]).encoded, [0x45])
        XCTAssertEqual(AMQPValue.bool(true).encoded, [0x41])
        XCTAssertEqual(AMQPValue.string(String(repeating: "a", count: 255)).encoded.prefix(2), [0xa1, 255])
        XCTAssertEqual(AMQPValue.string(String(repeating: "a", count: 256)).encoded.prefix(5), [0xb1, 0, 0, 1, 0])
    }

    func testLargeListWidensToList32() throws {
        let big = AMQPValue.list((0..<300).map { .uint(UInt32($0)) })
        let bytes = big.encoded
        XCTAssertEqual(bytes.first, 0xd0)
        XCTAssertEqual(bytes.count, big.encodedSize)
        XCTAssertEqual(try decode(bytes), big)
        let longString = AMQPValue.list([.string(String(repeating: "z", count: 300))])
        XCTAssertEqual(longString.encoded.first, 0xd0)
        XCTAssertEqual(try decode(longString.encoded), longString)
        let bigMap = AMQPValue.map(AMQPMap((0..<200).map { (AMQPValue.int(Int32($0)), AMQPValue.null) }))
        XCTAssertEqual(bigMap.encoded.first, 0xd1)
        XCTAssertEqual(try decode(bigMap.encoded), bigMap)
    }

    func testHeterogeneousArrayIsRefused() {
        XCTAssertThrowsError(try AMQPArray(of: .int, [.int(1), .string("x")]))
        XCTAssertThrowsError(try AMQPArray(of: .described, []))
    }

    // MARK: malformed input

    func testTruncatedInputThrows() {
        let cases: [([UInt8], AMQPDecodingError.Kind, Int)] = [
            ([], .truncated(needed: 1, available: 0), 0),
            ([0x70, 0, 0], .truncated(needed: 4, available: 2), 1),
            ([0xa1, 5, 0x61], .truncated(needed: 5, available: 1), 2),
            ([0xb1, 0, 0], .truncated(needed: 4, available: 2), 1),
            ([0x98, 1, 2], .truncated(needed: 8, available: 2), 1),
            ([0x00], .truncated(needed: 1, available: 0), 1),
            ([0x00, 0x53], .truncated(needed: 1, available: 0), 2),
            ([0xc0, 5, 1], .invalidSize("compound of 5 bytes with 1 left"), 1),
        ]
        for (bytes, kind, offset) in cases {
            assertDecodeError(bytes, kind, at: offset)
            XCTAssertEqual(decodeError(bytes)?.condition, "amqp:decode-error")
        }
    }

    func testInvalidConstructorsThrow() {
        for code: UInt8 in [0x01, 0x3f, 0x46, 0x57, 0x62, 0x75, 0x85, 0x95, 0x99, 0xa2, 0xb2, 0xc2, 0xd2, 0xe1, 0xf1, 0xff] {
            guard let e = decodeError([code, 0, 0, 0, 0, 0, 0, 0, 0, 0]) else { continue }
            XCTAssertEqual(e.kind, .invalidConstructor(code), "\(code)")
            XCTAssertEqual(e.offset, 0)
        }
    }

    func testDeclaredSizesAreCheckedBeforeAllocating() {
        // list32 claiming 4 GiB and 1 billion elements in 10 bytes
        assertDecodeError([0xd0, 0xff, 0xff, 0xff, 0xff, 0x3b, 0x9a, 0xca, 0x00, 0x40], .invalidSize("compound of 4294967295 bytes with 5 left"), at: 1)
        // list8 whose count cannot fit its size
        assertDecodeError([0xc0, 2, 200, 0x40], .invalidSize("200 elements cannot fit in 1 bytes"), at: 1)
        // array32 of 1 billion ulongs in a few bytes
        assertDecodeError([0xf0, 0, 0, 0, 9, 0x3b, 0x9a, 0xca, 0x00, 0x80, 0, 0, 0, 0], .invalidSize("1000000000 elements of 8 bytes in 4 bytes"), at: 1)
        // array of zero-width elements with a huge count is bounded by the limit
        guard let z = decodeError([0xf0, 0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0x40]) else { return }
        XCTAssertEqual(z.kind, .tooManyElements(count: 0x7fff_ffff, limit: 65_536))
        XCTAssertEqual(z.condition, "amqp:resource-limit-exceeded")
        // binary claiming more bytes than remain
        assertDecodeError([0xb0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3], .truncated(needed: 0x7fff_ffff, available: 3), at: 5)
        // map with an odd count
        assertDecodeError([0xc1, 2, 1, 0x40], .invalidSize("map with an odd count 1"), at: 1)
        // compound whose contents overrun its declared size
        assertDecodeError([0xc0, 2, 1, 0x70, 0, 0, 0, 1], .invalidSize("list contents end at offset 8, its size says 4"), at: 8)
    }

    func testNestingIsLimited() throws {
        var bytes: [UInt8] = []
        for _ in 0..<100 { bytes += [0x00, 0x53, 0x01] }
        bytes.append(0x40)
        guard let e = decodeError(bytes) else { return }
        XCTAssertEqual(e.kind, .tooDeep(limit: 64))
        // Lists nested 10 deep are fine with the default limit and refused with a limit of 5.
        var nested = AMQPValue.null
        for _ in 0..<10 { nested = .list([nested]) }
        XCTAssertEqual(try decode(nested.encoded), nested)
        assertDecodeError(nested.encoded, limits: AMQPDecodingLimits(maxDepth: 5), .tooDeep(limit: 5), at: 16)
        // A very deep input does not overflow the stack.
        XCTAssertEqual(decodeError([UInt8](repeating: 0x00, count: 100_000))?.kind, .tooDeep(limit: 64))
        XCTAssertEqual(decodeError(Array([[UInt8]](repeating: [0xc0, 0xff, 0x01], count: 100_000).joined()))?.kind, .tooDeep(limit: 64))
    }

    func testInvalidTextThrows() {
        XCTAssertEqual(decodeError([0xa1, 2, 0xc3, 0x28])?.kind, .invalidText("invalid UTF-8"))
        assertDecodeError([0x73, 0, 0, 0xd8, 0x00], .invalidText("char 0xd800 is not a Unicode scalar"), at: 1)   // a surrogate
        assertDecodeError([0x56, 2], .invalidValue("boolean byte 0x2"), at: 1)                  // boolean byte must be 0 or 1
        XCTAssertEqual(decodeError([0x56, 2])?.condition, "amqp:invalid-field")
        assertDecodeError([0x00, 0x00, 0x53, 1, 0x40, 0x40], .invalidValue("a descriptor may not itself be described"), at: 0)
        assertDecodeError([0x40, 0x40], .invalidSize("1 bytes after the value"), at: 1)       // trailing bytes after the value
    }

    // MARK: views

    func testBinaryAndStringViewsShareTheInput() throws {
        let bytes: [UInt8] = [0xa0, 3, 1, 2, 3, 0xa1, 2, 0x68, 0x69, 0x40, 0x40]
        var d = AMQPDecoder(bytes)
        let bin = try d.readBinaryView()
        XCTAssertEqual(bin.map(Array.init), [1, 2, 3])
        XCTAssertEqual(bin?.startIndex, 2, "a view keeps the input's indices: it is not a copy")
        let text = try d.readStringBytes()
        XCTAssertEqual(text?.startIndex, 7)
        XCTAssertEqual(String(decoding: text!, as: UTF8.self), "hi")
        XCTAssertNil(try d.readBinaryView())
        XCTAssertNil(try d.readStringBytes())
        XCTAssertTrue(d.isAtEnd)
        var bad = AMQPDecoder([0xa1, 1, 0xff])
        XCTAssertThrowsError(try bad.readStringBytes())
        // A decoded Binary also shares storage with the input.
        guard case .binary(let b) = try AMQPValue(decoding: [0xa0, 2, 9, 8]) else { return XCTFail() }
        XCTAssertEqual(b.startIndex, 2)
        XCTAssertEqual(b.compacted().startIndex, 0)
    }

    func testSkipValue() throws {
        let values: [AMQPValue] = [.list([.int(1), .map(["a": .null])]), .string("x"), .uuid(AMQPUUID(high: 1, low: 2)), .int(9)]
        var bytes: [UInt8] = []
        for v in values { v.encode(into: &bytes) }
        var d = AMQPDecoder(bytes)
        for _ in 0..<3 { try d.skipValue() }
        XCTAssertEqual(try d.decodeValue(), .int(9))
        var bad = AMQPDecoder([0x46])
        XCTAssertThrowsError(try bad.skipValue())
    }

    // MARK: random round trips

    func testRandomValuesRoundTripAndSizeMatches() throws {
        var rng = SeededGenerator(seed: 0xA11CE)
        for i in 0..<3000 {
            let v = RandomValues.value(&rng, depth: 0)
            let bytes = v.encoded
            XCTAssertEqual(bytes.count, v.encodedSize, "value \(i): \(v)")
            let back = try decode(bytes)
            // NaN is never equal to itself; compare encodings, which are canonical for our encoder.
            XCTAssertEqual(back.encoded, bytes, "value \(i): \(v)")
            if !RandomValues.containsNaN(v) { XCTAssertEqual(back, v) }
            var into: [UInt8] = [1, 2, 3]
            v.encode(into: &into)
            XCTAssertEqual(Array(into.dropFirst(3)), bytes, "encode(into:) appends")
        }
    }

    func testMapEqualityIgnoresOrder() {
        let a: AMQPMap = ["x": .int(1), "y": .int(2)]
        let b: AMQPMap = ["y": .int(2), "x": .int(1)]
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a, ["x": .int(1), "y": .int(3)])
        var m = a
        m[string: "z"] = .bool(true)
        m[string: "x"] = nil
        XCTAssertEqual(m, ["y": .int(2), "z": .bool(true)])
    }
}

/// The shared seeded generator (SharedFixtures), so failures can be replayed from the seed.
typealias SeededGenerator = SplitMix64

enum RandomValues {
    static func string(_ rng: inout SeededGenerator) -> String {
        let len = [0, 1, 5, 40, 255, 256, 300].randomElement(using: &rng)!
        let alphabet: [Character] = ["a", "b", "Z", "0", " ", "é", "€", "😀", "\u{0}"]
        return String((0..<len).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func primitive(_ type: AMQPType, _ rng: inout SeededGenerator) -> AMQPValue {
        func edge<T: FixedWidthInteger>(_: T.Type) -> T {
            [T.min, T.max, 0, 1, T(truncatingIfNeeded: rng.next())].randomElement(using: &rng)!
        }
        switch type {
        case .null: return .null
        case .boolean: return .bool(Bool.random(using: &rng))
        case .ubyte: return .ubyte(edge(UInt8.self))
        case .ushort: return .ushort(edge(UInt16.self))
        case .uint: return .uint([0, 255, 256, edge(UInt32.self)].randomElement(using: &rng)!)
        case .ulong: return .ulong([0, 255, 256, edge(UInt64.self)].randomElement(using: &rng)!)
        case .byte: return .byte(edge(Int8.self))
        case .short: return .short(edge(Int16.self))
        case .int: return .int([-128, 127, 128, -129, edge(Int32.self)].randomElement(using: &rng)!)
        case .long: return .long([-128, 127, 128, edge(Int64.self)].randomElement(using: &rng)!)
        case .float: return .float(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())))
        case .double: return .double(Double(bitPattern: rng.next()))
        case .decimal32: return .decimal32(Decimal32(bitPattern: UInt32(truncatingIfNeeded: rng.next())))
        case .decimal64: return .decimal64(Decimal64(bitPattern: rng.next()))
        case .decimal128: return .decimal128(Decimal128(high: rng.next(), low: rng.next()))
        case .char: return .char(Unicode.Scalar(UInt32.random(in: 0...0xD7FF, using: &rng))!)
        case .timestamp: return .timestamp(Timestamp(millisecondsSince1970: edge(Int64.self)))
        case .uuid: return .uuid(AMQPUUID(high: rng.next(), low: rng.next()))
        case .binary: return .binary(Binary((0..<[0, 3, 255, 256, 1000].randomElement(using: &rng)!).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        case .string: return .string(string(&rng))
        case .symbol: return .symbol(Symbol(String(repeating: "s", count: [0, 3, 256].randomElement(using: &rng)!)))
        case .list, .map, .array, .described: return .null
        }
    }

    static let scalarTypes: [AMQPType] = AMQPType.allCases.filter { ![.list, .map, .array, .described].contains($0) }

    static func value(_ rng: inout SeededGenerator, depth: Int) -> AMQPValue {
        let compound = depth < 3 && Int.random(in: 0..<4, using: &rng) == 0
        if !compound { return primitive(scalarTypes.randomElement(using: &rng)!, &rng) }
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return .list((0..<Int.random(in: 0...6, using: &rng)).map { _ in value(&rng, depth: depth + 1) })
        case 1:
            return .map(AMQPMap((0..<Int.random(in: 0...4, using: &rng)).map { _ in
                (primitive(.string, &rng), value(&rng, depth: depth + 1))
            }))
        case 2:
            let t = scalarTypes.randomElement(using: &rng)!
            let d: AMQPValue? = Bool.random(using: &rng) ? .ulong(rng.next() % 1000) : nil
            return .array(try! AMQPArray(of: t, descriptor: d, (0..<Int.random(in: 0...5, using: &rng)).map { _ in primitive(t, &rng) }))
        case 3:
            let elements = (0..<Int.random(in: 0...3, using: &rng)).map { _ in AMQPValue.list([value(&rng, depth: depth + 1)]) }
            return .array(try! AMQPArray(of: .list, elements))
        default:
            let d: AMQPValue = Bool.random(using: &rng) ? .ulong(rng.next()) : .symbol("com.example:thing")
            return .described(descriptor: d, value: value(&rng, depth: depth + 1))
        }
    }

    static func containsNaN(_ v: AMQPValue) -> Bool {
        switch v {
        case .float(let f): return f.isNaN
        case .double(let d): return d.isNaN
        case .list(let l): return l.contains(where: containsNaN)
        case .map(let m): return m.keys.contains(where: containsNaN) || m.values.contains(where: containsNaN)
        case .array(let a): return a.elements.contains(where: containsNaN)
        case .described(let d, let x): return containsNaN(d) || containsNaN(x)
        default: return false
        }
    }
}

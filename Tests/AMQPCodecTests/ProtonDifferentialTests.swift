import Foundation
import SharedFixtures
import XCTest
@testable import AMQPCodec

/// A differential test against Qpid Proton (the C library, through its Python binding).
///
/// `proton_differential.py` makes thousands of random values and messages with Proton; their
/// encodings must decode in Swift to the same values, and survive a Swift re-encoding. Values and
/// messages made here must in turn decode in Proton to the same values. "The same" is judged by a
/// canonical text that both sides compute from their own decoding (described in the script); it
/// keeps exact AMQP types but not encoding widths.
///
/// Needs `/usr/bin/python3` (or `$AMQP_PROTON_PYTHON`: `Scripts/test.sh` runs this again with
/// Proton 0.40) with `import proton` (Debian: `apt-get install python3-qpid-proton`).
/// Without it the tests skip, unless `AMQP_REQUIRE_PROTON=1` (as CI sets), when they fail.
/// `AMQP_PROTON_SEED` picks another seed than the fixed default, to explore.
final class ProtonDifferentialTests: XCTestCase {
    static let python = ProtonPython.path
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("proton_differential.py")
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["AMQP_PROTON_SEED"].flatMap { UInt64($0) } ?? 20_250_601
    }

    /// Decodes Proton's bytes, compares the canonical text, re-encodes and decodes again.
    /// - Returns: Swift's re-encoding when every step agreed; nil after recording a failure.
    private func checkRoundTrip<T>(_ at: String, _ line: ProtonLines.Line, _ what: String, _ failures: inout [String],
                                   decode: ([UInt8]) throws -> T, canonical: (T) -> String,
                                   encode: (T) -> [UInt8]) -> [UInt8]? {
        let decoded: T
        do { decoded = try decode(line.bytes) } catch {
            failures.append("\(at): Swift cannot decode Proton's \(what): \(error)\n  bytes: \(hexPrefix(line.bytes))\n  proton: \(line.canonical.prefix(300))")
            return nil
        }
        let text = canonical(decoded)
        guard text == line.canonical else {
            failures.append("\(at): \(what) decoded differently\n  bytes: \(hexPrefix(line.bytes))\n" + difference(line.canonical, text))
            return nil
        }
        let again = encode(decoded)
        do {
            let back = canonical(try decode(again))
            guard back == text else {
                failures.append("\(at): Swift \(what) re-encoding decodes differently\n  proton bytes: \(hexPrefix(line.bytes))\n  swift bytes:  \(hexPrefix(again))\n" + difference(text, back))
                return nil
            }
        } catch {
            failures.append("\(at): Swift cannot decode its own \(what) re-encoding: \(error)\n  proton bytes: \(hexPrefix(line.bytes))\n  swift bytes:  \(hexPrefix(again))")
            return nil
        }
        return again
    }

    // MARK: Proton → Swift

    func testProtonEncodingsDecodeInSwift() throws {
        guard try requireProton() else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let generated = dir.appendingPathComponent("proton.txt")
        let gen = try Self.runPython([Self.script.path, "generate", "3000", "\(Self.seed)", generated.path, "1000"])
        guard gen.status == 0 else {
            return XCTFail("proton_differential.py generate failed (\(gen.status)):\n\(gen.output)")
        }
        if gen.output.contains("note:") { print(gen.output) }

        var failures: [String] = []
        var reencoded: [String] = []
        var values = 0, messages = 0, identical = 0
        for (number, line) in try ProtonLines.read(generated).enumerated() {
            let at = "line \(number + 1) (seed \(Self.seed))"
            switch line.kind {
            case "V":
                values += 1
                guard let again = checkRoundTrip(at, line, "value", &failures,
                                                 decode: { try AMQPValue(decoding: $0) },
                                                 canonical: ProtonCanonical.value, encode: \.encoded) else { continue }
                if again == line.bytes { identical += 1 }
                reencoded.append(ProtonLines.line("V", again, line.canonical))
            case "M":
                messages += 1
                guard let again = checkRoundTrip(at, line, "message", &failures,
                                                 decode: { try Message(decoding: $0) },
                                                 canonical: ProtonCanonical.message, encode: \.encoded) else { continue }
                reencoded.append(ProtonLines.line("M", again, line.canonical))
            default:
                failures.append("\(at): unknown line kind \(line.kind)")
            }
        }
        XCTAssertGreaterThanOrEqual(values, 3000)
        XCTAssertGreaterThanOrEqual(messages, 1000)
        print("Proton → Swift: \(values) values, \(messages) messages; \(identical) values re-encode byte for byte as Proton wrote them")
        if !failures.isEmpty {
            XCTFail("\(failures.count) of \(values + messages) Proton encodings failed in Swift; the first few:\n\n" + failures.prefix(6).joined(separator: "\n\n"))
        }

        // Swift's re-encodings of Proton's values (its own choice of widths) must decode in Proton too.
        let file = dir.appendingPathComponent("reencoded.txt")
        try reencoded.joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        try assertProtonAccepts(file, what: "Swift re-encodings of Proton's values")
    }

    // MARK: Swift → Proton

    func testSwiftEncodingsDecodeInProton() throws {
        guard try requireProton() else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }

        var gen = ProtonDiffGenerator(seed: Self.seed)
        var values = gen.edgeValues()
        for _ in 0..<3000 { values.append(gen.topValue()) }
        var messages = gen.edgeMessages()
        for _ in 0..<1000 { messages.append(gen.message()) }
        var lines: [String] = []
        for value in values { lines.append(ProtonLines.line("V", value.encoded, ProtonCanonical.value(value))) }
        for message in messages { lines.append(ProtonLines.line("M", message.encoded, ProtonCanonical.message(message))) }
        let file = dir.appendingPathComponent("swift.txt")
        try lines.joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        try assertProtonAccepts(file, what: "Swift's random values and messages (seed \(Self.seed))")
    }

    // MARK: helpers

    /// Whether Proton can be used; skips, or fails when `AMQP_REQUIRE_PROTON=1`.
    func requireProton() throws -> Bool { try ProtonPython.require(for: "the differential test") }

    func assertProtonAccepts(_ url: URL, what: String, file sourceFile: StaticString = #filePath, line: UInt = #line) throws {
        let check = try Self.runPython([Self.script.path, "check", url.path])
        if check.status == 0 {
            print("Proton check of \(what): \(check.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        } else {
            XCTFail("Proton decodes \(what) differently (exit \(check.status)):\n\(check.output)", file: sourceFile, line: line)
        }
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("proton-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs ``ProtonPython/path``; stdout and stderr go through a file, so a chatty child cannot fill a pipe.
    static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("proton-diff-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let handle = try FileHandle(forWritingTo: out)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self))
    }
}

private func hexPrefix(_ bytes: [UInt8], limit: Int = 200) -> String {
    let shown = ProtonCanonical.hex(bytes.prefix(limit))
    return bytes.count > limit ? "\(shown)… (\(bytes.count) bytes)" : shown
}

/// The two texts around their first difference.
private func difference(_ expected: String, _ got: String) -> String {
    let a = Array(expected.utf8), b = Array(got.utf8)
    var i = 0
    while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
    let from = max(0, i - 120)
    func window(_ s: [UInt8]) -> String {
        (from > 0 ? "…" : "") + String(decoding: s[from..<min(s.count, i + 120)], as: UTF8.self) + (s.count > i + 120 ? "…" : "")
    }
    return "  first difference at character \(i)\n  proton: \(window(a))\n  swift:  \(window(b))"
}

// MARK: - The line format

private enum ProtonLines {
    struct Line {
        var kind: String
        var bytes: [UInt8]
        var canonical: String
    }

    static func line(_ kind: String, _ bytes: [UInt8], _ canonical: String) -> String {
        "\(kind) \(ProtonCanonical.hex(bytes)) \(canonical)"
    }

    static func read(_ url: URL) throws -> [Line] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines: [Line] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = raw.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let bytes = unhex(parts[1]) else {
                throw ProtonDiffError("malformed line: \(raw.prefix(200))")
            }
            lines.append(Line(kind: String(parts[0]), bytes: bytes, canonical: String(parts[2])))
        }
        return lines
    }

    static func unhex(_ s: Substring) -> [UInt8]? {
        let utf8 = Array(s.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

private struct ProtonDiffError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Canonical text (the same as proton_differential.py builds from Proton's decoding)

enum ProtonCanonical {
    private static let digits = Array("0123456789abcdef".utf8)

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex<T: FixedWidthInteger & UnsignedInteger>(_ v: T) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: T.bitWidth / 4 - s.count) + s
    }

    static func typeName(_ t: AMQPType) -> String {
        switch t {
        case .null: return "null"
        case .boolean: return "boolean"
        case .ubyte: return "ubyte"
        case .ushort: return "ushort"
        case .uint: return "uint"
        case .ulong: return "ulong"
        case .byte: return "byte"
        case .short: return "short"
        case .int: return "int"
        case .long: return "long"
        case .float: return "float"
        case .double: return "double"
        case .decimal32: return "decimal32"
        case .decimal64: return "decimal64"
        case .decimal128: return "decimal128"
        case .char: return "char"
        case .timestamp: return "timestamp"
        case .uuid: return "uuid"
        case .binary: return "binary"
        case .string: return "string"
        case .symbol: return "symbol"
        case .list: return "list"
        case .map: return "map"
        case .array: return "array"
        case .described: return "described"
        }
    }

    static func value(_ v: AMQPValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "bool:true" : "bool:false"
        case .ubyte(let x): return "ubyte:\(x)"
        case .ushort(let x): return "ushort:\(x)"
        case .uint(let x): return "uint:\(x)"
        case .ulong(let x): return "ulong:\(x)"
        case .byte(let x): return "byte:\(x)"
        case .short(let x): return "short:\(x)"
        case .int(let x): return "int:\(x)"
        case .long(let x): return "long:\(x)"
        case .float(let x): return "float:" + hex(x.bitPattern)
        case .double(let x): return "double:" + hex(x.bitPattern)
        case .decimal32(let x): return "decimal32:" + hex(x.bitPattern)
        case .decimal64(let x): return "decimal64:" + hex(x.bitPattern)
        case .decimal128(let x): return "decimal128:" + hex(x.high) + hex(x.low)
        case .char(let c): return "char:" + String(c.value, radix: 16)
        case .timestamp(let t): return "timestamp:\(t.millisecondsSince1970)"
        case .uuid(let u): return "uuid:" + hex(u.bytes)
        case .binary(let b): return "binary:" + hex(b.bytes)
        case .string(let s): return "string:" + hex(Array(s.utf8))
        case .symbol(let s): return "symbol:" + hex(Array(s.rawValue.utf8))
        case .list(let l): return "list[" + l.map(value).joined(separator: ",") + "]"
        case .map(let m): return map(m)
        case .array(let a):
            let head = a.descriptor.map { "described " + value($0) + " " } ?? ""
            return "array<" + head + typeName(a.elementType) + ">[" + a.elements.map(value).joined(separator: ",") + "]"
        case .described(let d, let x): return "described(" + value(d) + "," + value(x) + ")"
        }
    }

    static func map(_ m: AMQPMap) -> String {
        "map{" + m.keys.indices.map { value(m.keys[$0]) + "=" + value(m.values[$0]) }.joined(separator: ",") + "}"
    }

    /// Header defaults filled in, and the property defaults Proton's message model cannot tell
    /// from absence folded into absence (see proton_differential.py).
    static func message(_ m: Message) -> String {
        let h = m.header ?? Header()
        let hdr = "hdr(\(h.durable),\(h.priority),\(h.ttl ?? 0),\(h.firstAcquirer),\(h.deliveryCount))"
        let p = m.properties ?? Properties()
        func string(_ s: String?) -> String { s.map { "string:" + hex(Array($0.utf8)) } ?? "-" }
        func symbol(_ s: Symbol?) -> String { s.map { "symbol:" + hex(Array($0.rawValue.utf8)) } ?? "-" }
        func id(_ i: MessageID?) -> String { i.map { value($0.value) } ?? "-" }
        func stamp(_ t: Timestamp?) -> String {
            guard let t, t.millisecondsSince1970 != 0 else { return "-" }
            return "timestamp:\(t.millisecondsSince1970)"
        }
        let userID = p.userID.flatMap { $0.isEmpty ? nil : "binary:" + hex($0.bytes) } ?? "-"
        let props = [
            id(p.messageID), userID, string(p.to), string(p.subject), string(p.replyTo), id(p.correlationID),
            symbol(p.contentType), symbol(p.contentEncoding), stamp(p.absoluteExpiryTime), stamp(p.creationTime),
            string(p.groupID), "uint:\(p.groupSequence ?? 0)", string(p.replyToGroupID),
        ]
        let body: String
        switch m.body {
        case .none: body = "-"
        case .data(let sections): body = "data[" + sections.map { "binary:" + hex($0.bytes) }.joined(separator: ",") + "]"
        case .sequence(let sections): body = "seq[" + sections.map { value(.list($0)) }.joined(separator: ",") + "]"
        case .value(let v): body = "value(" + value(v) + ")"
        }
        return [
            hdr, "props(" + props.joined(separator: ",") + ")",
            "da=" + (m.deliveryAnnotations.map(map) ?? "-"), "ma=" + (m.messageAnnotations.map(map) ?? "-"),
            "ap=" + (m.applicationProperties.map(map) ?? "-"), "body=" + body, "footer=" + (m.footer.map(map) ?? "-"),
        ].joined(separator: "|")
    }
}

// MARK: - Random values and messages

/// Random values of every type, with edge values and nesting, within what Proton 0.37 can hold:
/// symbols are ASCII; no described value directly holds another one except at the top of a value
/// (Proton's decoder loses the element after such a value in a list, map or array); strings in
/// message properties have no NUL (Proton's message API hands them over as C strings).
private struct ProtonDiffGenerator {
    var rng: SeededGenerator   // SplitMix64 from AMQPValueTests, so a run replays from its seed
    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    static let primitives: [AMQPType] = [
        .null, .boolean, .ubyte, .ushort, .uint, .ulong, .byte, .short, .int, .long, .float, .double,
        .decimal32, .decimal64, .decimal128, .char, .timestamp, .uuid, .binary, .string, .symbol,
    ]
    static let floatEdges: [UInt32] = [0x0000_0000, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x7f80_0000, 0xff80_0000,
                                       0x0000_0001, 0x8000_0001, 0x007f_ffff, 0x0080_0000, 0x7f7f_ffff, 0xff7f_ffff, 0x7fc0_0000]
    static let doubleEdges: [UInt64] = [0, 0x8000_0000_0000_0000, 0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
                                        0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 1, 0x8000_0000_0000_0001,
                                        0x000f_ffff_ffff_ffff, 0x0010_0000_0000_0000, 0x7fef_ffff_ffff_ffff,
                                        0xffef_ffff_ffff_ffff, 0x7ff8_0000_0000_0000]
    /// Code point ranges for strings and chars; no surrogates.
    static let scalarPools: [ClosedRange<UInt32>] = [0x20...0x7e, 0x00...0x1f, 0x80...0x7ff, 0x370...0x3ff, 0x4e00...0x9fff,
                                                     0xe000...0xfffd, 0xfffe...0xffff, 0x1f300...0x1faff, 0x10000...0x10ffff]
    static let symbolAlphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-/".unicodeScalars)

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
    mutating func pick<T>(_ a: [T]) -> T { a.randomElement(using: &rng)! }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T {
        let r = Double.random(in: 0..<1, using: &rng)
        if r < 0.3 {
            let edges: [T] = [0, 1, T.min, T.max, T.min &+ 1, T.max &- 1]
                + ([127, 128, 255, 256, -1, -128, -129, 65535, 65536] as [Int]).compactMap { T(exactly: $0) }
            return pick(edges)
        }
        if r < 0.6 {
            let lo = T(clamping: -300), hi = T(clamping: 300)
            return T.random(in: lo...hi, using: &rng)
        }
        return T.random(in: T.min...T.max, using: &rng)
    }

    mutating func floatBits() -> UInt32 {
        if chance(0.3) { return pick(Self.floatEdges) }
        while true {
            let b = UInt32.random(in: 0...UInt32.max, using: &rng)
            if (b >> 23) & 0xff != 0xff { return b }
        }
    }

    mutating func doubleBits() -> UInt64 {
        if chance(0.3) { return pick(Self.doubleEdges) }
        while true {
            let b = rng.next()
            if (b >> 52) & 0x7ff != 0x7ff { return b }
        }
    }

    mutating func scalar() -> Unicode.Scalar {
        let pool = pick(Self.scalarPools)
        while true {
            if let s = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { return s }
        }
    }

    /// A length in bytes: empty, short, around 255, or long, so both 8- and 32-bit forms occur.
    mutating func length() -> Int {
        let r = Double.random(in: 0..<1, using: &rng)
        if r < 0.1 { return 0 }
        if r < 0.75 { return int(1...20) }
        if r < 0.9 { return int(250...260) }
        return int(261...700)
    }

    mutating func string(noNUL: Bool = false) -> String {
        let n = length()
        var scalars = String.UnicodeScalarView()
        var size = 0
        while size < n {
            let s = chance(0.4) ? scalar() : Unicode.Scalar(UInt8(int(0x20...0x7e)))
            if noNUL && s.value == 0 { continue }
            scalars.append(s)
            size += String(s).utf8.count
        }
        return String(scalars)
    }

    mutating func symbol() -> Symbol {
        var s = String.UnicodeScalarView()
        for _ in 0..<length() { s.append(pick(Self.symbolAlphabet)) }
        return Symbol(String(s))
    }

    mutating func primitive(_ t: AMQPType) -> AMQPValue {
        switch t {
        case .null: return .null
        case .boolean: return .bool(chance(0.5))
        case .ubyte: return .ubyte(integer(UInt8.self))
        case .ushort: return .ushort(integer(UInt16.self))
        case .uint: return .uint(integer(UInt32.self))
        case .ulong: return .ulong(integer(UInt64.self))
        case .byte: return .byte(integer(Int8.self))
        case .short: return .short(integer(Int16.self))
        case .int: return .int(integer(Int32.self))
        case .long: return .long(integer(Int64.self))
        case .float: return .float(Float(bitPattern: floatBits()))
        case .double: return .double(Double(bitPattern: doubleBits()))
        case .decimal32: return .decimal32(Decimal32(bitPattern: pick([0, .max, UInt32(truncatingIfNeeded: rng.next())])))
        case .decimal64: return .decimal64(Decimal64(bitPattern: pick([0, .max, rng.next()])))
        case .decimal128: return .decimal128(pick([Decimal128(high: 0, low: 0), Decimal128(high: .max, low: .max), Decimal128(high: rng.next(), low: rng.next())]))
        case .char: return .char(pick([Unicode.Scalar(UInt8(0)), "\u{7f}", "\u{d7ff}", "\u{e000}", "\u{ffff}", "\u{10000}", "\u{10ffff}", scalar()]))
        case .timestamp: return .timestamp(Timestamp(millisecondsSince1970: integer(Int64.self)))
        case .uuid: return .uuid(pick([AMQPUUID(high: 0, low: 0), AMQPUUID(high: .max, low: .max), AMQPUUID(high: rng.next(), low: rng.next())]))
        case .binary: return .binary(Binary(bytes(length())))
        case .string: return .string(string())
        case .symbol: return .symbol(symbol())
        case .list, .map, .array, .described: preconditionFailure("not a primitive: \(t)")
        }
    }

    mutating func descriptor() -> AMQPValue {
        if chance(0.5) {
            return .ulong(pick([0, 0x10, 0x70, 0x77, 0xff, 0x100, 0x0000_468c_0000_0001, .max, rng.next()]))
        }
        return .symbol(pick(["com.example:thing", "amqp:header:list", "x", symbol()]))
    }

    /// How many elements: more than 255 (the 32-bit count) only for lists of primitives.
    mutating func count(depth: Int) -> Int {
        let r = Double.random(in: 0..<1, using: &rng)
        if r < 0.15 { return 0 }
        if r < 0.95 || depth > 1 { return int(1...6) }
        return int(100...300)
    }

    mutating func value(depth: Int) -> AMQPValue {
        let r = Double.random(in: 0..<1, using: &rng)
        if depth <= 0 || r < 0.55 { return primitive(pick(Self.primitives)) }
        if r < 0.67 { return .list((0..<count(depth: depth)).map { _ in value(depth: depth - 1) }) }
        if r < 0.79 { return .map(AMQPMap((0..<count(depth: depth)).map { _ in (primitive(pick(Self.primitives)), value(depth: depth - 1)) })) }
        if r < 0.92 { return .array(array(depth: depth)) }
        var inner = value(depth: depth - 1)
        while case .described = inner { inner = value(depth: depth - 1) }
        return .described(descriptor: descriptor(), value: inner)
    }

    /// A value to stand alone: sometimes a described value of a described value.
    mutating func topValue() -> AMQPValue {
        let v = value(depth: 4)
        if case .described = v, chance(0.2) { return .described(descriptor: descriptor(), value: v) }
        return v
    }

    mutating func array(depth: Int, of type: AMQPType? = nil) -> AMQPArray {
        let t = type ?? pick(Self.primitives + (depth > 1 ? [.list, .map, .array] : []))
        var n = count(depth: 1)
        if [.list, .map, .array].contains(t) && n > 8 { n = int(0...8) }
        let elements: [AMQPValue]
        switch t {
        case .list: elements = (0..<n).map { _ in .list((0..<int(0...4)).map { _ in value(depth: depth - 2) }) }
        case .map: elements = (0..<n).map { _ in .map(AMQPMap((0..<int(0...3)).map { _ in (primitive(pick(Self.primitives)), value(depth: depth - 2)) })) }
        case .array: elements = (0..<n).map { _ in .array(array(depth: depth - 1)) }
        default: elements = (0..<n).map { _ in primitive(t) }
        }
        return try! AMQPArray(of: t, descriptor: chance(0.25) ? descriptor() : nil, elements)
    }

    /// Every type at its edges, and compounds at the edges of their 8-bit forms.
    mutating func edgeValues() -> [AMQPValue] {
        var out: [AMQPValue] = [
            .null, .bool(true), .bool(false),
            .ubyte(0), .ubyte(.max), .ushort(0), .ushort(.max), .uint(0), .uint(255), .uint(256), .uint(.max),
            .ulong(0), .ulong(255), .ulong(256), .ulong(.max),
            .byte(.min), .byte(.max), .short(.min), .short(.max), .int(.min), .int(-129), .int(-128), .int(127), .int(128), .int(.max),
            .long(.min), .long(-129), .long(-128), .long(127), .long(128), .long(.max),
            .timestamp(Timestamp(millisecondsSince1970: .min)), .timestamp(Timestamp(millisecondsSince1970: 0)),
            .timestamp(Timestamp(millisecondsSince1970: .max)),
            .char("\u{0}"), .char("\u{10ffff}"), .char("😀"),
            .uuid(AMQPUUID(high: 0, low: 0)), .uuid(AMQPUUID(high: .max, low: .max)),
            .decimal32(Decimal32(bitPattern: .max)), .decimal64(Decimal64(bitPattern: .max)), .decimal128(Decimal128(high: .max, low: 1)),
            .binary(Binary()), .string(""), .symbol(""), .list([]), .map(AMQPMap()),
            .string("\u{0}"), .string("é€😀\u{10ffff}\u{fffd}"),
        ]
        out += Self.floatEdges.map { .float(Float(bitPattern: $0)) } + Self.doubleEdges.map { .double(Double(bitPattern: $0)) }
        for n in [254, 255, 256] {
            out.append(.binary(Binary(bytes(n))))
            out.append(.string(String(repeating: "a", count: n)))
            out.append(.string(String(repeating: "é", count: n / 2) + (n % 2 == 1 ? "a" : "")))
            out.append(.symbol(Symbol(String(repeating: "s", count: n))))
            out.append(.list((0..<n).map { _ in .null }))
            out.append(.map(AMQPMap((0..<n / 2).map { (.uint(UInt32($0)), .null) })))
            out.append(.array(try! AMQPArray(of: .ubyte, (0..<n).map { .ubyte(UInt8(truncatingIfNeeded: $0)) })))
            out.append(.array(try! AMQPArray(of: .string, [.string(String(repeating: "x", count: n))])))
        }
        // Compounds whose 8-bit size is at its limit: a one-element list whose body is
        // 248...257 bytes, alone and as the element of an array; likewise maps and arrays.
        for n in 246...255 {
            let list = AMQPValue.list([.binary(Binary(bytes(n)))])
            let map = AMQPValue.map(AMQPMap([(AMQPValue.binary(Binary(bytes(n))), AMQPValue.null)]))
            let inner = AMQPValue.array(try! AMQPArray(of: .ubyte, (0..<n).map { .ubyte(UInt8(truncatingIfNeeded: $0)) }))
            out += [list, map, inner]
            out.append(.array(try! AMQPArray(of: .list, [list])))
            out.append(.array(try! AMQPArray(of: .map, [map])))
            out.append(.array(try! AMQPArray(of: .array, [inner])))
            out.append(.array(try! AMQPArray(of: .list, descriptor: .ulong(1), [.list([]), list])))
        }
        // Arrays of every element type, empty, described, and of described values.
        for t in Self.primitives + [.list, .map, .array] {
            out.append(.array(try! AMQPArray(of: t, [])))
            out.append(.array(array(depth: 3, of: t)))
            out.append(.array(try! AMQPArray(of: t, descriptor: .symbol("com.example:t"), array(depth: 3, of: t).elements)))
        }
        out.append(.described(descriptor: .ulong(0), value: .null))
        out.append(.described(descriptor: .ulong(.max), value: .list([.described(descriptor: .symbol("a"), value: .int(1)), .int(2)])))
        out.append(.described(descriptor: .symbol("outer"), value: .described(descriptor: .ulong(7), value: .string("inner"))))
        out.append(.described(descriptor: .symbol(""), value: .array(try! AMQPArray(of: .int, descriptor: .ulong(3), [.int(1)]))))
        return out
    }

    mutating func annotations() -> AMQPMap {
        AMQPMap((0..<int(0...4)).map { _ in
            let key: AMQPValue = chance(0.8) ? .symbol(symbol()) : .ulong(integer(UInt64.self))
            return (key, value(depth: 2))
        })
    }

    mutating func messageID() -> MessageID {
        switch int(0...3) {
        case 0: return .ulong(integer(UInt64.self))
        case 1: return .uuid(AMQPUUID(high: rng.next(), low: rng.next()))
        case 2: return .binary(Binary(bytes(int(0...40))))
        default: return .string(string(noNUL: true))
        }
    }

    mutating func message() -> Message {
        var m = Message()
        if chance(0.5) {
            m.header = Header(durable: chance(0.5), priority: chance(0.5) ? 4 : integer(UInt8.self),
                              ttl: chance(0.5) ? integer(UInt32.self) : nil, firstAcquirer: chance(0.5),
                              deliveryCount: chance(0.5) ? 0 : integer(UInt32.self))
        }
        if chance(0.3) { m.deliveryAnnotations = annotations() }
        if chance(0.4) { m.messageAnnotations = annotations() }
        if chance(0.6) {
            let p = chance(0.7) ? 0.3 : 0.9
            var props = Properties()
            if chance(p) { props.messageID = messageID() }
            if chance(p) { props.userID = Binary(bytes(int(0...30))) }
            if chance(p) { props.to = string(noNUL: true) }
            if chance(p) { props.subject = string(noNUL: true) }
            if chance(p) { props.replyTo = string(noNUL: true) }
            if chance(p) { props.correlationID = messageID() }
            if chance(p) { props.contentType = symbol() }
            if chance(p) { props.contentEncoding = symbol() }
            if chance(p) { props.absoluteExpiryTime = Timestamp(millisecondsSince1970: integer(Int64.self)) }
            if chance(p) { props.creationTime = Timestamp(millisecondsSince1970: integer(Int64.self)) }
            if chance(p) { props.groupID = string(noNUL: true) }
            if chance(p) { props.groupSequence = integer(UInt32.self) }
            if chance(p) { props.replyToGroupID = string(noNUL: true) }
            m.properties = props
        }
        if chance(0.5) {
            // Application property values are simple (§3.2.5).
            m.applicationProperties = AMQPMap((0..<int(0...5)).map { _ in (.string(string()), primitive(pick(Self.primitives))) })
        }
        let r = Double.random(in: 0..<1, using: &rng)
        if r < 0.3 {
            m.body = .data((0..<int(1...3)).map { _ in Binary(bytes(length())) })
        } else if r < 0.55 {
            m.body = .sequence((0..<int(1...3)).map { _ in (0..<int(0...5)).map { _ in value(depth: 2) } })
        } else if r < 0.9 {
            m.body = .value(topValue())
        }
        if chance(0.25) { m.footer = annotations() }
        return m
    }

    mutating func edgeMessages() -> [Message] {
        [
            Message(),
            Message(header: Header()),
            Message(header: Header(durable: true, priority: 0, ttl: 0, firstAcquirer: true, deliveryCount: .max)),
            Message(header: Header(priority: .max, ttl: .max)),
            Message(properties: Properties()),
            Message(properties: Properties(messageID: .ulong(0), userID: Binary([0]), to: "", subject: "é😀", replyTo: "",
                                           correlationID: .binary(Binary()), contentType: "", contentEncoding: "gzip",
                                           absoluteExpiryTime: Timestamp(millisecondsSince1970: .min),
                                           creationTime: Timestamp(millisecondsSince1970: .max), groupID: "",
                                           groupSequence: .max, replyToGroupID: String(repeating: "r", count: 300))),
            Message(properties: Properties(messageID: .uuid(AMQPUUID(high: .max, low: 0)), correlationID: .string(""), groupSequence: 0)),
            Message(properties: Properties(messageID: .ulong(.max), correlationID: .ulong(1))),
            Message(deliveryAnnotations: AMQPMap(), messageAnnotations: AMQPMap(), applicationProperties: AMQPMap(), footer: AMQPMap()),
            Message(body: .data([Binary()])),
            Message(body: .data([Binary(bytes(255)), Binary(bytes(256)), Binary()])),
            Message(body: .sequence([[]])),
            Message(body: .sequence([[.int(1)], [], [.string("two")]])),
            Message(body: .value(.null)),
            Message(body: .value(.binary(Binary([1, 2])))),
            Message(body: .value(.list([.int(1)]))),
            Message(body: .value(.described(descriptor: .ulong(0x77), value: .described(descriptor: .symbol("x"), value: .int(1))))),
            Message(footer: ["k": .int(1)]),
        ]
    }
}

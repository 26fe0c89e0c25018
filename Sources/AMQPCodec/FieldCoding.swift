// The plumbing of the generated composites: how a field reads and writes itself, and the list
// reader, writer and sizer each composite's code calls. None of it is API (Docs/PublicAPI.md):
// a user encodes and decodes through AMQPValue, Message and the composites themselves.

/// A type that can be a field of an AMQP composite (AMQP 1.0 §1.4): it reads and writes itself,
/// constructor included, and `null` stands for "absent".
protocol AMQPFieldCodable {
    /// Decodes the next value as this type; returns nil when it is `null`.
    static func decodeField(_ decoder: inout AMQPDecoder) throws(AMQPDecodingError) -> Self?
    /// Appends this value with its constructor.
    func encodeField(into buffer: inout [UInt8])
    /// The number of bytes ``encodeField(into:)`` appends.
    var fieldEncodedSize: Int { get }
}

extension AMQPDecoder {
    @usableFromInline
    func typeError(_ expected: String, _ code: UInt8) -> AMQPDecodingError {
        error(.unexpectedType(expected: expected, found: Code.name(code)), at: position - 1)
    }

    /// Reads an unsigned integer of any width whose value fits `T`; nil for `null`.
    @inlinable
    mutating func readUnsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, _ name: String) throws(AMQPDecodingError) -> T? {
        let code = try readByte()
        let v: UInt64
        switch code {
        case 0x40: return nil
        case 0x43, 0x44: return 0
        case 0x50, 0x52, 0x53: v = UInt64(try readByte())
        case 0x60: v = UInt64(try readBigEndian(UInt16.self))
        case 0x70: v = UInt64(try readBigEndian(UInt32.self))
        case 0x80: v = try readBigEndian(UInt64.self)
        default: throw typeError(name, code)
        }
        guard let r = T(exactly: v) else { throw error(.invalidValue("\(v) does not fit a \(name)"), at: position - 1) }
        return r
    }
}

extension Bool: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Bool? {
        let code = try d.readByte()
        switch code {
        case 0x40: return nil
        case 0x41: return true
        case 0x42: return false
        case 0x56:
            let b = try d.readByte()
            guard b <= 1 else { throw d.error(.invalidValue("boolean byte \(b)"), at: d.position - 1) }
            return b == 1
        default: throw d.typeError("boolean", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendBool(self, &b) }
    var fieldEncodedSize: Int { 1 }
}

extension UInt8: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> UInt8? { try d.readUnsigned(UInt8.self, "ubyte") }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendUByte(self, &b) }
    var fieldEncodedSize: Int { 2 }
}

extension UInt16: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> UInt16? { try d.readUnsigned(UInt16.self, "ushort") }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendUShort(self, &b) }
    var fieldEncodedSize: Int { 3 }
}

extension UInt32: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> UInt32? { try d.readUnsigned(UInt32.self, "uint") }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendUInt(self, &b) }
    var fieldEncodedSize: Int { self == 0 ? 1 : self < 256 ? 2 : 5 }
}

extension UInt64: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> UInt64? { try d.readUnsigned(UInt64.self, "ulong") }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendULong(self, &b) }
    var fieldEncodedSize: Int { self == 0 ? 1 : self < 256 ? 2 : 9 }
}

extension String: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> String? {
        let code = try d.readByte()
        switch code {
        case 0x40: return nil
        case 0xa1, 0xb1: return try d.readStringBody(wide: code == 0xb1)
        default: throw d.typeError("string", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendString(self, &b) }
    var fieldEncodedSize: Int { AMQPValue.variableSize(utf8.count) }
}

extension Symbol: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Symbol? {
        let code = try d.readByte()
        switch code {
        case 0x40: return nil
        case 0xa3, 0xb3: return Symbol(try d.readStringBody(wide: code == 0xb3))
        default: throw d.typeError("symbol", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendSymbol(self, &b) }
    var fieldEncodedSize: Int { AMQPValue.variableSize(rawValue.utf8.count) }
}

extension Binary: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Binary? {
        try d.readBinaryView().map(Binary.init)
    }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendBinary(self, &b) }
    var fieldEncodedSize: Int { AMQPValue.variableSize(count) }
}

extension Timestamp: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Timestamp? {
        let code = try d.readByte()
        switch code {
        case 0x40: return nil
        case 0x83: return Timestamp(millisecondsSince1970: try d.readBigEndian(Int64.self))
        default: throw d.typeError("timestamp", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { AMQPEncoder.appendTimestamp(self, &b) }
    var fieldEncodedSize: Int { 9 }
}

extension AMQPValue: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> AMQPValue? {
        let v = try d.decodeValue()
        return v.isNull ? nil : v
    }
    func encodeField(into b: inout [UInt8]) { encode(into: &b) }
    var fieldEncodedSize: Int { encodedSize }
}

extension AMQPMap: AMQPFieldCodable {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> AMQPMap? {
        let code = try d.readByte()
        switch code {
        case 0x40: return nil
        case 0xc1, 0xd1: return try d.readMapBody(wide: code == 0xd1)
        default: throw d.typeError("map", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { encode(into: &b) }
    var fieldEncodedSize: Int { encodedSize }
}

/// Symbols in a `multiple="true"` field (AMQP 1.0 §1.3): a single symbol or an array of them on
/// the wire, always an array when we write.
extension Array: AMQPFieldCodable where Element == Symbol {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> [Symbol]? {
        let code = try d.peekByte()
        switch code {
        case 0x40: d.position += 1; return nil
        case 0xa3, 0xb3: return [try Symbol.decodeField(&d)!]
        case 0xe0, 0xf0:
            d.position += 1
            let start = d.position
            let a = try d.readArrayBody(wide: code == 0xf0)
            guard a.elementType == .symbol, a.descriptor == nil else {
                throw d.error(.unexpectedType(expected: "array of symbol", found: "array of \(a.elementType)"), at: start)
            }
            return a.elements.map { if case .symbol(let s) = $0 { return s } else { return Symbol("") } }
        case 0x45, 0xc0, 0xd0:
            // Not the spec's encoding, but what Proton's Python binding sends for a SymbolList;
            // accepted so that such peers can connect, as long as every element is a symbol.
            let start = d.position
            guard case .list(let items) = try d.decodeValue() else { return [] }
            var symbols: [Symbol] = []
            symbols.reserveCapacity(items.count)
            for item in items {
                guard case .symbol(let s) = item else {
                    throw d.error(.unexpectedType(expected: "list of symbol", found: "list holding \(item)"), at: start)
                }
                symbols.append(s)
            }
            return symbols
        default:
            d.position += 1
            throw d.typeError("symbol, array of symbol or list of symbol", code)
        }
    }
    func encodeField(into b: inout [UInt8]) { AMQPArray.symbols(self).encode(into: &b) }
    var fieldEncodedSize: Int { AMQPArray.symbols(self).encodedSize }
}

/// A restricted type (AMQP 1.0 §1.3) whose choices are the cases of a Swift enum.
protocol AMQPRestrictedField: AMQPFieldCodable, RawRepresentable where RawValue: AMQPFieldCodable {}

extension AMQPRestrictedField {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Self? {
        let start = d.position
        guard let raw = try RawValue.decodeField(&d) else { return nil }
        guard let v = Self(rawValue: raw) else {
            throw d.error(.invalidValue("\(raw) is not a valid \(Self.self)"), at: start)
        }
        return v
    }
    func encodeField(into b: inout [UInt8]) { rawValue.encodeField(into: &b) }
    var fieldEncodedSize: Int { rawValue.fieldEncodedSize }
}

// MARK: composites

/// A composite type of the spec: a described list of fields (AMQP 1.0 §1.4), such as ``Open``,
/// ``Attach`` or ``Properties``.
///
/// Every composite of the spec is generated from its XML (`Scripts/generate-composites.py`) as a
/// struct that conforms to this protocol; it is not meant for conformances of your own.
///
/// Threading: conforming types are plain value types, `Sendable`.
public protocol AMQPComposite: Sendable, Hashable {
    /// The numeric descriptor, domain 0x00000000 (e.g. 0x10 for `open`).
    static var descriptorCode: UInt64 { get }
    /// The symbolic descriptor (e.g. `amqp:open:list`).
    static var descriptorName: Symbol { get }
    /// The spec's field names, in order.
    static var fieldNames: [String] { get }
    /// Decodes one described composite of this type from `bytes`.
    /// - Throws: ``AMQPDecodingError`` when the bytes are not a well-formed value of this type.
    init(decoding bytes: [UInt8]) throws(AMQPDecodingError)
    /// Appends the described list: descriptor and fields, trailing nulls omitted.
    func encode(into buffer: inout [UInt8])
    /// The number of bytes ``encode(into:)`` appends.
    var encodedSize: Int { get }
}

extension AMQPComposite {
    /// The encoding as a new array.
    public var encoded: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(encodedSize)
        encode(into: &b)
        return b
    }
}

/// What the generated composites implement beyond ``AMQPComposite``: decoding the field list once
/// the descriptor is read, which makes each of them a field of the others.
protocol CompositeFields: AMQPComposite, AMQPFieldCodable {
    /// Decodes the field list, the descriptor having been read already.
    init(fieldsFrom decoder: inout AMQPDecoder) throws(AMQPDecodingError)
}

extension CompositeFields {
    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> Self? {
        let start = d.position
        let code = try d.readByte()
        if code == 0x40 { return nil }
        guard code == 0x00 else { throw d.typeError(String(describing: Self.self), code) }
        let descriptor = try d.readDescriptor()
        guard descriptor == Self.descriptorCode else {
            throw d.error(.unexpectedDescriptor(expected: Self.descriptorName.rawValue, found: DescriptorTable.name(descriptor)), at: start)
        }
        return try Self(fieldsFrom: &d)
    }
    func encodeField(into b: inout [UInt8]) { encode(into: &b) }
    var fieldEncodedSize: Int { encodedSize }

    /// Decodes one described composite from `bytes`: what each composite's `init(decoding:)` calls.
    static func decodeComposite(_ bytes: [UInt8]) throws(AMQPDecodingError) -> Self {
        var d = AMQPDecoder(bytes)
        guard let v = try Self.decodeField(&d) else {
            throw d.error(.unexpectedType(expected: String(describing: Self.self), found: "null"), at: 0)
        }
        return v
    }
}

extension AMQPDecoder {
    /// Reads a descriptor: a `ulong` code, or a symbol that names a known composite.
    /// - Returns: the numeric code; symbols not in the spec map to `UInt64.max`.
    package mutating func readDescriptor() throws(AMQPDecodingError) -> UInt64 {
        let code = try peekByte()
        switch code {
        case 0x43, 0x44, 0x50, 0x52, 0x53, 0x60, 0x70, 0x80:
            return try readUnsigned(UInt64.self, "ulong")!
        case 0xa3, 0xb3:
            let s = try Symbol.decodeField(&self)!
            return DescriptorTable.code(for: s) ?? .max
        default:
            position += 1
            throw typeError("descriptor (ulong or symbol)", code)
        }
    }
}

/// Writes a composite's field list: descriptor, list header, fields, with trailing nulls dropped.
struct AMQPListWriter {
    let start: Int
    var count = 0
    var lastNonNullCount = 0
    var lastNonNullEnd: Int

    init(descriptor: UInt64, _ b: inout [UInt8]) {
        AMQPEncoder.appendDescriptor(descriptor, &b)
        start = AMQPEncoder.beginList(&b)
        lastNonNullEnd = b.count
    }

    mutating func field<T: AMQPFieldCodable>(_ v: T?, _ b: inout [UInt8]) {
        count += 1
        if let v {
            v.encodeField(into: &b)
            lastNonNullCount = count
            lastNonNullEnd = b.count
        } else {
            b.append(Code.null)
        }
    }

    /// Writes `v`, or null when it equals the field's default (null means the default, §1.4).
    mutating func field<T: AMQPFieldCodable & Equatable>(_ v: T, default d: T, _ b: inout [UInt8]) {
        field(v == d ? nil : v, &b)
    }

    func finish(_ b: inout [UInt8]) {
        b.removeLast(b.count - lastNonNullEnd)
        AMQPEncoder.endList(start, count: lastNonNullCount, &b)
    }
}

/// Computes what ``AMQPListWriter`` will write, without writing.
struct AMQPListSizer {
    var body = 0
    var count = 0
    var lastNonNullCount = 0
    var lastNonNullBody = 0

    init() {}

    mutating func field<T: AMQPFieldCodable>(_ v: T?) {
        count += 1
        if let v {
            body += v.fieldEncodedSize
            lastNonNullCount = count
            lastNonNullBody = body
        } else {
            body += 1
        }
    }

    mutating func field<T: AMQPFieldCodable & Equatable>(_ v: T, default d: T) { field(v == d ? nil : v) }

    func size(descriptor: UInt64) -> Int {
        let d = 1 + descriptor.fieldEncodedSize
        return d + (lastNonNullCount == 0 ? 1 : AMQPValue.compoundSize(body: lastNonNullBody, count: lastNonNullCount))
    }
}

/// Reads a composite's field list, field by field, then skips fields added by later versions.
struct AMQPListReader {
    let end: Int
    let count: Int
    var index = 0
    let typeName: String

    init(_ d: inout AMQPDecoder, type: String) throws(AMQPDecodingError) {
        typeName = type
        let code = try d.readByte()
        try d.enter()
        switch code {
        case 0x45: count = 0; end = d.position
        case 0xc0, 0xd0: (count, end) = try d.readCompoundHeader(wide: code == 0xd0, minElementSize: 1)
        default: throw d.typeError("list of \(type) fields", code)
        }
    }

    /// The next field, or nil when it is null or absent.
    mutating func next<T: AMQPFieldCodable>(_ d: inout AMQPDecoder, _: T.Type = T.self) throws(AMQPDecodingError) -> T? {
        guard index < count else { return nil }
        index += 1
        return try T.decodeField(&d)
    }

    /// The next field, which must be present.
    mutating func required<T: AMQPFieldCodable>(_ d: inout AMQPDecoder, _ field: String, _: T.Type = T.self) throws(AMQPDecodingError) -> T {
        let at = d.position
        guard let v = try next(&d, T.self) else {
            throw d.error(.missingMandatoryField(type: typeName, field: field), at: at)
        }
        return v
    }

    mutating func finish(_ d: inout AMQPDecoder) throws(AMQPDecodingError) {
        while index < count { try d.skipValue(); index += 1 }
        try d.checkEnd(end, typeName)
        d.leave()
    }
}

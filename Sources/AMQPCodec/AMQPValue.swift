/// Any AMQP 1.0 value, primitive or compound, as it travels on the wire (AMQP 1.0 §1.6).
///
/// Values keep the exact AMQP type they were decoded with, so a `ushort` stays a ``ushort(_:)``
/// and re-encodes as one. Compound values nest; described values wrap another value with a
/// descriptor (§1.5).
///
/// Threading: a plain value type, `Sendable`.
public enum AMQPValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case ubyte(UInt8)
    case ushort(UInt16)
    case uint(UInt32)
    case ulong(UInt64)
    case byte(Int8)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    /// IEEE 754 decimal32, kept as its bits.
    case decimal32(Decimal32)
    /// IEEE 754 decimal64, kept as its bits.
    case decimal64(Decimal64)
    /// IEEE 754 decimal128, kept as its bytes.
    case decimal128(Decimal128)
    /// One Unicode code point, encoded as UTF-32.
    case char(Unicode.Scalar)
    case timestamp(Timestamp)
    case uuid(AMQPUUID)
    case binary(Binary)
    case string(String)
    case symbol(Symbol)
    case list([AMQPValue])
    case map(AMQPMap)
    case array(AMQPArray)
    /// A value with a descriptor, usually a `ulong` code or a `symbol` name (§1.5).
    indirect case described(descriptor: AMQPValue, value: AMQPValue)
}

extension AMQPValue {
    /// The AMQP type of this value, as an array element type would name it.
    public var type: AMQPType {
        switch self {
        case .null: return .null
        case .bool: return .boolean
        case .ubyte: return .ubyte
        case .ushort: return .ushort
        case .uint: return .uint
        case .ulong: return .ulong
        case .byte: return .byte
        case .short: return .short
        case .int: return .int
        case .long: return .long
        case .float: return .float
        case .double: return .double
        case .decimal32: return .decimal32
        case .decimal64: return .decimal64
        case .decimal128: return .decimal128
        case .char: return .char
        case .timestamp: return .timestamp
        case .uuid: return .uuid
        case .binary: return .binary
        case .string: return .string
        case .symbol: return .symbol
        case .list: return .list
        case .map: return .map
        case .array: return .array
        case .described: return .described
        }
    }

    /// True for ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// The AMQP 1.0 types, independent of their encoding width.
public enum AMQPType: UInt8, Sendable, Hashable, CaseIterable {
    case null, boolean, ubyte, ushort, uint, ulong, byte, short, int, long
    case float, double, decimal32, decimal64, decimal128, char, timestamp, uuid
    case binary, string, symbol, list, map, array, described
}

extension AMQPValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension AMQPValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension AMQPValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension AMQPValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: AMQPValue...) { self = .list(elements) }
}

extension AMQPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let v): return "\(v)"
        case .ubyte(let v): return "ubyte(\(v))"
        case .ushort(let v): return "ushort(\(v))"
        case .uint(let v): return "uint(\(v))"
        case .ulong(let v): return "ulong(\(v))"
        case .byte(let v): return "byte(\(v))"
        case .short(let v): return "short(\(v))"
        case .int(let v): return "int(\(v))"
        case .long(let v): return "long(\(v))"
        case .float(let v): return "float(\(v))"
        case .double(let v): return "double(\(v))"
        case .decimal32(let v): return "decimal32(\(v))"
        case .decimal64(let v): return "decimal64(\(v))"
        case .decimal128(let v): return "decimal128(\(v))"
        case .char(let v): return "char(U+\(String(v.value, radix: 16, uppercase: true)))"
        case .timestamp(let v): return "timestamp(\(v.millisecondsSince1970))"
        case .uuid(let v): return "uuid(\(v))"
        case .binary(let v): return "binary(\(v))"
        case .string(let v): return "\"\(v)\""
        case .symbol(let v): return ":\(v.rawValue)"
        case .list(let v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return m.description
        case .array(let a): return a.description
        case .described(let d, let v): return "\(d) \(v)"
        }
    }
}

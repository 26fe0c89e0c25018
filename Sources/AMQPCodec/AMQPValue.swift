/// Any AMQP 1.0 value, primitive or compound, as it travels on the wire (AMQP 1.0 §1.6).
///
/// Values keep the exact AMQP type they were decoded with, so a `ushort` stays a ``ushort(_:)``
/// and re-encodes as one. Compound values nest; described values wrap another value with a
/// descriptor (§1.5).
///
/// Threading: a plain value type, `Sendable`.
public enum AMQPValue: Sendable, Hashable {
    /// `null`: no value (§1.6.1).
    case null
    /// `boolean` (§1.6.2).
    case bool(Bool)
    /// `ubyte`: an 8-bit unsigned integer (§1.6.3).
    case ubyte(UInt8)
    /// `ushort`: a 16-bit unsigned integer (§1.6.4).
    case ushort(UInt16)
    /// `uint`: a 32-bit unsigned integer (§1.6.5).
    case uint(UInt32)
    /// `ulong`: a 64-bit unsigned integer (§1.6.6).
    case ulong(UInt64)
    /// `byte`: an 8-bit signed integer (§1.6.7).
    case byte(Int8)
    /// `short`: a 16-bit signed integer (§1.6.8).
    case short(Int16)
    /// `int`: a 32-bit signed integer (§1.6.9).
    case int(Int32)
    /// `long`: a 64-bit signed integer (§1.6.10).
    case long(Int64)
    /// `float`: IEEE 754 binary32 (§1.6.11).
    case float(Float)
    /// `double`: IEEE 754 binary64 (§1.6.12).
    case double(Double)
    /// IEEE 754 decimal32, kept as its bits.
    case decimal32(Decimal32)
    /// IEEE 754 decimal64, kept as its bits.
    case decimal64(Decimal64)
    /// IEEE 754 decimal128, kept as its bytes.
    case decimal128(Decimal128)
    /// One Unicode code point, encoded as UTF-32.
    case char(Unicode.Scalar)
    /// `timestamp`: milliseconds since the Unix epoch (§1.6.17).
    case timestamp(Timestamp)
    /// `uuid` (§1.6.18).
    case uuid(AMQPUUID)
    /// `binary`: a byte string (§1.6.19).
    case binary(Binary)
    /// `string`: Unicode text, UTF-8 on the wire (§1.6.20).
    case string(String)
    /// `symbol`: an ASCII name (§1.6.21).
    case symbol(Symbol)
    /// `list`: values of any types, in order (§1.6.22).
    case list([AMQPValue])
    /// `map`: key-value pairs (§1.6.23).
    case map(AMQPMap)
    /// `array`: values that share one type (§1.6.24).
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

/// The AMQP 1.0 types, independent of their encoding width: what ``AMQPValue/type`` returns and
/// what an ``AMQPArray`` holds (AMQP 1.0 §1.6).
///
/// Threading: a plain value type, `Sendable`.
public enum AMQPType: UInt8, Sendable, Hashable, CaseIterable {
    /// `null`.
    case null
    /// `boolean`.
    case boolean
    /// `ubyte`.
    case ubyte
    /// `ushort`.
    case ushort
    /// `uint`.
    case uint
    /// `ulong`.
    case ulong
    /// `byte`.
    case byte
    /// `short`.
    case short
    /// `int`.
    case int
    /// `long`.
    case long
    /// `float`.
    case float
    /// `double`.
    case double
    /// `decimal32`.
    case decimal32
    /// `decimal64`.
    case decimal64
    /// `decimal128`.
    case decimal128
    /// `char`.
    case char
    /// `timestamp`.
    case timestamp
    /// `uuid`.
    case uuid
    /// `binary`.
    case binary
    /// `string`.
    case string
    /// `symbol`.
    case symbol
    /// `list`.
    case list
    /// `map`.
    case map
    /// `array`.
    case array
    /// A described value (§1.5): a descriptor, then the value.
    case described
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

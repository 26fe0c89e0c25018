/// An AMQP value of a fixed-width type that holds no reference: what an ``AMQPMap`` of one entry
/// keeps inline.
@usableFromInline
enum AMQPScalar: Sendable {
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
    case timestamp(Timestamp)

    @inlinable
    init?(_ v: AMQPValue) {
        switch v {
        case .null: self = .null
        case .bool(let x): self = .bool(x)
        case .ubyte(let x): self = .ubyte(x)
        case .ushort(let x): self = .ushort(x)
        case .uint(let x): self = .uint(x)
        case .ulong(let x): self = .ulong(x)
        case .byte(let x): self = .byte(x)
        case .short(let x): self = .short(x)
        case .int(let x): self = .int(x)
        case .long(let x): self = .long(x)
        case .float(let x): self = .float(x)
        case .double(let x): self = .double(x)
        case .timestamp(let x): self = .timestamp(x)
        default: return nil
        }
    }

    @inlinable
    var value: AMQPValue {
        switch self {
        case .null: return .null
        case .bool(let x): return .bool(x)
        case .ubyte(let x): return .ubyte(x)
        case .ushort(let x): return .ushort(x)
        case .uint(let x): return .uint(x)
        case .ulong(let x): return .ulong(x)
        case .byte(let x): return .byte(x)
        case .short(let x): return .short(x)
        case .int(let x): return .int(x)
        case .long(let x): return .long(x)
        case .float(let x): return .float(x)
        case .double(let x): return .double(x)
        case .timestamp(let x): return .timestamp(x)
        }
    }
}

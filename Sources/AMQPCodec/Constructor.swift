/// The format codes of AMQP 1.0's primitive encodings (§1.6).
@usableFromInline
enum Code {
    @usableFromInline static let described: UInt8 = 0x00
    @usableFromInline static let null: UInt8 = 0x40
    @usableFromInline static let `true`: UInt8 = 0x41
    @usableFromInline static let `false`: UInt8 = 0x42
    @usableFromInline static let uint0: UInt8 = 0x43
    @usableFromInline static let ulong0: UInt8 = 0x44
    @usableFromInline static let list0: UInt8 = 0x45
    @usableFromInline static let ubyte: UInt8 = 0x50
    @usableFromInline static let byte: UInt8 = 0x51
    @usableFromInline static let smalluint: UInt8 = 0x52
    @usableFromInline static let smallulong: UInt8 = 0x53
    @usableFromInline static let smallint: UInt8 = 0x54
    @usableFromInline static let smalllong: UInt8 = 0x55
    @usableFromInline static let boolean: UInt8 = 0x56
    @usableFromInline static let ushort: UInt8 = 0x60
    @usableFromInline static let short: UInt8 = 0x61
    @usableFromInline static let uint: UInt8 = 0x70
    @usableFromInline static let int: UInt8 = 0x71
    @usableFromInline static let float: UInt8 = 0x72
    @usableFromInline static let char: UInt8 = 0x73
    @usableFromInline static let decimal32: UInt8 = 0x74
    @usableFromInline static let ulong: UInt8 = 0x80
    @usableFromInline static let long: UInt8 = 0x81
    @usableFromInline static let double: UInt8 = 0x82
    @usableFromInline static let timestamp: UInt8 = 0x83
    @usableFromInline static let decimal64: UInt8 = 0x84
    @usableFromInline static let decimal128: UInt8 = 0x94
    @usableFromInline static let uuid: UInt8 = 0x98
    @usableFromInline static let vbin8: UInt8 = 0xa0
    @usableFromInline static let str8: UInt8 = 0xa1
    @usableFromInline static let sym8: UInt8 = 0xa3
    @usableFromInline static let vbin32: UInt8 = 0xb0
    @usableFromInline static let str32: UInt8 = 0xb1
    @usableFromInline static let sym32: UInt8 = 0xb3
    @usableFromInline static let list8: UInt8 = 0xc0
    @usableFromInline static let map8: UInt8 = 0xc1
    @usableFromInline static let list32: UInt8 = 0xd0
    @usableFromInline static let map32: UInt8 = 0xd1
    @usableFromInline static let array8: UInt8 = 0xe0
    @usableFromInline static let array32: UInt8 = 0xf0

    /// A readable name for a constructor, for error messages.
    static func name(_ code: UInt8) -> String {
        switch code {
        case 0x00: return "described"
        case 0x40: return "null"
        case 0x41, 0x42, 0x56: return "boolean"
        case 0x43, 0x52, 0x70: return "uint"
        case 0x44, 0x53, 0x80: return "ulong"
        case 0x45, 0xc0, 0xd0: return "list"
        case 0x50: return "ubyte"
        case 0x51: return "byte"
        case 0x54, 0x71: return "int"
        case 0x55, 0x81: return "long"
        case 0x60: return "ushort"
        case 0x61: return "short"
        case 0x72: return "float"
        case 0x73: return "char"
        case 0x74: return "decimal32"
        case 0x82: return "double"
        case 0x83: return "timestamp"
        case 0x84: return "decimal64"
        case 0x94: return "decimal128"
        case 0x98: return "uuid"
        case 0xa0, 0xb0: return "binary"
        case 0xa1, 0xb1: return "string"
        case 0xa3, 0xb3: return "symbol"
        case 0xc1, 0xd1: return "map"
        case 0xe0, 0xf0: return "array"
        default: return "0x" + String(code, radix: 16)
        }
    }
}

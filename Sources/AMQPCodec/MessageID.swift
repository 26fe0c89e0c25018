/// A message-id or correlation-id (AMQP 1.0 §3.2.11 to §3.2.14).
///
/// Threading: a plain value type, `Sendable`.
public enum MessageID: Sendable, Hashable, AMQPFieldCodable, ExpressibleByStringLiteral {
    /// A `ulong` id (§3.2.11).
    case ulong(UInt64)
    /// A `uuid` id (§3.2.12).
    case uuid(AMQPUUID)
    /// A `binary` id (§3.2.13).
    case binary(Binary)
    /// A `string` id (§3.2.14).
    case string(String)

    public init(stringLiteral value: String) { self = .string(value) }

    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> MessageID? {
        let start = d.position
        switch try d.decodeValue() {
        case .null: return nil
        case .ulong(let v): return .ulong(v)
        case .uuid(let v): return .uuid(v)
        case .binary(let v): return .binary(v)
        case .string(let v): return .string(v)
        case let other:
            throw d.error(.unexpectedType(expected: "message-id (ulong, uuid, binary or string)", found: "\(other.type)"), at: start)
        }
    }

    /// The id as the ``AMQPValue`` it is on the wire.
    public var value: AMQPValue {
        switch self {
        case .ulong(let v): return .ulong(v)
        case .uuid(let v): return .uuid(v)
        case .binary(let v): return .binary(v)
        case .string(let v): return .string(v)
        }
    }

    func encodeField(into b: inout [UInt8]) { value.encode(into: &b) }
    var fieldEncodedSize: Int { value.encodedSize }
}

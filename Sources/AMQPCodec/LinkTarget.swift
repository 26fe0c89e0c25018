/// What an attach names as its target: a node, or a transaction coordinator (AMQP 1.0 §3.5.4, §4.5.1).
///
/// Threading: a plain value type, `Sendable`.
public enum LinkTarget: Sendable, Hashable, AMQPFieldCodable {
    /// A node: a queue, a topic, an address (§3.5.4).
    case target(Target)
    /// The transaction coordinator, for a link that declares and discharges transactions (§4.5.1).
    case coordinator(Coordinator)

    /// The target, when this is one.
    public var target: Target? {
        if case .target(let t) = self { return t }
        return nil
    }

    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> LinkTarget? {
        let start = d.position
        let code = try d.readByte()
        if code == 0x40 { return nil }
        guard code == 0x00 else { throw d.typeError("target", code) }
        let descriptor = try d.readDescriptor()
        switch descriptor {
        case Target.descriptorCode: return .target(try Target(fieldsFrom: &d))
        case Coordinator.descriptorCode: return .coordinator(try Coordinator(fieldsFrom: &d))
        default:
            throw d.error(.unexpectedDescriptor(expected: "amqp:target:list or amqp:coordinator:list", found: DescriptorTable.name(descriptor)), at: start)
        }
    }

    func encodeField(into b: inout [UInt8]) {
        switch self {
        case .target(let t): t.encode(into: &b)
        case .coordinator(let c): c.encode(into: &b)
        }
    }

    var fieldEncodedSize: Int {
        switch self {
        case .target(let t): return t.encodedSize
        case .coordinator(let c): return c.encodedSize
        }
    }
}

import AMQPCodec

/// The sections of an encoded message that a selector reads, decoded without the rest: the
/// header, the message-annotations, the properties and the application-properties (AMQP 1.0
/// §3.2). Decoding stops at the first body section, so its cost does not grow with the body.
///
/// Threading: immutable, `Sendable`; shared by every consumer that looks at the message.
final class MessageHead: Sendable {
    /// Those sections as a ``Message`` without a body; nil when the bytes do not parse (such a
    /// message matches no selector, and stays for consumers without one).
    let message: Message?

    init(decoding bytes: [UInt8]) {
        message = try? Self.decode(bytes[...])
    }

    private static let header: UInt64 = 0x70
    private static let deliveryAnnotations: UInt64 = 0x71
    private static let messageAnnotations: UInt64 = 0x72
    private static let properties: UInt64 = 0x73
    private static let applicationProperties: UInt64 = 0x74

    private static func decode(_ bytes: ArraySlice<UInt8>) throws(AMQPDecodingError) -> Message {
        var d = AMQPDecoder(bytes)
        var m = Message()
        while let section = try nextSection(&d, upTo: applicationProperties) {
            switch section {
            case header: m.header = try Header(fieldsFrom: &d)
            case messageAnnotations: m.messageAnnotations = try Self.map(&d)
            case properties: m.properties = try Properties(fieldsFrom: &d)
            case applicationProperties: m.applicationProperties = try Self.map(&d)
            default: try d.skipValue()
            }
        }
        return m
    }

    /// A map section's value (null for none).
    private static func map(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> AMQPMap? {
        let at = d.position
        switch try d.decodeValue() {
        case .map(let m): return m
        case .null: return nil
        default: throw AMQPDecodingError(.unexpectedType(expected: "map", found: "another type"), at: at)
        }
    }

    /// The `to` of a message's properties (§3.2.4), reading nothing after them: where the
    /// anonymous relay sends it. Nil when there is none or the bytes do not parse.
    static func to(in bytes: ArraySlice<UInt8>) -> String? {
        var d = AMQPDecoder(bytes)
        do {
            while let section = try nextSection(&d, upTo: properties) {
                if section == properties { return try Properties(fieldsFrom: &d).to }
                try d.skipValue()
            }
        } catch {}
        return nil
    }

    /// Reads the descriptor of the next section and returns its code, or nil (reading nothing) at
    /// the end or at a section after `last` (a body section, or a footer).
    private static func nextSection(_ d: inout AMQPDecoder, upTo last: UInt64) throws(AMQPDecodingError) -> UInt64? {
        guard !d.isAtEnd else { return nil }
        var probe = d
        guard try probe.readByte() == 0x00 else {
            throw AMQPDecodingError(.unexpectedType(expected: "message section", found: "another type"), at: d.position)
        }
        let code = try probe.readDescriptor()
        guard code <= last, code >= header else { return nil }
        d = probe
        return code
    }
}

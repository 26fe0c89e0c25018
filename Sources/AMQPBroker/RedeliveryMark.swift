import AMQPCodec

/// How a message going back to its queue is marked for its next consumer (AMQP 1.0 §3.2.1, §3.4).
///
/// The broker holds messages encoded, as producers sent them, and forwards them untouched the first
/// time. Only a message that goes back is rewritten, and only in its front sections: the header,
/// and the message-annotations when a `modified` outcome carries some. Every other section stays
/// byte for byte (delivery-annotations, properties, application-properties, body, footer), so a
/// footer's hash or signature over the bare message still holds.
struct RedeliveryMark: Sendable, Hashable {
    /// Whether the attempt counts as a failed delivery: header delivery-count + 1. True for a
    /// message whose consumer went away before settling it and for `modified` with
    /// delivery-failed; false for `released` (§3.4.4: "not delivered").
    var failedAttempt: Bool
    /// Entries to merge into the message-annotations, replacing those with the same key (the
    /// `message-annotations` of a `modified` outcome, §3.4.5).
    var annotations: AMQPMap?

    init(failedAttempt: Bool, annotations: AMQPMap? = nil) {
        self.failedAttempt = failedAttempt
        self.annotations = annotations
    }

    /// `bytes` marked: delivery-count + 1 if ``failedAttempt``, first-acquirer false (another link
    /// may have acquired it), annotations merged. A header section is added when there was none and
    /// one is now needed. Bytes that do not parse as message sections come back unchanged: the
    /// broker never refuses to hand back what a producer gave it.
    func apply(to bytes: [UInt8]) -> [UInt8] {
        (try? rewrite(bytes)) ?? bytes
    }

    private static let headerCode: UInt64 = 0x70
    private static let deliveryAnnotationsCode: UInt64 = 0x71
    private static let messageAnnotationsCode: UInt64 = 0x72

    private func rewrite(_ bytes: [UInt8]) throws(AMQPDecodingError) -> [UInt8] {
        var d = AMQPDecoder(bytes)
        var header = Header()
        var hadHeader = false
        if try Self.section(at: d) == Self.headerCode {
            try Self.skipDescriptor(&d)
            header = try Header(fieldsFrom: &d)
            hadHeader = true
        }
        let headerEnd = d.position
        var marked = header
        marked.firstAcquirer = false
        // Saturates: a count cannot wrap back to "never tried".
        if failedAttempt && marked.deliveryCount < .max { marked.deliveryCount += 1 }
        let annotations = annotations.flatMap { $0.isEmpty ? nil : $0 }
        if marked == header && annotations == nil { return bytes }

        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 32 + (annotations?.encodedSize ?? 0))
        if hadHeader || marked != Header() { marked.encode(into: &out) }
        guard let annotations else {
            out.append(contentsOf: bytes[headerEnd...])
            return out
        }
        if try Self.section(at: d) == Self.deliveryAnnotationsCode {
            try Self.skipDescriptor(&d)
            try d.skipValue()
        }
        out.append(contentsOf: bytes[headerEnd..<d.position])
        var merged = AMQPMap()
        if try Self.section(at: d) == Self.messageAnnotationsCode {
            try Self.skipDescriptor(&d)
            switch try d.decodeValue() {
            case .map(let m): merged = m
            case .null: break
            default: throw AMQPDecodingError(.unexpectedType(expected: "map", found: "another type"), at: d.position)
            }
        }
        for (key, value) in annotations { merged[key] = value }
        out.append(contentsOf: [0x00, 0x53, UInt8(Self.messageAnnotationsCode)])   // described, smallulong
        merged.encode(into: &out)
        out.append(contentsOf: bytes[d.position...])
        return out
    }

    /// The descriptor code of the section at the decoder's position; nil at the end or when what
    /// is there is not a described value.
    private static func section(at d: AMQPDecoder) throws(AMQPDecodingError) -> UInt64? {
        guard !d.isAtEnd else { return nil }
        var probe = d
        guard try probe.readByte() == 0x00 else { return nil }
        return try probe.readDescriptor()
    }

    private static func skipDescriptor(_ d: inout AMQPDecoder) throws(AMQPDecodingError) {
        _ = try d.readByte()
        _ = try d.readDescriptor()
    }
}

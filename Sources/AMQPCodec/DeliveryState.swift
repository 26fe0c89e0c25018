/// The state of a delivery as a transfer or disposition carries it (AMQP 1.0 §3.4), including the
/// transactional states of §4.5.
///
/// Threading: a plain value type, `Sendable`.
///
/// Every case with a payload is boxed (`indirect`), so a state is one word: copying the common
/// ones (accepted, released) on the delivery path costs nothing, where an unboxed enum would copy
/// and retain each field of the largest case.
public indirect enum DeliveryState: Sendable, Hashable, AMQPFieldCodable {
    /// How much of the message has been received, to resume a transfer (§3.4.1).
    case received(Received)
    /// The message was processed successfully (§3.4.2).
    case accepted
    /// The message is invalid and cannot be processed; the error says why (§3.4.3).
    case rejected(Rejected)
    /// The message was not and will not be processed; it may be redelivered (§3.4.4).
    case released
    /// Released, with changes to the message's annotations for redelivery (§3.4.5).
    case modified(Modified)
    /// A transaction was declared: the coordinator's answer to `declare` (§4.5.5).
    case declared(Declared)
    /// A state or outcome within a transaction (§4.5.6).
    case transactional(TransactionalState)
    /// A described state this library does not know, kept as it was received.
    case other(descriptor: AMQPValue, value: AMQPValue)

    /// True for the terminal outcomes (accepted, rejected, released, modified).
    public var isOutcome: Bool {
        switch self {
        case .accepted, .rejected, .released, .modified, .declared: return true
        default: return false
        }
    }

    static func decodeField(_ d: inout AMQPDecoder) throws(AMQPDecodingError) -> DeliveryState? {
        let start = d.position
        let code = try d.readByte()
        if code == 0x40 { return nil }
        guard code == 0x00 else { throw d.typeError("delivery state", code) }
        let descPos = d.position
        let descriptor = try d.readDescriptor()
        switch descriptor {
        case Received.descriptorCode: return .received(try Received(fieldsFrom: &d))
        case Accepted.descriptorCode: _ = try Accepted(fieldsFrom: &d); return .accepted
        case Rejected.descriptorCode: return .rejected(try Rejected(fieldsFrom: &d))
        case Released.descriptorCode: _ = try Released(fieldsFrom: &d); return .released
        case Modified.descriptorCode: return .modified(try Modified(fieldsFrom: &d))
        case Declared.descriptorCode: return .declared(try Declared(fieldsFrom: &d))
        case TransactionalState.descriptorCode: return .transactional(try TransactionalState(fieldsFrom: &d))
        default:
            d.position = descPos
            try d.enter()
            let desc = try d.decodeValue()
            let value = try d.decodeValue()
            d.leave()
            _ = start
            return .other(descriptor: desc, value: value)
        }
    }

    func encodeField(into b: inout [UInt8]) {
        switch self {
        case .received(let v): v.encode(into: &b)
        case .accepted: Accepted().encode(into: &b)
        case .rejected(let v): v.encode(into: &b)
        case .released: Released().encode(into: &b)
        case .modified(let v): v.encode(into: &b)
        case .declared(let v): v.encode(into: &b)
        case .transactional(let v): v.encode(into: &b)
        case .other(let d, let v): AMQPValue.described(descriptor: d, value: v).encode(into: &b)
        }
    }

    var fieldEncodedSize: Int {
        switch self {
        case .received(let v): return v.encodedSize
        case .accepted: return Accepted().encodedSize
        case .rejected(let v): return v.encodedSize
        case .released: return Released().encodedSize
        case .modified(let v): return v.encodedSize
        case .declared(let v): return v.encodedSize
        case .transactional(let v): return v.encodedSize
        case .other(let d, let v): return AMQPValue.described(descriptor: d, value: v).encodedSize
        }
    }
}

import AMQPCodec

/// How the peer settled a message we sent (AMQP 1.0 §3.4).
public enum SendOutcome: Sendable, Hashable {
    /// The peer took the message.
    case accepted
    /// The peer refused it, with its reason.
    case rejected(AMQPError?)
    /// The peer did not process it; it may be sent again.
    case released
    /// Like released, with the peer's hints.
    case modified(deliveryFailed: Bool, undeliverableHere: Bool)
    /// Sent pre-settled (at most once): there is no outcome.
    case settled
    /// The peer settled it with a state this library does not interpret.
    case other(DeliveryState?)

    init(_ state: DeliveryState?) {
        switch state {
        case .accepted: self = .accepted
        case .rejected(let r): self = .rejected(r.error)
        case .released: self = .released
        case .modified(let m): self = .modified(deliveryFailed: m.deliveryFailed ?? false, undeliverableHere: m.undeliverableHere ?? false)
        default: self = .other(state)
        }
    }
}

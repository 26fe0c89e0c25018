import AMQPCodec

/// What became of a message the broker delivered to a consumer: the consumer's outcome (AMQP 1.0
/// §3.4), its going away before settling, or the message never leaving.
enum DeliveryOutcome: Sendable {
    /// Removed from the queue.
    case accepted
    /// Removed from the queue and dropped: the broker has no dead-letter queue.
    case rejected
    /// Back to the queue as it was (delivery-count unchanged), for any consumer.
    case released
    /// Back to the queue; delivery-count + 1 if `deliveryFailed`, `annotations` merged into its
    /// message-annotations; with `undeliverableHere`, never to this consumer (link) again.
    case modified(deliveryFailed: Bool, undeliverableHere: Bool, annotations: AMQPMap?)
    /// The consumer detached, ended its session or lost its connection before settling: back to
    /// the queue with delivery-count + 1, as it may have been processed.
    case consumerGone
    /// It never went out: back to the queue unchanged. With `refuse` (the engine could not send
    /// it to this consumer: larger than its max-message-size), never to this consumer again;
    /// without (its consumer went away while it still waited for the session window), to anyone.
    case notSent(refuse: Bool)

    /// The outcome a consumer's delivery state stands for; nil for a state that is not an outcome.
    init?(_ state: DeliveryState) {
        switch state {
        case .accepted: self = .accepted
        case .rejected: self = .rejected
        case .released: self = .released
        case .modified(let m):
            self = .modified(deliveryFailed: m.deliveryFailed ?? false, undeliverableHere: m.undeliverableHere ?? false,
                             annotations: m.messageAnnotations)
        default: return nil
        }
    }
}

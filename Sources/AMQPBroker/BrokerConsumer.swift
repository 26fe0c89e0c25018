import AMQPEngine

/// A link the peer receives on (our sender), fed by a queue, with the messages it holds unsettled.
struct BrokerConsumer {
    let link: Link
    let queue: BrokerQueue
    let waiter: QueueWaiter
    /// The peer asked for pre-settled transfers (snd-settle-mode settled, at most once): each
    /// message leaves the queue as it is sent.
    let presettled: Bool
    /// The link made the queue (a dynamic node): the queue is deleted when the link closes.
    let ownsQueue: Bool
    /// What its source's filter lets through (a selector, no-local); nil for everything.
    let filter: ConsumerFilter?
    /// A browser (distribution-mode `copy`, §3.5.7): it gets copies, the messages stay in the
    /// queue, and whatever it settles changes nothing.
    let browsing: Bool
    /// Sent and awaiting the consumer's outcome: each delivery with its message's sequence in the
    /// queue. Holding the delivery keeps its `ObjectIdentifier` from being reused meanwhile.
    var unsettled: [ObjectIdentifier: (delivery: Delivery, sequence: UInt64)] = [:]
}

import AMQPEngine

/// A link the peer sends on (our receiver), feeding a queue, or any queue: the anonymous relay.
struct BrokerProducer {
    let link: Link
    /// Its queue; nil for the anonymous relay (a null target address), which sends each message
    /// to the queue its `to` names.
    let queue: BrokerQueue?
    let waiter: QueueWaiter
    /// The link made the queue (a dynamic target): the queue is deleted when the link closes.
    let ownsQueue: Bool
    /// Credit granted and not yet used by a message this handler has seen: the engine counts a
    /// transfer against credit as soon as it reads the frame, before its delivery event reaches
    /// us, so its own count runs ahead of the queue's.
    var outstanding = 0
    /// The relay's last route: the queue of the last address it sent to, looked up again only
    /// when the address changes (or that queue is deleted).
    var lastRoute: BrokerQueue?
}

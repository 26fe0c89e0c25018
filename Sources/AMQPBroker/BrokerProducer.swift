import AMQPEngine

/// A link the peer sends on (our receiver), feeding a queue.
struct BrokerProducer {
    let link: Link
    let queue: BrokerQueue
    let waiter: QueueWaiter
    /// Credit granted and not yet used by a message this handler has seen: the engine counts a
    /// transfer against credit as soon as it reads the frame, before its delivery event reaches
    /// us, so its own count runs ahead of the queue's.
    var outstanding = 0
}

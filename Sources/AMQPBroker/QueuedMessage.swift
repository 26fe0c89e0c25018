/// A message a queue holds, encoded, with its place in the queue's order.
struct QueuedMessage: Sendable {
    /// Arrival order in its queue: messages that go back are put back by it, so they keep their
    /// original order among themselves and come before everything that arrived after them.
    let sequence: UInt64
    var bytes: [UInt8]
    /// Consumers (link ids) that answered `modified` with undeliverable-here: never given it again.
    var refusedBy: [UInt64] = []
}

/// A message a queue holds, encoded, with its place in the queue's order.
struct QueuedMessage: Sendable {
    /// Arrival order in its queue: messages that go back are put back by it, so they keep their
    /// original order among themselves and come before everything that arrived after them.
    let sequence: UInt64
    /// The message as the producer sent it (or as ``RedeliveryMark`` rewrote it). Changing it
    /// drops ``head``, which was decoded from the old bytes.
    var bytes: [UInt8] { didSet { head = nil } }
    /// The connection it was published on, for consumers with the no-local filter.
    let origin: UInt64
    /// Consumers (link ids) that answered `modified` with undeliverable-here: never given it again.
    var refusedBy: [UInt64] = []
    /// The sections a selector reads, decoded the first time a consumer with a selector looks at
    /// the message and kept until its bytes change, so a queue with selective consumers decodes
    /// each message once, however many consumers and passes look at it. Nil until then: a queue
    /// whose consumers have no selector never decodes anything.
    var head: MessageHead?

    init(sequence: UInt64, bytes: [UInt8], origin: UInt64) {
        self.sequence = sequence
        self.bytes = bytes
        self.origin = origin
    }
}

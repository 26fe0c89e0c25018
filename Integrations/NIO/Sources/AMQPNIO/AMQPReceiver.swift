import AMQPCodec

/// A receiving link, and an `AsyncSequence` of its messages. The peer may run at most the
/// receiver's capacity ahead of the consumer: credit is granted only for room in the buffer.
/// Iterate from one task at a time.
public struct AMQPReceiver: AsyncSequence, Sendable {
    /// Each message, unsettled until the application settles it.
    public typealias Element = AMQPReceivedMessage
    /// Iteration throws why the link or connection ended.
    public typealias Failure = AMQPClientError
    let connection: AMQPConnection
    let id: UInt64

    /// The next message; nil once the link was closed by us.
    ///
    /// Cancellation: the waiting call ends with `.cancelled`; nothing is settled or lost, a
    /// message that arrives later stays buffered for the next call.
    public func receive() async throws(AMQPClientError) -> AMQPReceivedMessage? {
        let id = self.id
        return try await connection.call({ core, call in core.receive(on: id, call: call) },
                                         onCancel: { core, call in core.cancelReceive(on: id, call: call) })
    }

    /// Releases the messages buffered and not yet taken, detaches with closed=true, and returns
    /// once the peer answered. Messages taken and not settled can no longer be settled.
    public func close() async throws(AMQPClientError) {
        let id = self.id
        try await connection.call({ core, call in core.closeReceiver(id, call: call) }, onCancel: { _, _ in })
    }

    /// How many messages are buffered, received and not yet taken: never more than the capacity.
    public func bufferedCount() async throws(AMQPClientError) -> Int {
        let id = self.id
        return try await connection.onLoop { core in core.receivers[id]?.buffered ?? 0 }
    }

    /// An iterator over the messages; use from one task at a time.
    public func makeAsyncIterator() -> Iterator { Iterator(receiver: self) }

    /// Calls ``AMQPReceiver/receive()``; ends when the link is closed by us.
    public struct Iterator: AsyncIteratorProtocol {
        let receiver: AMQPReceiver
        /// The next message, or nil once we closed the link.
        public mutating func next() async throws(AMQPClientError) -> AMQPReceivedMessage? {
            try await receiver.receive()
        }
        /// The next message, or nil once we closed the link.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(AMQPClientError) -> AMQPReceivedMessage? {
            try await receiver.receive()
        }
    }
}

/// A message received and not yet settled: call one of accept, reject, release or modify.
/// Until then it counts against the session buffer (see Docs/NIO.md on back-pressure).
public struct AMQPReceivedMessage: Sendable {
    /// The decoded message.
    public let message: Message
    let key: UInt64
    let receiverID: UInt64

    init(message: Message, key: UInt64, receiverID: UInt64) {
        self.message = message
        self.key = key
        self.receiverID = receiverID
    }
}

extension AMQPReceiver {
    /// Accepts and settles `message` (§3.4.2).
    public func accept(_ message: AMQPReceivedMessage) async throws(AMQPClientError) { try await settle(message, .accepted) }
    /// Rejects and settles `message` with an optional reason (§3.4.3).
    public func reject(_ message: AMQPReceivedMessage, error: AMQPError? = nil) async throws(AMQPClientError) {
        try await settle(message, .rejected(Rejected(error: error)))
    }
    /// Releases and settles `message`: the peer may deliver it again (§3.4.4).
    public func release(_ message: AMQPReceivedMessage) async throws(AMQPClientError) { try await settle(message, .released) }
    /// Modifies and settles `message` (§3.4.5).
    public func modify(_ message: AMQPReceivedMessage, deliveryFailed: Bool = true, undeliverableHere: Bool = false,
                       annotations: AMQPMap? = nil) async throws(AMQPClientError) {
        try await settle(message, .modified(Modified(deliveryFailed: deliveryFailed, undeliverableHere: undeliverableHere, messageAnnotations: annotations)))
    }

    private func settle(_ message: AMQPReceivedMessage, _ state: DeliveryState) async throws(AMQPClientError) {
        let id = self.id
        try await connection.onLoop { core throws(AMQPClientError) in try core.settle(key: message.key, on: id, state: state) }
    }
}

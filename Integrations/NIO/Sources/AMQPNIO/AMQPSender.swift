import AMQPCodec

/// A sending link. `Sendable`: any task may send on it; sends queue on the event loop and go out
/// as the peer's credit allows.
public struct AMQPSender: Sendable {
    let connection: AMQPConnection
    let id: UInt64

    /// Sends `message` and returns the peer's outcome once it settles the delivery (or
    /// ``SendOutcome/settled`` at once on an at-most-once sender). It waits for credit first.
    ///
    /// Cancellation: a message not yet handed to the peer is dropped and never sent; one already
    /// transferred cannot be recalled, so the peer may still process it, and its outcome is
    /// settled and dropped when it comes. Either way it throws `.cancelled`.
    public func send(_ message: Message) async throws(AMQPClientError) -> SendOutcome {
        let id = self.id
        return try await connection.call({ core, call in core.send(message, on: id, call: call) },
                                         onCancel: { core, call in core.cancelSend(on: id, call: call) })
    }

    /// Detaches the link with closed=true and returns once the peer answered. Sends still waiting
    /// fail with `.linkDetached`.
    public func close() async throws(AMQPClientError) {
        let id = self.id
        try await connection.call({ core, call in core.closeSender(id, call: call) }, onCancel: { _, _ in })
    }
}

import AMQPCodec
import AMQPEngine

/// What the loop knows of one sending link: sends waiting for credit, and sent ones waiting for
/// their outcome. Lives on the event loop with the driver.
final class SenderState {
    struct Queued {
        let message: Message
        let call: PendingCall<SendOutcome>
    }

    let id: UInt64
    let link: Link
    /// Pre-settled (at most once): `send` returns when the transfer is handed to the driver.
    let settled: Bool
    var attachCall: PendingCall<Void>?
    var detachCall: PendingCall<Void>?
    /// Why the link is over, once it is; later sends fail with it.
    var failure: AMQPClientError?
    /// Sends waiting for credit (or for the channel to drain), oldest first.
    var queue: [Queued] = []
    var queueHead = 0
    /// Sent deliveries waiting for the peer's outcome, by delivery.
    var awaiting: [ObjectIdentifier: (delivery: Delivery, call: PendingCall<SendOutcome>)] = [:]

    init(id: UInt64, link: Link, settled: Bool) {
        self.id = id
        self.link = link
        self.settled = settled
    }

    var hasQueued: Bool { queueHead < queue.count }

    func popQueued() -> Queued {
        let q = queue[queueHead]
        queueHead += 1
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return q
    }

    /// Removes a queued send (cancelled before it was handed to the driver); false if not queued.
    func removeQueued(_ call: PendingCall<SendOutcome>) -> Bool {
        guard let i = queue[queueHead...].firstIndex(where: { $0.call === call }) else { return false }
        queue.remove(at: i)
        return true
    }

    /// Fails every waiting call with `error` and remembers it.
    func fail(_ error: AMQPClientError) {
        if failure == nil { failure = error }
        attachCall?.complete(.failure(error)); attachCall = nil
        while hasQueued { popQueued().call.complete(.failure(error)) }
        for (_, entry) in awaiting { entry.call.complete(.failure(error)) }
        awaiting = [:]
    }
}

@available(*, unavailable)
extension SenderState: Sendable {}

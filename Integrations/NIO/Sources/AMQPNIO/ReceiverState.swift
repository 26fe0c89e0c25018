import AMQPCodec
import AMQPEngine

/// What the loop knows of one receiving link: decoded messages not yet taken by the application
/// (at most `capacity`, as credit is granted only for room in this buffer) and the deliveries
/// handed out and not yet settled. Lives on the event loop with the driver.
final class ReceiverState {
    let id: UInt64
    let link: Link
    /// The most messages granted credit for and not yet taken by the application.
    let capacity: Int
    var attachCall: PendingCall<Void>?
    var detachCall: PendingCall<Void>?
    var failure: AMQPClientError?
    /// Whole messages waiting for `next()`, oldest first, with their delivery's key.
    var buffer: [(key: UInt64, message: Message)] = []
    var bufferHead = 0
    /// The task waiting in `next()`, if any.
    var waiter: PendingCall<AMQPReceivedMessage?>?
    /// Deliveries decoded and not settled yet, by key; the application settles them by key.
    var unsettled: [UInt64: Delivery] = [:]
    var keyOf: [ObjectIdentifier: UInt64] = [:]
    private var nextKey: UInt64 = 0

    init(id: UInt64, link: Link, capacity: Int) {
        self.id = id
        self.link = link
        self.capacity = capacity
    }

    var buffered: Int { buffer.count - bufferHead }

    /// Records a whole delivery and returns its key.
    func track(_ delivery: Delivery) -> UInt64 {
        nextKey += 1
        unsettled[nextKey] = delivery
        keyOf[ObjectIdentifier(delivery)] = nextKey
        return nextKey
    }

    func forget(_ key: UInt64) -> Delivery? {
        guard let d = unsettled.removeValue(forKey: key) else { return nil }
        keyOf[ObjectIdentifier(d)] = nil
        return d
    }

    func popBuffered() -> (key: UInt64, message: Message) {
        let m = buffer[bufferHead]
        bufferHead += 1
        if bufferHead == buffer.count { buffer.removeAll(keepingCapacity: true); bufferHead = 0 }
        return m
    }

    /// Grants credit for the room the buffer has, once half of it is free, so flow frames stay
    /// few. `link.credit` already counts every transfer the driver has read.
    func topUpCredit() {
        guard failure == nil, link.localState == .active else { return }
        let outstanding = Int(link.credit) + buffered
        guard outstanding <= capacity / 2 else { return }
        link.flow(credit: UInt32(capacity - outstanding))
    }

    func fail(_ error: AMQPClientError) {
        if failure == nil { failure = error }
        attachCall?.complete(.failure(error)); attachCall = nil
        waiter?.complete(.failure(error)); waiter = nil
    }
}

@available(*, unavailable)
extension ReceiverState: Sendable {}

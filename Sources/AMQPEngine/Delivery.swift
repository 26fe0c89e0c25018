import AMQPCodec

/// One message transfer and its state (AMQP 1.0 §2.6.12).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Delivery {
    /// The link the delivery travels on.
    public let link: Link
    /// The delivery tag (§2.8.7); unique among the link's unsettled deliveries.
    public var tag: Binary { deliveryTag.binary }
    let deliveryTag: DeliveryTag
    // State other modules read per message is behind a getter: another module's direct read of
    // a stored property is checked for exclusivity at run time (swift_beginAccess, ~3% of a
    // sender's time), whatever `@exclusivity(unchecked)` says here; the getter's read is not.
    /// The delivery-id (§2.7.5), once the first transfer went out or arrived.
    public internal(set) var id: UInt32? { get { _id } set { _id = newValue } }
    @exclusivity(unchecked) var _id: UInt32?
    /// The message-format of the transfer (§2.7.5); 0 is the standard AMQP message format.
    @exclusivity(unchecked) public internal(set) var messageFormat: UInt32 = 0
    /// Received bytes not yet taken with ``readPayload()`` (receiver), or bytes still to send (sender).
    @exclusivity(unchecked) public internal(set) var payload: ArraySlice<UInt8>
    /// Receiver: every payload byte that arrived, taken or not.
    @exclusivity(unchecked) public internal(set) var receivedBytes = 0
    // Receiver: how many of `payload`'s bytes count towards the session's bufferedBytes.
    @exclusivity(unchecked) var bufferedCount = 0
    /// Receiver: more transfers of this delivery are still to come (§2.7.5 more).
    public internal(set) var isPartial: Bool { get { _isPartial } set { _isPartial = newValue } }
    @exclusivity(unchecked) var _isPartial: Bool = false
    /// The delivery was aborted (§2.6.14): by the peer (receiver) or by ``abort()`` (sender).
    public internal(set) var isAborted: Bool { get { _isAborted } set { _isAborted = newValue } }
    @exclusivity(unchecked) var _isAborted: Bool = false
    /// Sender: why the delivery was not sent, when it could not be: larger than the receiver's
    /// max-message-size (`amqp:link:message-size-exceeded`), or sent on a released link.
    public internal(set) var error: AMQPError? { get { _error } set { _error = newValue } }
    @exclusivity(unchecked) var _error: AMQPError?
    /// Our state, sent in dispositions (§2.7.6, §3.4).
    public internal(set) var localState: DeliveryState? { get { _localState } set { _localState = newValue } }
    @exclusivity(unchecked) var _localState: DeliveryState?
    /// The peer's state, from its dispositions.
    public internal(set) var remoteState: DeliveryState? { get { _remoteState } set { _remoteState = newValue } }
    @exclusivity(unchecked) var _remoteState: DeliveryState?
    /// Settled on our side (§2.6.12).
    public internal(set) var locallySettled: Bool { get { _locallySettled } set { _locallySettled = newValue } }
    @exclusivity(unchecked) var _locallySettled: Bool = false
    /// Settled on the peer's side: it has forgotten the delivery.
    public internal(set) var remotelySettled: Bool { get { _remotelySettled } set { _remotelySettled = newValue } }
    @exclusivity(unchecked) var _remotelySettled: Bool = false
    @exclusivity(unchecked) var sentAnyFrame = false
    @exclusivity(unchecked) var abortRequested = false
    @exclusivity(unchecked) var dispositionQueued = false
    // Receiver under rcv-settle-mode second: accept() settles once the sender has.
    @exclusivity(unchecked) var settleWhenSenderSettles = false

    init(link: Link, tag: DeliveryTag, payload: ArraySlice<UInt8>) {
        self.link = link
        self.deliveryTag = tag
        self.payload = payload
    }

    /// Sender: whether any of it went out. One that never did certainly did not reach the peer,
    /// so it may be sent again elsewhere without risk of a duplicate.
    public var hasBeenSent: Bool { sentAnyFrame }

    /// Receiver: the message, once the whole payload is here (and none of it was read).
    public func message() throws -> Message { try Message(decoding: payload) }

    /// Receiver: takes the bytes that arrived so far, so that a large message can be consumed as it
    /// streams in instead of sitting whole in memory. Taking them frees room in the session's buffer.
    public func readPayload() -> ArraySlice<UInt8> {
        // Swapped out: a copy then an assignment would cost a retain and a release.
        var taken: ArraySlice<UInt8> = []
        swap(&taken, &payload)
        releaseBuffered()
        return taken
    }

    func receive(_ bytes: ArraySlice<UInt8>) {
        if payload.isEmpty { payload = bytes } else { payload.append(contentsOf: bytes) }
        receivedBytes += bytes.count
        bufferedCount += bytes.count
        link.session.bufferedBytes += bytes.count
    }

    /// Stops counting this delivery's bytes against the session buffer, which may reopen the window.
    func releaseBuffered() {
        guard bufferedCount > 0 else { return }
        let s = link.session
        s.bufferedBytes -= bufferedCount
        bufferedCount = 0
        if !s.isReleased { s.withDriver { $0.reopenIncomingWindow(s) } }
    }

    /// Sets our state and optionally settles, sending a disposition (§2.7.6). Settling a received
    /// delivery also releases its bytes from the session buffer. Updates before the next output
    /// go out as one disposition with the latest state. Nothing is sent once the session is
    /// released or the peer has settled (it has forgotten the delivery).
    public func update(_ state: DeliveryState?, settle: Bool = false) {
        localState = state
        if settle { locallySettled = true; releaseBuffered() }
        if remotelySettled || link.session.isReleased { return }
        link.withDriver { $0.queueDisposition(self) }
    }

    /// Receiver shorthand: accept and settle. Under rcv-settle-mode second (§2.8.3) it sends
    /// `accepted` unsettled and settles when the sender settles.
    public func accept() {
        if link.role == .receiver && link.receiverSettleMode == .second && !remotelySettled {
            settleWhenSenderSettles = true
            update(.accepted)
        } else {
            update(.accepted, settle: true)
        }
    }

    /// Settles without changing state.
    public func settle() { update(localState, settle: true) }

    /// Sender: aborts the delivery (§2.6.14). One not yet sent is dropped from the queue; one
    /// partly sent is ended with an aborted transfer, as soon as the session window has room;
    /// one fully sent cannot be aborted (returns false).
    @discardableResult
    public func abort() -> Bool {
        guard link.role == .sender, !isAborted, !abortRequested, !link.isReleased else { return false }
        if !sentAnyFrame {
            guard link.outgoing.remove(self) else { return false }
            isAborted = true
            return true
        }
        // Partly sent: it is at the head of the queue, with payload still to go.
        guard link.outgoing.first === self else { return false }
        abortRequested = true
        link.driver.flushTransfers(link)
        return true
    }
}

@available(*, unavailable)
extension Delivery: Sendable {}

/// A sender's deliveries in the order they go out: a ring, as sending takes from the front and an
/// array would move every element (or reset its storage) on each removal.
struct DeliveryQueue {
    private var ring: ContiguousArray<Delivery?> = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Delivery? { count > 0 ? ring[head] : nil }

    mutating func append(_ d: Delivery) {
        if count == ring.count {
            var bigger = ContiguousArray<Delivery?>(repeating: nil, count: Swift.max(4, ring.count * 2))
            for i in 0..<count { bigger[i] = ring[(head + i) & (ring.count - 1)] }
            ring = bigger
            head = 0
        }
        ring[(head + count) & (ring.count - 1)] = d
        count += 1
    }

    /// The queued deliveries, first to go first.
    var all: [Delivery] { (0..<count).compactMap { ring[(head + $0) & (ring.count - 1)] } }

    mutating func removeFirst() {
        ring[head] = nil
        head = (head + 1) & (ring.count - 1)
        count -= 1
    }

    /// Removes `d` wherever it is; false when it is not queued.
    mutating func remove(_ d: Delivery) -> Bool {
        guard let i = (0..<count).first(where: { ring[(head + $0) & (ring.count - 1)] === d }) else { return false }
        // Close the gap by moving the later ones forward.
        for j in i..<(count - 1) { ring[(head + j) & (ring.count - 1)] = ring[(head + j + 1) & (ring.count - 1)] }
        ring[(head + count - 1) & (ring.count - 1)] = nil
        count -= 1
        return true
    }
}

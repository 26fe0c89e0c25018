import AMQPCodec

/// A link: a one-way route for deliveries between a source and a target (AMQP 1.0 §2.6).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Link {
    /// The session this link runs on.
    public let session: Session
    // The driver, not retained: see "Ownership" in Connection.swift for why it outlives every
    // call that reaches it. Hot paths use `withDriver`, which does not even retain it for the call.
    let driverReference: Unmanaged<ConnectionDriver>
    var driver: ConnectionDriver { driverReference.takeUnretainedValue() }
    @inline(__always) func withDriver<R>(_ body: (ConnectionDriver) -> R) -> R { driverReference._withUnsafeGuaranteedRef(body) }
    /// The link's name, unique per direction between two containers (§2.6.1).
    public let name: String
    /// Our role: a sender sends transfers, a receiver grants credit.
    public let role: Role
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _localState: EndpointState = .uninitialized
    /// Our side: active after ``attach()``, closed after ``detach(closing:_:)``.
    public internal(set) var localState: EndpointState { get { _localState } set { _localState = newValue } }
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _remoteState: EndpointState = .uninitialized
    /// The peer's side: active once its attach arrived (§2.7.3), closed once its detach did (§2.7.6).
    public internal(set) var remoteState: EndpointState { get { _remoteState } set { _remoteState = newValue } }
    /// The source our attach names (§3.5.3); nil refuses the link when answering a peer's attach (§2.6.3).
    @exclusivity(unchecked) public var localSource: Source?
    /// The target our attach names (§3.5.4); nil refuses the link when answering a peer's attach (§2.6.3).
    @exclusivity(unchecked) public var localTarget: Target?
    /// snd-settle-mode of our attach (§2.8.2).
    @exclusivity(unchecked) public var senderSettleMode: SenderSettleMode = .mixed
    /// rcv-settle-mode of our attach (§2.8.3); a receiver's `.second` makes ``Delivery/accept()``
    /// wait for the sender to settle first.
    @exclusivity(unchecked) public var receiverSettleMode: ReceiverSettleMode = .first
    /// Largest message we accept (receiver) or announce (sender) (§2.7.3); nil for no limit.
    @exclusivity(unchecked) public var maxMessageSize: UInt64?
    /// The properties of our attach (§2.7.3).
    @exclusivity(unchecked) public var properties: AMQPMap?
    /// The peer's attach, once it arrived.
    @exclusivity(unchecked) public internal(set) var remoteAttach: Attach?
    /// The error we detached with, if any (§2.7.6).
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    /// The error the peer detached with, if any (§2.7.6).
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?
    /// True once out of the tree (detached both ways, its session ended both ways, or the driver
    /// is gone): calls then do nothing.
    @exclusivity(unchecked) public internal(set) var isReleased = false

    @exclusivity(unchecked) var localHandle: UInt32?
    @exclusivity(unchecked) var remoteHandle: UInt32?
    /// What of this link's lifecycle we have written, in one value: a detach without an attach
    /// cannot be represented.
    enum Written: Equatable {
        /// Nothing yet: the attach waits for the session's begin (or for the peer's open, when
        /// larger than 512 bytes).
        case nothing
        /// Our attach (§2.7.3).
        case attach
        /// Our attach, then our detach (§2.7.6): nothing more for this link.
        case detach
    }
    @exclusivity(unchecked) var written = Written.nothing
    var attachSent: Bool { written != .nothing }
    var detachSent: Bool { written == .detach }
    /// The max-message-size of the peer's attach; 0 for none.
    @exclusivity(unchecked) var peerMaxMessageSize: UInt64 = 0
    // Whether our detach closes the link; kept for a detach that waits for its attach to go out.
    @exclusivity(unchecked) var detachCloses = false
    /// delivery-count (§2.6.7): a serial number, wrapping at 2^32.
    public var deliveryCount: UInt32 { deliveryCountNumber.value }
    @exclusivity(unchecked) var deliveryCountNumber = SerialNumber(0)
    /// Sender: the delivery-count our attach announced, from which a receiver that has not seen
    /// our attach counts (§2.6.7).
    @exclusivity(unchecked) var initialDeliveryCount = SerialNumber(0)
    /// Credit: for a sender, what the receiver granted; for a receiver, what we granted (§2.6.7).
    @exclusivity(unchecked) public internal(set) var credit: UInt32 = 0
    /// Receiver: transfers taken with no credit left since the last grant (see
    /// ``DriverConfiguration/creditOverrunLimit``).
    @exclusivity(unchecked) var overrun: UInt32 = 0
    /// Whether the receiver asked us to use up our credit or give it back (§2.6.7).
    @exclusivity(unchecked) public internal(set) var drain = false
    /// Receiver: how many deliveries the sender says it has waiting (§2.7.4).
    @exclusivity(unchecked) public internal(set) var available: UInt32 = 0
    @exclusivity(unchecked) var outgoing = DeliveryQueue()   // sender: deliveries waiting for credit or window
    @exclusivity(unchecked) var current: Delivery?           // receiver: the delivery still arriving
    @exclusivity(unchecked) var nextTag: UInt64 = 0
    // Set once the application passes a tag of its own: counter tags are then checked against them.
    @exclusivity(unchecked) var usesApplicationTags = false
    @exclusivity(unchecked) var flowQueued = false
    @exclusivity(unchecked) var drainQueued = false
    @exclusivity(unchecked) var bufferCheckQueued = false

    init(session: Session, name: String, role: Role) {
        self.session = session
        self.driverReference = session.driverReference
        self.name = name
        self.role = role
    }

    /// Sends attach (§2.7.3), or answers the peer's. Before the session's begin, it goes out right
    /// after it.
    public func attach() {
        guard localState == .uninitialized, !isReleased else { return }
        localState = .active
        driver.post(.linkLocalOpen(self))
        driver.sendAttach(self)
    }

    /// Sends detach with closed=true (§2.7.6).
    public func close(_ error: AMQPError? = nil) { detach(closing: true, error) }

    /// Sends detach (§2.7.6) from any state: a link the peer attached and we never answered is
    /// attached and detached, so the peer is not left waiting. `closing: false` leaves the link
    /// resumable. The link leaves ``Session/allLinks`` once the peer's detach has arrived too.
    public func detach(closing: Bool = false, _ error: AMQPError? = nil) {
        guard localState != .closed, !isReleased else { return }
        if localState == .uninitialized { attach() }
        guard localState == .active else { return }   // the attach could not be sent: already closed
        localState = .closed
        localError = error
        detachCloses = closing
        driver.post(closing ? .linkLocalClose(self) : .linkLocalDetach(self))
        driver.sendDetach(self, closed: closing)
    }

    /// Refuses a link the peer attached (§2.6.3): answers with an attach whose terminus on our
    /// side is null (target for a receiver, source for a sender), then detaches with `error`.
    public func refuse(_ error: AMQPError) {
        guard localState == .uninitialized else { return }
        if role == .receiver { localTarget = nil } else { localSource = nil }
        close(error)
    }

    /// Receiver: grants `credit` more deliveries (§2.6.7); `drain` asks the sender to use it all
    /// up or give it back. It goes out with the next output.
    public func flow(credit more: UInt32, drain: Bool = false) {
        guard role == .receiver, !isReleased else { return }
        // A grant that at least doubles the credit is what a sender may be waiting for: it is
        // offered to the host's early write at once, so the sender can go on while this side is
        // still busy with the deliveries that used the credit up. Small top-ups per message wait.
        let urgent = more > 0 && more >= credit
        credit &+= more
        if more > 0 { overrun = 0 }
        self.drain = drain
        withDriver { driver in
            driver.queueFlow(self)
            if urgent { driver.offerEarlyWrite(urgent: true) }
        }
    }

    /// Sender: queues an encoded message for sending; it goes out as credit and the session window
    /// allow (§2.6.12). A message over the receiver's max-message-size is not sent: the delivery
    /// gets an ``Delivery/error`` and a delivery event.
    /// - Returns: the delivery, to follow its state.
    @discardableResult
    public func send(_ payload: [UInt8], tag: Binary? = nil, settled: Bool = false, messageFormat: UInt32 = 0) -> Delivery {
        let t: DeliveryTag
        if let tag {
            t = .bytes(tag)
            if let why = refusal(ofTag: tag) {
                let d = Delivery(link: self, tag: t, payload: [])
                d.error = AMQPError(condition: ErrorCondition.invalidField, description: why)
                d.locallySettled = true
                return d
            }
            usesApplicationTags = true
        } else {
            t = takeCounterTag()
        }
        if !isReleased && withDriver({ $0.canSendAtOnce(self, size: payload.count, tagCount: t.count) }) {
            // Straight into the output: no queue, no payload kept.
            let d = Delivery(link: self, tag: t, payload: [])
            d.locallySettled = settled || senderSettleMode == .settled
            d.messageFormat = messageFormat
            withDriver { driver in
                driver.sendAtOnce(d, on: self, payload: payload[...])
                driver.offerEarlyWrite()
            }
            return d
        }
        let d = Delivery(link: self, tag: t, payload: payload[...])
        d.locallySettled = settled || senderSettleMode == .settled
        d.messageFormat = messageFormat
        if isReleased {
            d.error = AMQPError(condition: ErrorCondition.illegalState, description: "link \(name) is released: its connection or session is gone")
            return d
        }
        if peerMaxMessageSize > 0, UInt64(payload.count) > peerMaxMessageSize {
            driver.refuseOversize(d, limit: peerMaxMessageSize)
            return d
        }
        outgoing.append(d)
        withDriver { driver in
            driver.flushTransfers(self)
            driver.offerEarlyWrite()
        }
        return d
    }

    /// Sender: encodes and queues a message (see ``send(_:tag:settled:messageFormat:)``). A
    /// message that can go at once, whole, is encoded straight into the driver's output.
    @discardableResult
    public func send(_ message: borrowing Message, settled: Bool = false) -> Delivery {
        let tag = DeliveryTag.counter(nextTag)
        let settles = settled || senderSettleMode == .settled
        if !isReleased, !usesApplicationTags, let d = withDriver({ $0.trySendAtOnce(message, on: self, tag: tag, settled: settles) }) {
            nextTag &+= 1
            withDriver { $0.offerEarlyWrite() }
            return d
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(message.encodedSize)
        message.encode(into: &bytes)
        return send(bytes, settled: settled)
    }

    /// Why an application's tag cannot be used: longer than §2.8.7 allows, or the tag of a
    /// delivery of this link that is still unsettled (the peer could not tell them apart). Nil when
    /// it can. The check walks the link's unsettled deliveries: application tags cost that.
    private func refusal(ofTag tag: Binary) -> String? {
        if tag.count > DeliveryTag.maxCount {
            return "delivery-tag of \(tag.count) bytes: at most \(DeliveryTag.maxCount) (§2.8.7)"
        }
        if tagIsInUse(tag) { return "delivery-tag \(tag) is the tag of an unsettled delivery of link \(name)" }
        return nil
    }

    private func tagIsInUse(_ tag: Binary) -> Bool {
        if session.unsettledOutgoing.all.contains(where: { $0.link === self && $0.tag == tag }) { return true }
        return outgoing.all.contains { $0.tag == tag }
    }

    /// The next tag of the counter. Once the application has used tags of its own, a counter tag
    /// equal to one of theirs still unsettled is stepped over.
    private func takeCounterTag() -> DeliveryTag {
        var t = DeliveryTag.counter(nextTag)
        nextTag &+= 1
        while usesApplicationTags && tagIsInUse(t.binary) {
            t = .counter(nextTag)
            nextTag &+= 1
        }
        return t
    }

    /// Deliveries of this link that are not settled on our side and that the link still holds:
    /// sent and awaiting their outcome, or (sender) queued and not sent yet, in delivery-id order
    /// and then queue order. A host uses it when a connection drops, to report or resend them.
    /// Empty once the link is released.
    public var unsettledDeliveries: [Delivery] {
        guard !isReleased else { return [] }
        let table = role == .sender ? session.unsettledOutgoing : session.unsettledIncoming
        let held = table.all.filter { $0.link === self && !$0.locallySettled }.sorted { ($0.id ?? 0) &- ($1.id ?? 0) > UInt32.max / 2 }
        let queued = role == .sender ? outgoing.all.filter { !$0.hasBeenSent } : []
        return held + queued
    }

    /// Deliveries queued but not yet fully sent: watch it for back-pressure, as the queue grows
    /// for as long as the application sends faster than credit and window allow.
    public var queued: Int { outgoing.count }

    /// Leaves the tree: drops what it still holds, which points back at it.
    func release() {
        isReleased = true
        outgoing = DeliveryQueue()
        current = nil
    }
}

@available(*, unavailable)
extension Link: Sendable {}

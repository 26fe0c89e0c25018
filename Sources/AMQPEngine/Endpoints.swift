import AMQPCodec

// Every stored `var` of the engine's classes (here and in ConnectionDriver) is marked
// `@exclusivity(unchecked)`: the runtime check, a thread-local access set consulted on every read
// and write, cost over a tenth of the transfer path. It is not needed: these objects are confined to
// their driver's thread (not `Sendable`), and no callback runs while one of their properties is
// being modified, so two accesses to one property can never overlap at run time; overlaps within
// one function are still rejected by the compiler's static check.

// Ownership: the driver owns its connection, a connection its sessions, a session its links and
// unsettled deliveries. Endpoints point up at their parent strongly, so the walk from a delivery to
// its session costs no `unowned` check, and at the driver with `unowned`, so the driver itself is in
// no cycle: when the host drops it, its deinit cuts the references down the tree and everything
// the application no longer holds is freed.

/// Where an endpoint is, from one side's point of view (Proton's `PN_LOCAL_*`/`PN_REMOTE_*`).
public enum EndpointState: Sendable, Hashable {
    case uninitialized, active, closed
}

/// The connection a ``ConnectionDriver`` runs (AMQP 1.0 §2.4).
///
/// Threading: belongs to its driver; not `Sendable`, so it cannot leave the driver's thread.
public final class Connection {
    unowned let driver: ConnectionDriver
    @exclusivity(unchecked) public internal(set) var localState: EndpointState = .uninitialized
    @exclusivity(unchecked) public internal(set) var remoteState: EndpointState = .uninitialized
    /// What we send in our open. Change it before ``open()``.
    @exclusivity(unchecked) public var localOpen: Open
    /// The peer's open, once it arrived.
    @exclusivity(unchecked) public internal(set) var remoteOpen: Open?
    /// The error we closed with, if any.
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    /// The error the peer closed with, if any.
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?
    @exclusivity(unchecked) var sessions: [Session] = []
    @exclusivity(unchecked) var sessionsByRemoteChannel = EndpointMap<UInt16, Session>()

    init(driver: ConnectionDriver, containerID: String) {
        self.driver = driver
        self.localOpen = Open(containerID: containerID)
    }

    /// Sends open (AMQP 1.0 §2.7.1).
    public func open() {
        guard localState == .uninitialized else { return }
        localState = .active
        driver.post(.connectionLocalOpen(self))
        driver.sendOpenIfReady()
    }

    /// Sends close with an optional error (§2.7.9); the transport closes once the peer answers.
    public func close(_ error: AMQPError? = nil) {
        guard localState != .closed else { return }
        if localState == .uninitialized { open() }
        localState = .closed
        localError = error
        driver.post(.connectionLocalClose(self))
        driver.sendCloseFrame()
    }

    /// Creates a session; call ``Session/begin()`` to start it.
    public func session(incomingWindow: UInt32? = nil) -> Session {
        let s = Session(connection: self, incomingWindow: incomingWindow ?? driver.configuration.sessionIncomingWindow)
        sessions.append(s)
        return s
    }

    /// Sessions that exist on this side.
    public var allSessions: [Session] { sessions }
}

@available(*, unavailable)
extension Connection: Sendable {}

/// A session: a sequenced, windowed channel of transfers (AMQP 1.0 §2.5).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Session {
    public let connection: Connection
    unowned let driver: ConnectionDriver
    @exclusivity(unchecked) public internal(set) var localState: EndpointState = .uninitialized
    @exclusivity(unchecked) public internal(set) var remoteState: EndpointState = .uninitialized
    @exclusivity(unchecked) public internal(set) var localChannel: UInt16?
    @exclusivity(unchecked) public internal(set) var remoteChannel: UInt16?
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?

    // §2.5.6 accounting. Outgoing side:
    @exclusivity(unchecked) var nextOutgoingID: UInt32 = 0
    let outgoingWindow: UInt32 = .max
    @exclusivity(unchecked) var remoteIncomingWindow: UInt32 = 0
    @exclusivity(unchecked) var remoteNextIncomingID: UInt32 = 0
    // Incoming side:
    /// The number of transfer frames we let the peer send before we grant more.
    public let incomingWindow: UInt32
    @exclusivity(unchecked) var nextIncomingID: UInt32 = 0
    @exclusivity(unchecked) var incomingWindowLeft: UInt32
    @exclusivity(unchecked) var remoteOutgoingWindow: UInt32 = 0
    @exclusivity(unchecked) var remoteHandleMax: UInt32 = .max
    /// Payload bytes received on this session and not yet read or settled by the application.
    @exclusivity(unchecked) public internal(set) var bufferedBytes = 0

    @exclusivity(unchecked) var links: [Link] = []
    @exclusivity(unchecked) var linksByRemoteHandle = EndpointMap<UInt32, Link>()
    @exclusivity(unchecked) var unsettledOutgoing = DeliveryTable()
    @exclusivity(unchecked) var unsettledIncoming = DeliveryTable()
    @exclusivity(unchecked) var nextDeliveryID: UInt32 = 0

    init(connection: Connection, incomingWindow: UInt32) {
        self.connection = connection
        self.driver = connection.driver
        self.incomingWindow = max(1, incomingWindow)
        self.incomingWindowLeft = max(1, incomingWindow)
    }

    /// Sends begin (§2.7.2).
    public func begin() {
        guard localState == .uninitialized else { return }
        localState = .active
        driver.post(.sessionLocalBegin(self))
        driver.sendBegin(self)
    }

    /// Sends end (§2.7.7).
    public func end(_ error: AMQPError? = nil) {
        guard localState == .active else { return }
        localState = .closed
        localError = error
        driver.post(.sessionLocalEnd(self))
        driver.sendEnd(self)
    }

    /// Creates a sending link to `target`; call ``Link/attach()`` to open it.
    public func sender(name: String, target: String? = nil) -> Link {
        makeLink(name, .sender, source: Source(), target: Target(address: target))
    }

    /// Creates a receiving link from `source`; call ``Link/attach()`` then ``Link/flow(credit:)``.
    public func receiver(name: String, source: String? = nil) -> Link {
        makeLink(name, .receiver, source: Source(address: source), target: Target())
    }

    private func makeLink(_ name: String, _ role: Role, source: Source, target: Target) -> Link {
        let l = Link(session: self, name: name, role: role)
        l.localSource = source
        l.localTarget = target
        links.append(l)
        return l
    }

    /// Links that exist on this side.
    public var allLinks: [Link] { links }
}

@available(*, unavailable)
extension Session: Sendable {}

/// A link: a one-way route for deliveries between a source and a target (AMQP 1.0 §2.6).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Link {
    public let session: Session
    unowned let driver: ConnectionDriver
    public let name: String
    /// Our role: a sender sends transfers, a receiver grants credit.
    public let role: Role
    @exclusivity(unchecked) public internal(set) var localState: EndpointState = .uninitialized
    @exclusivity(unchecked) public internal(set) var remoteState: EndpointState = .uninitialized
    @exclusivity(unchecked) public var localSource: Source?
    @exclusivity(unchecked) public var localTarget: Target?
    @exclusivity(unchecked) public var senderSettleMode: SenderSettleMode = .mixed
    @exclusivity(unchecked) public var receiverSettleMode: ReceiverSettleMode = .first
    /// Largest message we accept (receiver) or announce (sender); nil for no limit.
    @exclusivity(unchecked) public var maxMessageSize: UInt64?
    @exclusivity(unchecked) public var properties: AMQPMap?
    /// The peer's attach, once it arrived.
    @exclusivity(unchecked) public internal(set) var remoteAttach: Attach?
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?

    @exclusivity(unchecked) var localHandle: UInt32?
    @exclusivity(unchecked) var remoteHandle: UInt32?
    /// Serial number (§2.6.7), compared with wraparound.
    @exclusivity(unchecked) public internal(set) var deliveryCount: UInt32 = 0
    /// Credit: for a sender, what the receiver granted; for a receiver, what we granted.
    @exclusivity(unchecked) public internal(set) var credit: UInt32 = 0
    /// Whether the receiver asked us to use up our credit or give it back (§2.6.7).
    @exclusivity(unchecked) public internal(set) var drain = false
    @exclusivity(unchecked) public internal(set) var available: UInt32 = 0
    @exclusivity(unchecked) var outgoing = DeliveryQueue()   // sender: deliveries waiting for credit or window
    @exclusivity(unchecked) var current: Delivery?           // receiver: the delivery still arriving
    @exclusivity(unchecked) var nextTag: UInt64 = 0
    @exclusivity(unchecked) var flowQueued = false

    init(session: Session, name: String, role: Role) {
        self.session = session
        self.driver = session.driver
        self.name = name
        self.role = role
    }

    /// Sends attach (§2.7.3).
    public func attach() {
        guard localState == .uninitialized else { return }
        localState = .active
        driver.post(.linkLocalOpen(self))
        driver.sendAttach(self)
    }

    /// Sends detach with closed=true (§2.7.6).
    public func close(_ error: AMQPError? = nil) { detach(closing: true, error) }

    /// Sends detach; `closing: false` leaves the link resumable.
    public func detach(closing: Bool = false, _ error: AMQPError? = nil) {
        guard localState == .active else { return }
        localState = .closed
        localError = error
        driver.post(closing ? .linkLocalClose(self) : .linkLocalDetach(self))
        driver.sendDetach(self, closed: closing)
    }

    /// Receiver: grants `credit` more deliveries (§2.6.7).
    public func flow(credit more: UInt32, drain: Bool = false) {
        guard role == .receiver else { return }
        credit &+= more
        self.drain = drain
        driver.queueFlow(self)
    }

    /// Sender: queues an encoded message for sending; it goes out as credit and window allow.
    /// - Returns: the delivery, to follow its state.
    @discardableResult
    public func send(_ payload: [UInt8], tag: Binary? = nil, settled: Bool = false, messageFormat: UInt32 = 0) -> Delivery {
        let t = tag.map { DeliveryTag.bytes($0) } ?? .counter(nextTag)
        nextTag &+= 1
        let d = Delivery(link: self, tag: t, payload: payload[...])
        d.locallySettled = settled || senderSettleMode == .settled
        d.messageFormat = messageFormat
        outgoing.append(d)
        driver.flushTransfers(self)
        return d
    }

    /// Sender: encodes and queues a message.
    @discardableResult
    public func send(_ message: Message, settled: Bool = false) -> Delivery { send(message.encoded, settled: settled) }

    /// Deliveries queued but not yet fully sent.
    public var queued: Int { outgoing.count }
}

@available(*, unavailable)
extension Link: Sendable {}

/// One message transfer and its state (AMQP 1.0 §2.6.12).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Delivery {
    public let link: Link
    /// The delivery tag (§2.8.7); unique among the link's unsettled deliveries.
    public var tag: Binary { deliveryTag.binary }
    let deliveryTag: DeliveryTag
    @exclusivity(unchecked) public internal(set) var id: UInt32?
    @exclusivity(unchecked) public internal(set) var messageFormat: UInt32 = 0
    /// Received bytes not yet taken with ``readPayload()`` (receiver), or bytes still to send (sender).
    @exclusivity(unchecked) public internal(set) var payload: ArraySlice<UInt8>
    /// Receiver: every payload byte that arrived, taken or not.
    @exclusivity(unchecked) public internal(set) var receivedBytes = 0
    // Receiver: how many of `payload`'s bytes count towards the session's bufferedBytes.
    @exclusivity(unchecked) var bufferedCount = 0
    /// Receiver: more transfers of this delivery are still to come.
    @exclusivity(unchecked) public internal(set) var isPartial = false
    @exclusivity(unchecked) public internal(set) var isAborted = false
    @exclusivity(unchecked) public internal(set) var localState: DeliveryState?
    @exclusivity(unchecked) public internal(set) var remoteState: DeliveryState?
    @exclusivity(unchecked) public internal(set) var locallySettled = false
    @exclusivity(unchecked) public internal(set) var remotelySettled = false
    @exclusivity(unchecked) var sentAnyFrame = false

    init(link: Link, tag: DeliveryTag, payload: ArraySlice<UInt8>) {
        self.link = link
        self.deliveryTag = tag
        self.payload = payload
    }

    /// Receiver: the message, once the whole payload is here (and none of it was read).
    public func message() throws -> Message { try Message(decoding: payload) }

    /// Receiver: takes the bytes that arrived so far, so that a large message can be consumed as it
    /// streams in instead of sitting whole in memory. Taking them frees room in the session's buffer.
    public func readPayload() -> ArraySlice<UInt8> {
        let taken = payload
        payload = []
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
        s.driver.reopenIncomingWindow(s)
    }

    /// Sets our state and optionally settles, sending a disposition (§2.7.5). Settling a received
    /// delivery also releases its bytes from the session buffer.
    public func update(_ state: DeliveryState?, settle: Bool = false) {
        localState = state
        if settle { locallySettled = true; releaseBuffered() }
        // The peer forgot a delivery it settled; a disposition would name an id it no longer knows.
        if remotelySettled { return }
        link.driver.queueDisposition(self)
    }

    /// Receiver shorthand: accept and settle.
    public func accept() { update(.accepted, settle: true) }
    /// Settles without changing state.
    public func settle() { update(localState, settle: true) }
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

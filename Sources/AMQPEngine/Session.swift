import AMQPCodec

/// A session: a sequenced, windowed channel of transfers (AMQP 1.0 §2.5).
///
/// Threading: belongs to its driver; not `Sendable`.
public final class Session {
    /// The connection this session runs on.
    public let connection: Connection
    // The driver, not retained: see "Ownership" in Connection.swift for why it outlives every
    // call that reaches it. Hot paths use `withDriver`, which does not even retain it for the call.
    let driverReference: Unmanaged<ConnectionDriver>
    var driver: ConnectionDriver { driverReference.takeUnretainedValue() }
    @inline(__always) func withDriver<R>(_ body: (ConnectionDriver) -> R) -> R { driverReference._withUnsafeGuaranteedRef(body) }
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _localState: EndpointState = .uninitialized
    /// Our side: active after ``begin()``, closed after ``end(_:)``.
    public internal(set) var localState: EndpointState { get { _localState } set { _localState = newValue } }
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _remoteState: EndpointState = .uninitialized
    /// The peer's side: active once its begin arrived (§2.7.2), closed once its end did (§2.7.7).
    public internal(set) var remoteState: EndpointState { get { _remoteState } set { _remoteState = newValue } }
    /// The channel our frames for this session use (§2.5.1).
    @exclusivity(unchecked) public internal(set) var localChannel: UInt16?
    /// The channel the peer's frames for this session use.
    @exclusivity(unchecked) public internal(set) var remoteChannel: UInt16?
    /// The error we ended with, if any (§2.7.7).
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    /// The error the peer ended with, if any (§2.7.7).
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?
    /// True once out of the tree (ended both ways, or the driver is gone): calls then do nothing.
    @exclusivity(unchecked) public internal(set) var isReleased = false
    /// What of this session's lifecycle we have written, in one value: an end without a begin,
    /// or a begin after the end, cannot be represented.
    enum Written: Equatable {
        /// Nothing yet: the begin waits for our open or for a free channel.
        case nothing
        /// Our begin (§2.7.2).
        case begin
        /// Our begin, then our end (§2.7.7): nothing more for this session.
        case end
    }
    @exclusivity(unchecked) var written = Written.nothing
    var beginSent: Bool { written != .nothing }
    var endSent: Bool { written == .end }

    // §2.5.6 accounting. Outgoing side:
    static let initialOutgoingID = SerialNumber(0)
    @exclusivity(unchecked) var nextOutgoingID = Session.initialOutgoingID
    let outgoingWindow: UInt32 = .max
    @exclusivity(unchecked) var remoteIncomingWindow: UInt32 = 0
    // Incoming side:
    /// The number of transfer frames we let the peer send before we grant more (§2.5.6).
    public let incomingWindow: UInt32
    @exclusivity(unchecked) var nextIncomingID = SerialNumber(0)
    @exclusivity(unchecked) var incomingWindowLeft: UInt32
    @exclusivity(unchecked) var remoteOutgoingWindow: UInt32 = 0
    @exclusivity(unchecked) var remoteHandleMax: UInt32 = .max
    /// Payload bytes received on this session and not yet read or settled by the application.
    @exclusivity(unchecked) public internal(set) var bufferedBytes = 0

    @exclusivity(unchecked) var links: [Link] = []
    @exclusivity(unchecked) var linksByRemoteHandle = EndpointMap<UInt32, Link>()
    @exclusivity(unchecked) var unsettledOutgoing = DeliveryTable()
    @exclusivity(unchecked) var unsettledIncoming = DeliveryTable()
    @exclusivity(unchecked) var nextDeliveryID = SerialNumber(0)

    init(connection: Connection, incomingWindow: UInt32) {
        self.connection = connection
        self.driverReference = connection.driverReference
        self.incomingWindow = max(1, incomingWindow)
        self.incomingWindowLeft = max(1, incomingWindow)
    }

    /// Our frames for this session may go: begin sent, end not, and the peer has not ended.
    var canSend: Bool { beginSent && !endSent && remoteState != .closed }

    /// Sends begin (§2.7.2), or answers the peer's. Before the connection's open, it goes out
    /// right after it.
    public func begin() {
        guard localState == .uninitialized, !isReleased else { return }
        localState = .active
        driver.post(.sessionLocalBegin(self))
        driver.sendBegin(self)
    }

    /// Sends end (§2.7.7), from any state: a session the peer began and we never answered is
    /// begun and ended, so the peer is not left waiting. The session leaves
    /// ``Connection/allSessions`` once the peer's end has arrived too.
    public func end(_ error: AMQPError? = nil) {
        guard localState != .closed, !isReleased else { return }
        if localState == .uninitialized { begin() }
        guard localState == .active else { return }   // no channel was free: already ended
        localState = .closed
        localError = error
        driver.post(.sessionLocalEnd(self))
        driver.sendEnd(self)
    }

    /// Creates a sending link to `target`; call ``Link/attach()`` to open it (§2.6).
    public func sender(name: String, target: String? = nil) -> Link {
        makeLink(name, .sender, source: Source(), target: Target(address: target))
    }

    /// Creates a receiving link from `source`; call ``Link/attach()`` then ``Link/flow(credit:drain:)`` (§2.6).
    public func receiver(name: String, source: String? = nil) -> Link {
        makeLink(name, .receiver, source: Source(address: source), target: Target())
    }

    private func makeLink(_ name: String, _ role: Role, source: Source, target: Target) -> Link {
        precondition(!isReleased, "Session.sender()/receiver(): the session has ended both ways or its ConnectionDriver is gone")
        let l = Link(session: self, name: name, role: role)
        l.localSource = source
        l.localTarget = target
        links.append(l)
        return l
    }

    /// Links in the tree: not yet detached both ways.
    public var allLinks: [Link] { links }

    /// Takes a link detached both ways out of the session.
    func forget(_ l: Link) {
        if let i = links.firstIndex(where: { $0 === l }) { links.remove(at: i) }
        dropUnsettled(of: l)
        l.release()
    }

    /// A link detached both ways leaves no unsettled state behind (§2.6.6): its deliveries stop
    /// counting toward ``DriverConfiguration/maxUnsettledDeliveries``, stop pinning the tables'
    /// rings, and give their buffered bytes back to the session window.
    private func dropUnsettled(of l: Link) {
        if l.role == .sender {
            for d in unsettledOutgoing.all where d.link === l { if let id = d.id { unsettledOutgoing.remove(id) } }
        } else {
            for d in unsettledIncoming.all where d.link === l {
                if let id = d.id { unsettledIncoming.remove(id) }
                d.releaseBuffered()
            }
        }
    }

    /// Forgets every delivery in flight: the session is over.
    func dropDeliveries() {
        unsettledOutgoing.removeAll()
        unsettledIncoming.removeAll()
        for l in links {
            l.outgoing = DeliveryQueue()
            l.current = nil
        }
        bufferedBytes = 0
    }

    /// Leaves the tree: cuts the references down to links and deliveries, which point back up.
    func release() {
        isReleased = true
        dropDeliveries()
        for l in links { l.release() }
        links = []
        linksByRemoteHandle.removeAll()
    }
}

@available(*, unavailable)
extension Session: Sendable {}

import AMQPCodec

// Every stored `var` of the engine's classes (here, in Session, Link, Delivery and ConnectionDriver)
// is marked `@exclusivity(unchecked)`: the runtime check, a thread-local access set consulted on
// every read and write, cost over a tenth of the transfer path. It is not needed: these objects are
// confined to their driver's thread (not `Sendable`), and no callback runs while one of their
// properties is being modified, so two accesses to one property can never overlap at run time;
// overlaps within one function are still rejected by the compiler's static check.

// Ownership: the driver owns its connection, a connection its sessions, a session its links and
// unsettled deliveries. Endpoints point up at their parent strongly, so the walk from a delivery to
// its session costs no `unowned` check, and at the driver without retaining it (`Unmanaged`), so
// the driver itself is in no cycle and a call costs no reference count. That reference is safe
// because every path from an endpoint to its driver first checks that the endpoint is not released,
// and the driver's deinit releases every endpoint before it is gone (OwnershipTests; the engine's
// tests also pass under the address sanitizer). An endpoint leaves the tree ("is released") when it is closed both ways, or when the
// driver is freed (its deinit cuts the references down the tree); everything the application no
// longer holds is then freed. Calls that change a released endpoint do nothing (they never reach
// the freed driver); creating a session or link on one is a programming error and stops with a
// precondition message.

/// Where an endpoint is, from one side's point of view (Proton's `PN_LOCAL_*`/`PN_REMOTE_*`).
///
/// Threading: a plain value type, `Sendable`.
public enum EndpointState: Sendable, Hashable {
    /// Not opened (begun, attached) yet.
    case uninitialized
    /// Opened and not closed.
    case active
    /// Closed (ended, detached).
    case closed
}

/// The connection a ``ConnectionDriver`` runs (AMQP 1.0 §2.4).
///
/// Threading: belongs to its driver; not `Sendable`, so it cannot leave the driver's thread.
public final class Connection {
    // The driver, not retained: see "Ownership" in Connection.swift for why it outlives every
    // call that reaches it. Hot paths use `withDriver`, which does not even retain it for the call.
    let driverReference: Unmanaged<ConnectionDriver>
    var driver: ConnectionDriver { driverReference.takeUnretainedValue() }
    @inline(__always) func withDriver<R>(_ body: (ConnectionDriver) -> R) -> R { driverReference._withUnsafeGuaranteedRef(body) }
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _localState: EndpointState = .uninitialized
    /// Our side: open after ``open()``, closed after ``close(_:)`` or a transport failure.
    public internal(set) var localState: EndpointState { get { _localState } set { _localState = newValue } }
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _remoteState: EndpointState = .uninitialized
    /// The peer's side: open once its open arrived (§2.7.1), closed once its close did (§2.7.9).
    public internal(set) var remoteState: EndpointState { get { _remoteState } set { _remoteState = newValue } }
    /// The peer's open, once it arrived (§2.7.1).
    @exclusivity(unchecked) public internal(set) var remoteOpen: Open?
    /// The error we closed with, if any (§2.7.9).
    @exclusivity(unchecked) public internal(set) var localError: AMQPError?
    /// The error the peer closed with, if any (§2.7.9).
    @exclusivity(unchecked) public internal(set) var remoteError: AMQPError?
    /// True once the driver is gone: calls on this connection then do nothing.
    @exclusivity(unchecked) public internal(set) var isReleased = false
    @exclusivity(unchecked) var sessions: [Session] = []
    @exclusivity(unchecked) var sessionsByRemoteChannel = EndpointMap<UInt16, Session>()

    init(driver: ConnectionDriver, containerID: String) {
        self.driverReference = Unmanaged.passUnretained(driver)
    }

    /// Sends open (AMQP 1.0 §2.7.1), with what the driver's ``DriverConfiguration`` announces.
    public func open() {
        guard localState == .uninitialized, !isReleased else { return }
        localState = .active
        driver.post(.connectionLocalOpen(self))
        driver.sendOpenIfReady()
    }

    /// Sends close with an optional error (§2.7.9), after an open if none was sent; the transport
    /// closes once the peer answers with its close. Nothing is sent after it.
    public func close(_ error: AMQPError? = nil) {
        guard localState != .closed, !isReleased else { return }
        if localState == .uninitialized { open() }
        localState = .closed
        localError = error
        driver.post(.connectionLocalClose(self))
        driver.sendCloseFrame()
    }

    /// Creates a session; call ``Session/begin()`` to start it (§2.5).
    public func session(incomingWindow: UInt32? = nil) -> Session {
        precondition(!isReleased, "Connection.session(): the connection's ConnectionDriver is gone")
        let s = Session(connection: self, incomingWindow: incomingWindow ?? driver.configuration.sessionIncomingWindow)
        sessions.append(s)
        return s
    }

    /// Sessions in the tree: not yet ended both ways. A session leaves once its end has gone both
    /// ways, so a long-lived connection does not collect them.
    public var allSessions: [Session] { sessions }

    /// Takes a session ended both ways out of the tree.
    func forget(_ s: Session) {
        if let i = sessions.firstIndex(where: { $0 === s }) { sessions.remove(at: i) }
        if let c = s.remoteChannel, sessionsByRemoteChannel[c] === s { sessionsByRemoteChannel[c] = nil }
        s.release()
    }
}

@available(*, unavailable)
extension Connection: Sendable {}

import AMQPProactor
import AMQPSystem

/// Work for one connection, added from any thread and run in that connection's sequence (Proton
/// C++'s `work_queue`): the only way to touch a connection from outside its handler.
///
/// Work closures are `@Sendable`, so they cannot capture the connection's objects (links,
/// deliveries), which are not `Sendable`: they receive the connection's ``MessagingConnection``
/// when they run, and reach the objects from there.
///
/// The guarantee: work that ``add(_:)`` took (it returned true) runs exactly once, in order, in
/// the connection's sequence, and work it refused (false) never runs. Work runs in the
/// connection's next batch; if the transport closes first, it runs on the next connection a
/// reconnect makes, or, when the connection closes for good, just before
/// ``MessagingHandler/onTransportClose(_:)``, with ``MessagingConnection/isTransportClosed``
/// true (nothing it does reaches the peer then). From that moment on the queue is closed and
/// `add` returns false. Work runs only while the container runs.
///
/// Threading: every method is safe from any thread.
public final class WorkQueue: Sendable {
    /// A unit of work: runs on the connection's thread, with its connection.
    public typealias Work = @Sendable (MessagingConnection) -> Void

    struct State {
        var items: [Work] = []
        var closed = false
        var wakeRequested = false
        var handle: ProactorConnection?
    }

    let state = LockedValue(State())
    // For scheduled work. The container keeps a queue only while its connection lives, so this
    // reference makes no lasting cycle.
    private let container: Container

    init(container: Container) { self.container = container }

    /// Adds `work`, to run after what is already queued.
    /// - Returns: true when the work will run (see ``WorkQueue`` for when, at the latest just
    ///   before ``MessagingHandler/onTransportClose(_:)``); false when the connection is gone or
    ///   closing for good (``MessagingHandler/onTransportClose(_:)`` has begun): the work is not
    ///   kept and never runs.
    @discardableResult
    public func add(_ work: @escaping Work) -> Bool {
        let (added, handle): (Bool, ProactorConnection?) = state.withLock { s in
            guard !s.closed else { return (false, nil) }
            s.items.append(work)
            return (true, s.handle)
        }
        // Before the connection's first batch there is no handle yet: that batch runs the work.
        handle?.wake()
        return added
    }

    /// Adds `work` after `delay`; it runs once, in order with other work due at the same time.
    ///
    /// Scheduled work is a timer on the connection: if the connection closes for good before
    /// `delay` has passed, the timer is cancelled and the work does not run (it is not run early).
    /// - Returns: false when the connection is already gone; true when the timer is set.
    @discardableResult
    public func schedule(after delay: Duration, _ work: @escaping Work) -> Bool {
        guard state.withLock({ !$0.closed }) else { return false }
        container.schedule(after: delay) { [self] in add(work) }
        return true
    }

    /// Asks for ``MessagingHandler/onConnectionWake(_:)`` in the connection's sequence.
    /// - Returns: true when the call will come (as work from ``add(_:)`` runs, at the latest
    ///   before ``MessagingHandler/onTransportClose(_:)``); false when the connection is gone.
    @discardableResult
    public func wake() -> Bool {
        let (open, handle): (Bool, ProactorConnection?) = state.withLock { s in
            guard !s.closed else { return (false, nil) }
            s.wakeRequested = true
            return (true, s.handle)
        }
        handle?.wake()
        return open
    }

    /// Whether the connection is still there to run work.
    public var isOpen: Bool { state.withLock { !$0.closed } }

    func attach(_ handle: ProactorConnection?) {
        state.withLock { $0.handle = handle }
    }

    /// What is queued now, and whether a wake was asked for; the queue is left empty.
    func take() -> (items: [Work], wake: Bool) {
        state.withLock { s in
            defer { s.items = []; s.wakeRequested = false }
            return (s.items, s.wakeRequested)
        }
    }

    /// No more work: later ``add(_:)`` calls return false. Returns, in the same step, what is still
    /// queued and whether a wake was asked for, for the container to run before the connection's
    /// end: work that `add` took must run (see ``WorkQueue``).
    func close() -> (items: [Work], wake: Bool) {
        state.withLock { s in
            defer { s.closed = true; s.items = []; s.wakeRequested = false; s.handle = nil }
            return (s.items, s.wakeRequested)
        }
    }
}

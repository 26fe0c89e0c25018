import AMQPProactor
import AMQPSystem

/// Work for one connection, added from any thread and run in that connection's sequence (Proton
/// C++'s `work_queue`): the only way to touch a connection from outside its handler.
///
/// Work closures are `@Sendable`, so they cannot capture the connection's objects (links,
/// deliveries), which are not `Sendable`: they receive the connection's ``MessagingConnection``
/// when they run, and reach the objects from there.
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
    /// - Returns: false when the connection is gone; the work is then dropped and never runs.
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
    /// - Returns: false when the connection is already gone.
    @discardableResult
    public func schedule(after delay: Duration, _ work: @escaping Work) -> Bool {
        guard state.withLock({ !$0.closed }) else { return false }
        container.schedule(after: delay) { [self] in add(work) }
        return true
    }

    /// Asks for ``MessagingHandler/onConnectionWake(_:)`` in the connection's sequence.
    /// - Returns: false when the connection is gone.
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

    /// No more work: later ``add(_:)`` calls return false. Work still queued is dropped.
    func close() {
        state.withLock { s in
            s.closed = true
            s.items = []
            s.handle = nil
        }
    }
}

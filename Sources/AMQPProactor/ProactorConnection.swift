import AMQPEngine

/// A handle on a connection that a proactor runs, usable from any thread.
///
/// Unlike Proton's `pn_connection_wake`, ``wake()`` is safe at any time, also after the
/// connection is gone: it then does nothing and says so.
///
/// Threading: `Sendable`; every member is safe from any thread.
public final class ProactorConnection: Sendable {
    // Written once, here, before the handle is shared; the runtime makes weak loads safe against
    // the task's deallocation on another thread.
    private weak let task: ConnectionTask?
    private weak let scheduler: (any ConnectionScheduler)?

    package init(task: ConnectionTask, scheduler: any ConnectionScheduler) {
        self.task = task
        self.scheduler = scheduler
    }

    /// Asks for an `AMQPEvent.connectionWake` in the connection's next batch. Wakes
    /// coalesce: several before that batch make one event, after the IO that came before them.
    /// - Returns: false when the connection is gone (closed and freed, or released).
    @discardableResult
    public func wake() -> Bool {
        guard let task, let scheduler else { return false }
        return scheduler.wake(task)
    }

    /// Whether the proactor still runs the connection.
    public var isAlive: Bool {
        guard let task, let scheduler else { return false }
        return scheduler.isAlive(task)
    }
}

/// What a connection handle needs of its proactor.
package protocol ConnectionScheduler: AnyObject, Sendable {
    func wake(_ task: ConnectionTask) -> Bool
    func isAlive(_ task: ConnectionTask) -> Bool
}

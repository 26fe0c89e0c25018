import AMQPCodec
import AMQPEngine
import AMQPSystem

/// A ``Proactor`` over any ``ReadinessPoller``: the epoll backend, `Integrations/PollPoller`, and
/// any poller a user writes against the SPI.
///
/// The scheduling (tasks, the ready queue, the leader/follower wait, wakes, timers, interrupts,
/// inactivity) is `ProactorScheduler`'s, shared with any backend; what is readiness-specific is
/// here and in the two extensions: sockets, reading into and writing from the driver, arming the
/// poller, accepting. `Docs/Pollers.md` describes both.
///
/// Threading: `Sendable`; its state is the scheduler's (behind its lock) and the poller's.
public final class ReadinessProactor<Poller: ReadinessPoller>: Proactor, SchedulerIO {
    /// The poller this proactor waits on.
    public let poller: Poller
    let scheduler = ProactorScheduler()

    /// How long a listener out of descriptors (`EMFILE`) waits before it tries again, unless a
    /// descriptor is closed sooner.
    public static var acceptBackoff: Duration { ProactorScheduler.acceptBackoff }

    /// Output bytes at which a connection's driver writes in the middle of a batch (see
    /// `ConnectionDriver.setEarlyWrite(threshold:_:)` in AMQPEngine).
    public let earlyWriteThreshold: Int

    /// A proactor waiting on `poller`; `earlyWriteThreshold` as ``EarlyWrite/threshold``.
    public init(poller: Poller, earlyWriteThreshold: Int = EarlyWrite.threshold) {
        self.poller = poller
        self.earlyWriteThreshold = earlyWriteThreshold
        scheduler.attach(self)
    }

    /// See ``Proactor/now``: `ContinuousClock`.
    public var now: ContinuousClock.Instant { .now }
    /// See ``Proactor/wait()``.
    public func wait() -> ProactorBatch { scheduler.wait() }
    /// See ``Proactor/get()``.
    public func get() -> ProactorBatch? { scheduler.get() }
    /// See ``Proactor/done(_:)``.
    public func done(_ batch: ProactorBatch) { scheduler.done(batch) }
    /// See ``Proactor/interrupt()``: an atomic increment and the poller's wake, nothing else.
    public func interrupt() { scheduler.interrupt() }
    /// See ``Proactor/setTimeout(_:)``.
    public func setTimeout(_ timeout: Duration) { scheduler.setTimeout(timeout) }
    /// See ``Proactor/cancelTimeout()``.
    public func cancelTimeout() { scheduler.cancelTimeout() }
    /// See ``Proactor/disconnect(_:)``.
    public func disconnect(_ error: AMQPError?) { scheduler.disconnect(error) }

    // MARK: SchedulerIO

    package func waitForIO(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) {
        do {
            try poller.wait(until: deadline, into: &events)
        } catch {
            // A poller that cannot wait leaves nothing to do but try again.
            events.removeAll()
        }
    }

    package func wakeIO() { poller.wake() }
}

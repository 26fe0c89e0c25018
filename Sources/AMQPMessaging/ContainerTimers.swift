import AMQPSystem

/// Work scheduled by a container, by deadline: the container arms the proactor's one timeout for
/// the earliest and runs what is due when it fires.
///
/// A sorted array: inserting is linear, which suits the few timers a container holds (open
/// timeouts, reconnects, application schedules); equal deadlines keep the order they were added
/// in. The proactor's timeout is armed under the same lock as the array changes: armed after
/// unlocking, a thread taking due work could arm its later deadline over an earlier one just
/// added by another thread, and that work would run late.
final class ContainerTimers: Sendable {
    typealias Work = @Sendable () -> Void
    private struct Entry: Sendable {
        var deadline: ContinuousClock.Instant
        var work: Work
    }
    private let entries = LockedValue<[Entry]>([])

    /// Adds `work` at `deadline`; calls `arm` with it, under the lock, when it is the new earliest.
    func add(at deadline: ContinuousClock.Instant, _ work: @escaping Work, arm: (ContinuousClock.Instant) -> Void) {
        entries.withLock { e in
            let i = e.firstIndex { $0.deadline > deadline } ?? e.endIndex
            e.insert(Entry(deadline: deadline, work: work), at: i)
            if i == 0 { arm(deadline) }
        }
    }

    /// Removes and returns the work due at `now`, in order; calls `arm`, under the lock, with the
    /// next deadline left, if any.
    func takeDue(now: ContinuousClock.Instant, arm: (ContinuousClock.Instant) -> Void) -> [Work] {
        entries.withLock { e in
            let n = e.firstIndex { $0.deadline > now } ?? e.endIndex
            let due = e[..<n].map(\.work)
            e.removeFirst(n)
            if let next = e.first?.deadline { arm(next) }
            return due
        }
    }

    /// Drops every timer; then, under the same lock, `replacement` may give work to run at `now`
    /// in their place, and the proactor's timeout is armed for it (`arm`), else disarmed. The
    /// timeout is never disarmed on the way: a proactor with no connection and no timeout is
    /// idle, and its threads may stop before the replacement is armed.
    func removeAll(now: ContinuousClock.Instant, replacement: () -> Work?, arm: (ContinuousClock.Instant) -> Void, disarm: () -> Void) {
        entries.withLock { e in
            e = []
            if let work = replacement() {
                e.append(Entry(deadline: now, work: work))
                arm(now)
            } else {
                disarm()
            }
        }
    }

    var count: Int { entries.withLock { $0.count } }
}

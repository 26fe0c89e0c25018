import AMQPSystem

/// Work scheduled by a container, by deadline: the container arms the proactor's one timeout for
/// the earliest and runs what is due when it fires.
///
/// A sorted array: inserting is linear, which suits the few timers a container holds (open
/// timeouts, application schedules); equal deadlines keep the order they were added in.
final class ContainerTimers: Sendable {
    typealias Work = @Sendable () -> Void
    private struct Entry: Sendable {
        var deadline: ContinuousClock.Instant
        var work: Work
    }
    private let entries = LockedValue<[Entry]>([])

    /// Adds `work` at `deadline`; returns the new earliest deadline when it changed.
    func add(at deadline: ContinuousClock.Instant, _ work: @escaping Work) -> ContinuousClock.Instant? {
        entries.withLock { e in
            let i = e.firstIndex { $0.deadline > deadline } ?? e.endIndex
            e.insert(Entry(deadline: deadline, work: work), at: i)
            return i == 0 ? deadline : nil
        }
    }

    /// Removes and returns the work due at `now`, in order, and the next deadline left.
    func takeDue(now: ContinuousClock.Instant) -> (due: [Work], next: ContinuousClock.Instant?) {
        entries.withLock { e in
            let n = e.firstIndex { $0.deadline > now } ?? e.endIndex
            let due = e[..<n].map(\.work)
            e.removeFirst(n)
            return (due, e.first?.deadline)
        }
    }

    func removeAll() { entries.withLock { $0 = [] } }

    var count: Int { entries.withLock { $0.count } }
}

import Glibc

/// A mutex and a condition variable used together (pthread_mutex_t and pthread_cond_t), for a
/// thread that sleeps until another changes shared state; `Synchronization.Mutex` has no
/// condition variable.
///
/// The usual loop: take the lock, and while the state is not yet right, ``wait(until:)``; the
/// other thread changes the state with the lock held, then calls ``signal()`` or ``broadcast()``.
/// Waits can also wake spuriously, so always re-check the state.
///
/// Threading: `Sendable`. The mutex is not recursive.
// @unchecked Sendable: its only state is the pthread mutex and condition, allocated once and
// used only through pthread calls, which synchronize themselves (ConditionLockTests, under TSan).
public final class ConditionLock: @unchecked Sendable {
    // @unchecked Sendable: the only state is the two pthread objects, which are never read or
    // written from Swift, only through pthread calls, which synchronize among themselves. They
    // are allocated once so that their addresses never change (pthread objects must not move).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// A new, unlocked lock whose timed waits use `CLOCK_MONOTONIC`, which wall-clock changes
    /// do not move.
    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(Errno(rawValue: result))")

        // The attributes live at a fixed address too, for the three calls that use them.
        let attributes = UnsafeMutablePointer<pthread_condattr_t>.allocate(capacity: 1)
        attributes.initialize(to: pthread_condattr_t())
        defer {
            pthread_condattr_destroy(attributes)
            attributes.deinitialize(count: 1)
            attributes.deallocate()
        }
        result = pthread_condattr_init(attributes)
        precondition(result == 0, "pthread_condattr_init failed: \(Errno(rawValue: result))")
        result = pthread_condattr_setclock(attributes, CLOCK_MONOTONIC)
        precondition(result == 0, "pthread_condattr_setclock failed: \(Errno(rawValue: result))")
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        result = pthread_cond_init(condition, attributes)
        precondition(result == 0, "pthread_cond_init failed: \(Errno(rawValue: result))")
    }

    deinit {
        // No thread can hold or wait on the lock: that thread would hold a reference to `self`.
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Takes the lock, waiting for it if another thread holds it (pthread_mutex_lock(3)).
    public func lock() {
        let result = pthread_mutex_lock(mutex)
        precondition(result == 0, "pthread_mutex_lock failed: \(Errno(rawValue: result))")
    }

    /// Takes the lock if no thread holds it, without waiting (pthread_mutex_trylock(3)).
    /// - Returns: true when the lock was taken; call ``unlock()`` then.
    public func tryLock() -> Bool {
        let result = pthread_mutex_trylock(mutex)
        if result == EBUSY { return false }
        precondition(result == 0, "pthread_mutex_trylock failed: \(Errno(rawValue: result))")
        return true
    }

    /// Releases the lock, which the calling thread must hold (pthread_mutex_unlock(3)).
    public func unlock() {
        let result = pthread_mutex_unlock(mutex)
        precondition(result == 0, "pthread_mutex_unlock failed: \(Errno(rawValue: result))")
    }

    /// Runs `body` with the lock held.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws; the lock is released either way.
    ///
    /// Inlinable, so that it is specialized where it is called: called across modules as a generic
    /// function it cost about 15 instructions more per call (callgrind of the io_uring backend).
    @inlinable
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Releases the lock, waits until ``signal()`` or ``broadcast()`` or `deadline`, and takes the
    /// lock again before returning (pthread_cond_wait(3), pthread_cond_timedwait(3)). Call it with
    /// the lock held.
    /// - Parameter deadline: when to stop waiting; nil waits without limit. A deadline already
    ///   past returns false at once, without releasing the lock.
    /// - Returns: false when the deadline passed; true when woken, which may be spurious.
    public func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        guard let deadline else {
            let result = pthread_cond_wait(condition, mutex)
            precondition(result == 0, "pthread_cond_wait failed: \(Errno(rawValue: result))")
            return true
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return false }
        var time = Self.monotonicTime(after: remaining)
        let result = pthread_cond_timedwait(condition, mutex, &time)
        if result == ETIMEDOUT { return false }
        precondition(result == 0, "pthread_cond_timedwait failed: \(Errno(rawValue: result))")
        return true
    }

    /// Wakes one thread waiting in ``wait(until:)``, if any (pthread_cond_signal(3)).
    public func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every thread waiting in ``wait(until:)`` (pthread_cond_broadcast(3)).
    public func broadcast() {
        pthread_cond_broadcast(condition)
    }

    /// `CLOCK_MONOTONIC` now plus `duration`, as the absolute time pthread_cond_timedwait takes.
    ///
    /// A ContinuousClock instant has no public epoch, and a condition variable takes only
    /// `CLOCK_MONOTONIC` or `CLOCK_REALTIME`, so the deadline travels as the duration left. The
    /// Linux clock behind ContinuousClock and `CLOCK_MONOTONIC` measure the same durations except
    /// across a system suspend.
    private static func monotonicTime(after duration: Duration) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = duration.components
        // Ten years is "no limit" in practice, and keeps tv_sec far from overflowing.
        let addedSeconds = Int(min(seconds, 315_360_000))
        var time = timespec(tv_sec: now.tv_sec + addedSeconds, tv_nsec: now.tv_nsec + Int(attoseconds / 1_000_000_000))
        if time.tv_nsec >= 1_000_000_000 {
            time.tv_sec += 1
            time.tv_nsec -= 1_000_000_000
        }
        return time
    }
}

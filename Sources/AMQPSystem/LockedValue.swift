/// A value behind a pthread mutex (through ``ConditionLock``).
///
/// Why not `Synchronization.Mutex`: on Linux it locks with raw futex system calls, which the
/// thread sanitizer does not see, so every access it protects is reported as a race. Threaded code
/// in this package uses this instead, so that its stress tests run clean under
/// `--sanitize=thread` and a report there means a real race.
///
/// Threading: `Sendable`. The value is only ever touched inside ``withLock(_:)``, with the mutex
/// held, which is what makes the `@unchecked` conformance safe.
public final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value

    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, the mutex held.
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

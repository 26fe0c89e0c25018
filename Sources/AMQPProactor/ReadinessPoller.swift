import AMQPSystem

/// What to wait for on a descriptor.
///
/// Threading: a plain value type, `Sendable`.
public struct ReadinessInterest: OptionSet, Hashable, Sendable {
    /// The bits.
    public let rawValue: UInt8
    /// Wraps the bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Readable: data, a new connection, or end of input.
    public static let read = ReadinessInterest(rawValue: 1)
    /// Writable: room to send, or a connect that completed (or failed).
    public static let write = ReadinessInterest(rawValue: 2)
}

/// What a poller found on one armed descriptor.
///
/// Threading: a plain value type, `Sendable`.
public struct ReadinessEvent: Hashable, Sendable {
    /// The token the descriptor was registered with.
    public var token: UInt64
    /// What is ready. A hang-up or an error counts as both readable and writable: the next read
    /// or write tells which.
    public var ready: ReadinessInterest

    /// An event for `token`.
    public init(token: UInt64, ready: ReadinessInterest) {
        self.token = token
        self.ready = ready
    }
}

/// The poller SPI: what a readiness backend implements so that ``ReadinessProactor`` can run
/// connections on it. The proactor does everything else (sockets, drivers, timers, threads).
///
/// Arming is one-shot: after a descriptor is reported, it is not reported again until armed again.
/// The proactor arms only with a non-empty interest, and never re-arms a descriptor it is about to
/// close.
///
/// Threading: ``wait(until:into:)`` is called by one thread at a time; ``register(_:token:)``,
/// ``arm(_:token:interest:)`` and ``deregister(_:)`` may be called from any thread, also while a
/// wait is in progress, and an arming made during a wait must be honoured by it (or make it
/// return). ``wake()`` may be called from any thread and from a signal handler.
public protocol ReadinessPoller: AnyObject, Sendable {
    /// Adds a descriptor, not yet armed; its events come back with `token`.
    func register(_ descriptor: FileDescriptor, token: UInt64) throws(Errno)
    /// Arms `descriptor` once for `interest` (never empty).
    func arm(_ descriptor: FileDescriptor, token: UInt64, interest: ReadinessInterest) throws(Errno)
    /// Removes a descriptor, before it is closed. Events for it that were already collected may
    /// still be returned; the proactor drops them by token.
    func deregister(_ descriptor: FileDescriptor) throws(Errno)
    /// Waits until an armed descriptor is ready, ``wake()`` is called, or `deadline` passes (nil:
    /// no limit), and appends what is ready to `events`. Returning with nothing is fine.
    func wait(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) throws(Errno)
    /// Makes the wait in progress, or the next one, return soon. Async-signal-safe.
    func wake()
}

extension ReadinessPoller {
    /// A millisecond timeout for poll(2) or epoll_wait(2) until `deadline`: rounded up, so the
    /// wait never ends just before it (the proactor would find its timer not yet due and wait
    /// again at once); 0 when it has passed; -1 (no limit) for nil.
    public static func timeoutMilliseconds(until deadline: ContinuousClock.Instant?) -> CInt {
        guard let deadline else { return -1 }
        let (seconds, attoseconds) = (deadline - .now).components
        guard seconds >= 0 && attoseconds >= 0 else { return 0 }
        return CInt(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

import AMQPCodec

/// How a client connection reconnects after a drop (Proton C++'s `reconnect_options`).
///
/// The schedule, as Proton C++ runs it:
/// - **A round at once.** After a drop every URL is tried once without waiting: the next one in
///   turn first (with no ``failoverURLs``, the connection's own URL again, so the first retry is
///   immediate), then the others (its own URL, then each failover URL, round again).
/// - **Then back-off with jitter.** Each later round starts after a wait and tries its other URLs
///   at once. Before round `n` (1, 2, …) the wait is picked by ``jitter`` between ``delay`` and
///   `delay × multiplierⁿ⁻¹`, at most ``maxDelay``.
/// - **Until a connection is made**: the peer answered our open and did not refuse us (a refusal
///   is a close with an error before the peer began any session, as brokers refuse a connection).
///   The next drop starts over with a round at once; a peer that opens and refuses every time is
///   retried with back-off, not in a loop. (A connection that never begins a session and is then
///   closed by the peer with an error counts as refused too.)
/// - **Or it gives up**: after ``maxAttempts`` attempts in a row, or when the next attempt would
///   start more than ``timeout`` after the drop, or at once on a refusal retrying cannot fix:
///   `amqp:unauthorized-access` (a failed SASL authentication, or the peer's close), and
///   `amqp:not-found` in such a refusal (what our open named, a virtual host, does not exist). A SASL outcome of `sys-temp` (a temporary failure) is retried.
///   ``MessagingHandler/onReconnectStopped(_:_:)`` then says why, the log says it at `.warning`,
///   and ``MessagingHandler/onTransportClose(_:)`` follows.
///
/// Nothing promised is lost: deliveries not settled when the connection dropped are reported to
/// ``MessagingHandler/onTrackerFail(_:_:_:)``, one by one, before the reconnect; the handler
/// resends what it must. After a reconnect ``MessagingHandler/onConnectionOpen(_:)`` is called
/// again, with ``MessagingConnection/isReconnect`` true: open the links there, as the first time.
public struct ReconnectOptions: Sendable {
    /// The first back-off wait, and the least one: the wait before the second round.
    public var delay: Duration = .milliseconds(10)
    /// How much longer each round waits than the one before (Proton C++'s `delay_multiplier`).
    public var multiplier: Double = 2
    /// The longest wait between rounds.
    public var maxDelay: Duration = .seconds(10)
    /// Attempts in a row before giving up (the first try of a connection is not one); 0: no limit.
    public var maxAttempts = 0
    /// Give up when the next attempt would start more than this long after the drop; nil: no limit.
    public var timeout: Duration?
    /// Other URLs of the same service, tried in turn after the connection's own.
    public var failoverURLs: [String] = []
    /// Picks each back-off wait within its bounds (``delay`` up to the round's back-off), so that
    /// clients dropped together do not all come back at the same moment. Uniform by default;
    /// `{ $0.upperBound }` gives a fixed schedule. A value outside the bounds is clamped into them.
    public var jitter: @Sendable (ClosedRange<Duration>) -> Duration = ReconnectOptions.uniform

    public init() {}

    /// A uniformly random duration in `range`, to the nanosecond.
    public static func uniform(_ range: ClosedRange<Duration>) -> Duration {
        let low = range.lowerBound.nanoseconds, high = range.upperBound.nanoseconds
        guard high > low else { return range.lowerBound }
        return .nanoseconds(Int64.random(in: low...high))
    }

    /// The bounds of the wait before round `round` (1 for the first round that waits).
    func waitBounds(beforeRound round: Int) -> ClosedRange<Duration> {
        let low = min(delay, maxDelay)
        var high = delay
        // Stops once the wait reaches maxDelay, so neither the loop nor the product runs away.
        for _ in 1..<max(1, round) where high < maxDelay {
            high = high * max(multiplier, 1)
        }
        return low...max(low, min(high, maxDelay))
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max` (about 292 years).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (n, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : n.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}

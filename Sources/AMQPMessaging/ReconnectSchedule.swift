import AMQPCodec
import AMQPEngine

/// A client connection's place in its reconnect schedule (Proton C++'s `reconnect_context`): what
/// to do after each drop, by the rules ``ReconnectOptions`` describes. A value with no clock and no
/// IO: the container passes the time in, and tests pass their own.
struct ReconnectSchedule {
    let options: ReconnectOptions
    /// How many URLs there are: the connection's own, then its failover URLs.
    let urlCount: Int
    /// Which URL the connection uses, or last tried (0: its own).
    private(set) var urlIndex = 0
    /// Attempts since the last connection that was made.
    private(set) var attempts = 0
    /// The round in progress: 0 tries every URL at once, later ones wait first.
    private var round = 0
    /// URLs tried in this round.
    private var triedThisRound = 0
    /// When the first drop since the last connection that was made happened.
    private var droppedAt: ContinuousClock.Instant?

    init(options: ReconnectOptions, urlCount: Int) {
        self.options = options
        self.urlCount = max(1, urlCount)
    }

    enum Step: Equatable {
        /// Try `urls[url]` after `wait`; `attempt` counts from 1 since the last connection made.
        case retry(url: Int, wait: Duration, attempt: Int)
        /// Give up; the error says why.
        case stop(AMQPError)
    }

    /// What to do after a connection ended as `facts` says, at `now`.
    mutating func next(after facts: ConnectionFacts, now: ContinuousClock.Instant) -> Step {
        if facts.wasMade {
            attempts = 0
            round = 0
            triedThisRound = 0
            droppedAt = nil
        }
        let last = facts.error
        if let fatal = facts.unfixable { return .stop(fatal) }
        if options.maxAttempts > 0 && attempts >= options.maxAttempts {
            return .stop(AMQPError(condition: last.condition, description:
                "gave up after \(attempts) reconnect attempts (maxAttempts); the last: \(last.description ?? last.condition.rawValue)"))
        }
        let start = droppedAt ?? now
        droppedAt = start
        if triedThisRound == urlCount {
            round += 1
            triedThisRound = 0
        }
        var wait = Duration.zero
        if round > 0 && triedThisRound == 0 {
            let bounds = options.waitBounds(beforeRound: round)
            wait = min(max(options.jitter(bounds), bounds.lowerBound), bounds.upperBound)
        }
        if let timeout = options.timeout, now + wait - start > timeout {
            return .stop(AMQPError(condition: last.condition, description:
                "gave up after \(attempts) reconnect attempts: no connection within the timeout of \(timeout); the last: \(last.description ?? last.condition.rawValue)"))
        }
        urlIndex = (urlIndex + 1) % urlCount
        triedThisRound += 1
        attempts += 1
        return .retry(url: urlIndex, wait: wait, attempt: attempts)
    }
}

/// What the container saw of one engine connection, to tell what its end means: a connection
/// that was made, a refusal, and whether retrying could fix it.
struct ConnectionFacts {
    /// The peer's open arrived.
    var peerOpened = false
    /// The peer began a session.
    var peerBegan = false
    /// The first transport error (IO, a protocol violation, SASL).
    var transportError: AMQPError?
    /// The error the peer closed the connection with.
    var peerCloseError: AMQPError?
    /// The SASL outcome, when there was an exchange.
    var saslOutcome: SASLCode?

    /// The peer refused us at open: it closed the connection with an error before beginning any
    /// session (brokers answer an open they refuse with an open and a close).
    var refusedAtOpen: Bool { peerCloseError != nil && !peerBegan }

    /// The connection was made: the peer answered our open and did not refuse us.
    var wasMade: Bool { peerOpened && !refusedAtOpen }

    /// Why it ended: the peer's error, else the transport's, else a plain close by the peer.
    var error: AMQPError {
        peerCloseError ?? transportError
            ?? AMQPError(condition: ErrorCondition.connectionForced, description: "the peer closed the connection")
    }

    /// The error, when it is one that retrying cannot fix (see ``ReconnectOptions``).
    var unfixable: AMQPError? {
        let e = error
        switch e.condition {
        case ErrorCondition.unauthorizedAccess where saslOutcome != .sysTemp: return e
        case ErrorCondition.notFound where refusedAtOpen: return e
        default: return nil
        }
    }
}

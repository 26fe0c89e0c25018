/// Heartbeats and the idle timeout (AMQP 1.0 §2.4.5), on time the host passes in.
///
/// We close a peer that sends nothing for our whole threshold, and announce half of it in our
/// open; we send an empty frame whenever we have been silent for half of what the peer announced.
struct IdleTimer {
    /// Heartbeats go out at most this often. A peer announcing 1 ms would otherwise have `tick`
    /// ask to be called again at once, forever: a busy loop in the host. Any timeout of 2 ms or
    /// more is honoured at half its length, as §2.4.5 advises.
    static let minimumHeartbeatInterval: Duration = .milliseconds(1)

    /// Our threshold in ms; nil or 0 for none.
    let localTimeout: UInt32?
    /// What the peer announced in its open, in ms; 0 for none.
    var remoteTimeout: UInt32 = 0
    var inputSinceTick = false
    var outputSinceTick = false
    private var lastInput: ContinuousClock.Instant?
    private var lastOutput: ContinuousClock.Instant?

    init(localTimeout: UInt32?) { self.localTimeout = localTimeout }

    struct Decision: Equatable {
        /// The peer has been silent past our threshold.
        var expired = false
        /// An empty frame is due now.
        var heartbeat = false
        /// When to tick again.
        var deadline: ContinuousClock.Instant?
    }

    /// Decides what is due at `now`. `watchInput`: the peer can still send (our input is open);
    /// `mayHeartbeat`: AMQP frames may go out (open sent, close not).
    mutating func tick(now: ContinuousClock.Instant, watchInput: Bool, mayHeartbeat: Bool) -> Decision {
        if inputSinceTick || lastInput == nil { lastInput = now; inputSinceTick = false }
        if outputSinceTick || lastOutput == nil { lastOutput = now; outputSinceTick = false }
        var d = Decision()
        if let local = localTimeout, local > 0, watchInput, let last = lastInput {
            let expiry = last.advanced(by: .milliseconds(Int(local)))
            if now >= expiry {
                d.expired = true
                return d
            }
            d.deadline = expiry
        }
        if remoteTimeout > 0, mayHeartbeat, let last = lastOutput {
            let interval = max(.microseconds(Int(remoteTimeout) * 500), IdleTimer.minimumHeartbeatInterval)
            var due = last.advanced(by: interval)
            if now >= due {
                d.heartbeat = true
                lastOutput = now
                due = now.advanced(by: interval)
            }
            d.deadline = d.deadline.map { min($0, due) } ?? due
        }
        return d
    }
}

import AMQPSystem

/// When a backend writes a connection's output before the application's batch is done.
///
/// A sender that sends its whole credit in one handler call (a thousand messages, say) would
/// otherwise give the peer nothing until the call returns, and the two peers would take turns
/// rather than work at once: the receiver idle while the sender encodes, the sender idle while
/// the receiver decodes. With an early write the peer starts on the first messages at once. On
/// the arrow benchmark over loopback (Benchmarks/p2p.sh) it took one pair from 0.88 to 1.5
/// million messages per second.
///
/// Threading: constants only, `Sendable`.
public enum EarlyWrite {
    /// Bytes of pending output at which a backend writes early: 32 KiB, or `AMQP_EARLY_WRITE`
    /// (bytes; 0 turns early writes off).
    public static let threshold: Int = {
        guard let value = Environment.value(of: "AMQP_EARLY_WRITE"), let n = Int(value), n >= 0 else { return 32 * 1024 }
        return n == 0 ? .max : n
    }()
}

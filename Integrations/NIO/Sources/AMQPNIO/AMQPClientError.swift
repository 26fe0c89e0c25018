import AMQPCodec

/// Why a client call failed. When the peer said why (a close, end, detach or rejected outcome),
/// ``remoteError`` carries its AMQP condition and description.
public struct AMQPClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: Sendable, Hashable {
        /// The URL is not `amqp[s]://[user[:password]@]host[:port][/address]`.
        case invalidURL
        /// The TCP connection could not be made (refused, unresolvable, timed out).
        case connectFailed
        /// The TLS handshake failed: an untrusted certificate, a host name it does not name, ...
        case tlsFailed
        /// The connection is closed: by us, by the peer (see ``remoteError``), or it was lost.
        case connectionClosed
        /// The driver reported a transport error (a protocol violation, SASL failure, idle timeout).
        case transportFailed
        /// The peer ended the session the link ran on.
        case sessionEnded
        /// The peer refused or detached the link.
        case linkDetached
        /// The message could not be sent (larger than the peer's max-message-size, ...).
        case sendFailed
        /// The task was cancelled; see Docs/NIO.md for what was settled or released.
        case cancelled
        /// A received message does not decode; it was rejected.
        case decodeFailed
        /// The received message was already settled.
        case alreadySettled
        /// Another task is already waiting on this receiver.
        case concurrentReceive
        /// The peer did not answer in time.
        case timedOut
    }

    /// What kind of failure this is.
    public var code: Code
    /// What the peer said, when it said anything: its condition and description.
    public var remoteError: AMQPError?
    /// What happened, in one line.
    public var message: String

    /// A failure of kind `code`, with the peer's error when there is one.
    public init(_ code: Code, _ message: String, remoteError: AMQPError? = nil) {
        self.code = code
        self.message = message
        self.remoteError = remoteError
    }

    /// The peer's condition, e.g. `amqp:not-found`.
    public var condition: Symbol? { remoteError?.condition }

    /// The message, then the peer's condition and description when it gave them.
    public var description: String {
        guard let remote = remoteError else { return message }
        return "\(message): \(remote.condition)" + (remote.description.map { " (\($0))" } ?? "")
    }

    static let cancelled = AMQPClientError(.cancelled, "cancelled")
}

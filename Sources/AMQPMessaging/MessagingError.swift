import AMQPCodec

/// Why a container call failed before anything reached the network.
public enum MessagingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL (first) could not be used, and why (second).
    case invalidURL(String, String)
    /// `amqps://` was asked for; TLS is not supported by the proactor backends yet (the SwiftNIO
    /// integration has it).
    case tlsNotSupported(String)
    /// The container has stopped; nothing new is started.
    case stopped
    /// The backend asked for cannot run here; the text says why.
    case backendUnavailable(String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let why): return "invalid URL '\(url)': \(why)"
        case .tlsNotSupported(let url): return "TLS is not supported yet by the container: '\(url)' (use amqp://)"
        case .stopped: return "the container has stopped"
        case .backendUnavailable(let why): return "the proactor backend cannot run here: \(why)"
        }
    }
}

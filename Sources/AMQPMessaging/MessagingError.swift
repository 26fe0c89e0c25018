import AMQPCodec
import AMQPSASL
import AMQPTLS

/// Why a container call failed before anything reached the network.
///
/// Threading: a value; `Sendable`.
public enum MessagingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL (first) could not be used, and why (second).
    case invalidURL(String, String)
    /// The container has stopped; nothing new is started.
    case stopped
    /// The backend asked for cannot run here; the text says why.
    case backendUnavailable(String)
    /// The TLS options cannot work: a file that does not load, a key that does not match its
    /// certificate, a cipher list OpenSSL refuses (``AMQPTLS/TLSContext/init(configuration:)``'s
    /// error, with OpenSSL's reason).
    case tls(TLSError)
    /// The SASL options cannot work: an unknown mechanism name, one listed twice, none, a password
    /// mechanism without a username or a server's without users (`AMQPSASL`'s error).
    case sasl(SASLConfigurationError)
    /// The options do not fit together or with the URL (TLS options for an `amqp://` URL, an
    /// `amqps://` listener without a certificate); the text says what to change.
    case invalidOptions(String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let why): return "invalid URL '\(url)': \(why)"
        case .stopped: return "the container has stopped"
        case .backendUnavailable(let why): return "the proactor backend cannot run here: \(why)"
        case .tls(let error): return "invalid TLS options: \(error.description)"
        case .sasl(let error): return "invalid SASL options: \(error.description)"
        case .invalidOptions(let why): return "invalid connection options: \(why)"
        }
    }
}

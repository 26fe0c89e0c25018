import AMQPEngine
import NIOCore
import NIOSSL

/// How an ``AMQPConnection`` connects: engine settings, TLS, SASL and time limits. A value type,
/// `Sendable`, built anywhere.
public struct AMQPClientConfiguration: Sendable {
    /// How the client authenticates (AMQP 1.0 §5.3).
    public enum Authentication: Sendable {
        /// PLAIN when the URL has a user, EXTERNAL when ``tls`` carries a client certificate,
        /// ANONYMOUS otherwise.
        case automatic
        /// No SASL layer: the plain AMQP header.
        case none
        /// SASL ANONYMOUS.
        case anonymous
        /// SASL PLAIN with these credentials (the URL's user and password take precedence).
        case plain(username: String, password: String)
        /// SASL EXTERNAL: the server takes our identity from the TLS client certificate.
        case external
    }

    /// The engine's settings: container-id, frame size, idle timeout, session buffer, trace.
    /// `hostname` and `saslClient` are filled from the URL and ``authentication`` when nil.
    public var engine: DriverConfiguration
    /// TLS settings for `amqps://`. The default verifies the peer against the system's roots and
    /// the URL's host; set `trustRoots`, `certificateChain`/`privateKey` (for EXTERNAL) as needed.
    public var tls: TLSConfiguration = .makeClientConfiguration()
    /// The name sent as SNI and checked against the certificate; the URL's host when nil.
    public var tlsServerName: String?
    /// How to authenticate.
    public var authentication: Authentication = .automatic
    /// How long to wait for TCP, TLS and the peer's open together.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// How long ``AMQPConnection/close()`` waits for the peer's close before dropping the socket.
    public var closeTimeout: TimeAmount = .seconds(10)
    /// Output bytes waiting in the driver above which senders stop handing it new messages.
    public var outputHighWaterMark: Int = 1 << 20

    /// Defaults, with a container-id of our own.
    public init(containerID: String = "swift-amqp-nio-\(UInt64.random(in: 0...UInt64.max))") {
        engine = DriverConfiguration(containerID: containerID)
    }

    /// The driver configuration for `url`: host name and SASL filled in.
    func driverConfiguration(for url: AMQPURL) -> DriverConfiguration {
        var c = engine
        if c.hostname == nil { c.hostname = url.host }
        if c.saslClient == nil {
            switch authentication {
            case .none: break
            case .anonymous: c.saslClient = .anonymous
            case .external: c.saslClient = SASLClientConfiguration(mechanisms: [.external()])
            case .plain(let user, let password):
                c.saslClient = .plain(username: url.user ?? user, password: url.password ?? password)
            case .automatic:
                if let user = url.user {
                    c.saslClient = .plain(username: user, password: url.password ?? "")
                } else if url.useTLS && !tls.certificateChain.isEmpty {
                    c.saslClient = SASLClientConfiguration(mechanisms: [.external()])
                } else {
                    c.saslClient = .anonymous
                }
            }
        }
        return c
    }
}

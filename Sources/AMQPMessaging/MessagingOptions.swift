import AMQPCodec
import AMQPEngine
import AMQPSASL
import AMQPTLS

/// How messages are settled on a link.
public enum DeliveryMode: Sendable, Hashable {
    /// The sender settles on sending; the peer sends no outcome (fire and forget).
    case atMostOnce
    /// The receiver settles with an outcome (accepted, rejected, released); the sender learns it.
    case atLeastOnce
}

/// Settings for a connection a container opens or accepts.
///
/// Security, as a client (``Container/connect(_:options:handler:)``): TLS for `amqps://` URLs
/// with ``tls`` (verification on by default), SASL from the URL's user and password (the
/// strongest mechanism both sides offer) or ``saslMechanisms``. As a listener
/// (``Container/listen(_:options:handler:)``): ``tls`` is the server's certificate for
/// `amqps://`, and ``saslServer`` says how clients authenticate.
///
/// Threading: a value; `Sendable`.
public struct ConnectionOptions: Sendable {
    /// The container-id to announce; nil uses the container's.
    public var containerID: String?
    /// The user to authenticate as with SASL; the URL's user takes its place when it has one.
    public var user: String?
    /// The user's password; the URL's password takes its place when it has one. Never logged.
    public var password: String?
    /// SASL mechanisms the client may use (any case: `SCRAM-SHA-512`, `SCRAM-SHA-256`, `PLAIN`,
    /// `EXTERNAL`, `ANONYMOUS`; an entry may be a list, `"SCRAM-SHA-256,PLAIN"`); of those the
    /// server offers, the strongest is chosen. An unknown name, one given twice, or a password
    /// mechanism without a user fails ``Container/connect(_:options:handler:)`` with
    /// ``MessagingError/sasl(_:)``. Empty: no SASL layer at all. nil (the default): with a user,
    /// SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN (`SASLClientConfiguration.password`), and EXTERNAL
    /// when a client certificate is configured; without one, EXTERNAL with a client certificate,
    /// and ANONYMOUS.
    public var saslMechanisms: [String]?
    /// TLS. For a connection: the client's options for `amqps://` URLs (`TLSConfiguration.client()`
    /// and changes: a private CA, a client certificate for SASL EXTERNAL); the server name is the
    /// URL's host unless ``AMQPTLS/TLSConfiguration/serverName`` is set. nil: the defaults (the
    /// system's trust store, the certificate and its host name verified). For a listener: the
    /// server's certificate and key (`TLSConfiguration.server(...)`), required by `amqps://`.
    /// Either way the files are loaded, and every error reported (``MessagingError/tls(_:)``),
    /// when the connection or listener is made. TLS options with no `amqps://` URL are an error
    /// (``MessagingError/invalidOptions(_:)``), so nothing goes in clear by mistake.
    public var tls: TLSConfiguration?
    /// A listener's SASL: the mechanisms offered, whether ANONYMOUS is allowed, whether PLAIN may
    /// go without TLS, and the credential store (a users file, or your own). It is checked when
    /// the listener is made (``MessagingError/sasl(_:)``). nil: ANONYMOUS only, and clients may
    /// skip SASL (`SASLServerOptions.anonymousOnly`). Ignored by client connections. The
    /// identity a client authenticated as is ``MessagingConnection/authenticatedIdentity``.
    public var saslServer: SASLServerOptions?
    /// Close a peer silent for this long; nil: never.
    public var idleTimeout: Duration?
    /// Largest frame we accept.
    public var maxFrameSize: UInt32 = 65_536
    /// The properties of our open.
    public var properties: AMQPMap?
    /// Capabilities our open offers (AMQP 1.0 §2.7.1): a broker's `ANONYMOUS-RELAY`, say.
    public var offeredCapabilities: [Symbol]?
    /// Give up on a peer that has not answered our open by then: the transport fails with an
    /// `amqp:resource-limit-exceeded` error saying so. nil: wait as long as the peer takes.
    public var openTimeout: Duration?
    /// Reconnect when the connection drops (a transport error, or the peer closing it) until the
    /// application closes it, the container stops, or ``ReconnectOptions`` says to give up; nil:
    /// do not.
    public var reconnect: ReconnectOptions?

    public init() {}
}

/// Settings for a sender.
public struct SenderOptions: Sendable {
    /// The link name; nil makes one up, unique on the connection.
    public var name: String?
    public var deliveryMode: DeliveryMode = .atLeastOnce
    /// Settle each delivery as soon as the peer's outcome arrives.
    public var autoSettle = true
    /// Capabilities asked of the target node.
    public var targetCapabilities: [Symbol]?
    /// Whether the target terminus outlives the link (§3.5.5), and when it expires (§3.5.6).
    public var durable: TerminusDurability = .none
    public var expiryPolicy: TerminusExpiryPolicy = .sessionEnd

    public init() {}
}

/// Settings for a receiver.
public struct ReceiverOptions: Sendable {
    /// The link name; nil makes one up, unique on the connection.
    public var name: String?
    public var deliveryMode: DeliveryMode = .atLeastOnce
    /// Credit kept open: granted at attach and topped up as messages arrive; 0 leaves credit to the
    /// application (``AMQPEngine/Link/flow(credit:drain:)``).
    public var creditWindow: UInt32 = 10
    /// Accept each message when ``MessagingHandler/onMessage(_:_:_:)`` returns, unless settled there.
    public var autoAccept = true
    /// Ask the peer to make a node for us (a reply-to address for request/response); its address
    /// is in `receiver.remoteAttach?.source` once the receiver is open.
    public var dynamic = false
    /// A filter set for the source (§3.5.8).
    public var filter: AMQPMap?
    /// Hand messages over encoded, to ``MessagingHandler/onRawMessage(_:_:_:)``, instead of decoded.
    public var rawMessages = false
    /// Whether the source terminus outlives the link (§3.5.5), and when it expires (§3.5.6).
    public var durable: TerminusDurability = .none
    public var expiryPolicy: TerminusExpiryPolicy = .sessionEnd
    /// `move` (each message to one receiver) or `copy` (browse) (§3.5.7); nil: the node's default.
    public var distributionMode: Symbol?

    public init() {}
}

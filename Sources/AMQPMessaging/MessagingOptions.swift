import AMQPCodec
import AMQPEngine

/// How messages are settled on a link.
public enum DeliveryMode: Sendable, Hashable {
    /// The sender settles on sending; the peer sends no outcome (fire and forget).
    case atMostOnce
    /// The receiver settles with an outcome (accepted, rejected, released); the sender learns it.
    case atLeastOnce
}

/// Settings for a connection a container opens or accepts.
public struct ConnectionOptions: Sendable {
    /// The container-id to announce; nil uses the container's.
    public var containerID: String?
    /// User and password for SASL PLAIN; a URL's user and password take their place when set.
    public var user: String?
    public var password: String?
    /// SASL mechanisms the client may use, in order of preference (`PLAIN`, `ANONYMOUS`); nil: PLAIN
    /// when there is a user, else ANONYMOUS; empty: no SASL layer at all.
    public var saslMechanisms: [String]?
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

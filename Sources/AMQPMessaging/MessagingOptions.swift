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
    /// Give up on a peer that has not answered our open by then: the transport fails with an
    /// `amqp:resource-limit-exceeded` error saying so. nil: wait as long as the peer takes.
    public var openTimeout: Duration?
    /// Reconnect when the connection drops (a transport error, or the peer closing it) until the
    /// application closes it or the container stops; nil: do not.
    public var reconnect: ReconnectOptions?

    public init() {}
}

/// How a client connection reconnects (Proton C++'s `reconnect_options`): after a drop it waits
/// `delay`, then tries the next URL in turn (its own, then each of `failoverURLs`, round again),
/// waiting longer after each failed attempt (times `multiplier`, at most `maxDelay`), until one
/// answers our open.
///
/// Nothing promised is lost: deliveries not settled when the connection dropped are reported to
/// ``MessagingHandler/onTrackerFail(_:_:_:)``, one by one, before the reconnect; the handler
/// resends what it must. After a reconnect ``MessagingHandler/onConnectionOpen(_:)`` is called
/// again: open the links there, as the first time.
public struct ReconnectOptions: Sendable {
    public var delay: Duration = .milliseconds(10)
    public var multiplier: Int = 2
    public var maxDelay: Duration = .seconds(10)
    /// Attempts in a row before giving up (the transport then closes for good); 0: never give up.
    public var maxAttempts = 0
    /// Other URLs of the same service, tried in turn after the connection's own.
    public var failoverURLs: [String] = []

    public init() {}

    /// The wait before attempt `n` (0 for the first after a drop).
    func delay(before n: Int) -> Duration {
        var d = delay
        for _ in 0..<min(n, 40) {
            d = d * multiplier
            if d >= maxDelay { return maxDelay }
        }
        return min(d, maxDelay)
    }
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

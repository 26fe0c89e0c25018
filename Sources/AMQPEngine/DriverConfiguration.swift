import AMQPCodec

/// Settings for one ``ConnectionDriver``: everything our open, begins and attaches announce, and
/// the limits the driver enforces on the peer. The driver reads it once, at creation.
///
/// Threading: a plain value type, `Sendable`; each driver keeps its own copy.
public struct DriverConfiguration: Sendable {
    /// Our container-id, sent in open (AMQP 1.0 §2.7.1).
    public var containerID: String
    /// The hostname sent in open and in SASL init (§2.7.1, §5.3.3.2): the virtual host we want.
    public var hostname: String?
    /// Largest frame we accept; announced in our open (§2.7.1). At least 512.
    public var maxFrameSize: UInt32 = 65_536
    /// Highest channel number a peer may use; announced in our open (§2.7.1).
    public var channelMax: UInt16 = 255
    /// Close a peer silent for this long (milliseconds). Our open announces half of it, as §2.4.5
    /// advises, so a peer that heartbeats at the announced pace stays well inside it. nil: never.
    public var idleTimeout: UInt32?
    /// Capabilities we offer in our open (§2.7.1).
    public var offeredCapabilities: [Symbol]?
    /// Capabilities we desire of the peer, in our open (§2.7.1).
    public var desiredCapabilities: [Symbol]?
    /// The properties of our open (§2.7.1).
    public var properties: AMQPMap?
    /// Transfer frames a session lets the peer send before granting more (§2.5.6).
    public var sessionIncomingWindow: UInt32 = 2048
    /// Largest message a receiving link accepts (§2.7.3 max-message-size); bigger ones detach the
    /// link with `amqp:link:message-size-exceeded`.
    public var maxMessageSize: UInt64?
    /// Highest link handle a peer may use in a session; announced in our begin (§2.7.2).
    public var handleMax: UInt32 = 65_535
    /// Links a connection holds at most, over all its sessions, counting those not yet detached
    /// both ways; an attach from the peer beyond it closes the connection with
    /// `amqp:resource-limit-exceeded`. With channel-max and handle-max alone a peer could attach
    /// 255 × 65,536 links, each kept in memory.
    public var maxLinks: Int = 8192
    /// Unsettled incoming deliveries a session holds at most; one more ends the session with
    /// `amqp:resource-limit-exceeded`. Settle deliveries to make room.
    public var maxUnsettledDeliveries: Int = 65_536
    /// Transfers a receiving link takes beyond the credit it granted before it detaches with
    /// `amqp:link:transfer-limit-exceeded` (§2.6.7); counted from its last grant. Some brokers
    /// overshoot: RabbitMQ 3.x's AMQP 1.0 plugin resets its consumer's credit without counting the
    /// messages already on their way, and sends up to one credit window too many
    /// (rabbitmq-server issue 2597). 0 is strict. Memory stays bounded by the session window and
    /// ``maxUnsettledDeliveries`` either way.
    public var creditOverrunLimit: UInt32 = 1024
    /// Received payload bytes a session holds, not yet read (``Delivery/readPayload()``) or settled,
    /// before it stops reopening its incoming window (§2.5.6): a slow reader throttles the sender.
    public var sessionBufferLimit: Int = 32 << 20
    /// Client mode: how to authenticate (§5.3). nil speaks plain AMQP with no SASL layer.
    public var saslClient: SASLClientConfiguration?
    /// Server mode: the mechanisms offered to a client that starts with the SASL header (§5.3).
    public var saslServer: SASLServerConfiguration = .anonymous
    /// Called with each frame in and out, in readable form (see ``ConnectionDriver/traceFromEnvironment(_:)``).
    /// Tracing takes the general decoding path for every frame, so leave it nil when speed matters.
    public var trace: (@Sendable (String) -> Void)?

    /// Anything the host wants to find again from the driver (``ConnectionDriver/configuration``):
    /// the engine never looks at it. A container puts its per-connection state here before a
    /// proactor makes the driver, and so finds that state in the connection's first batch
    /// (Proton's connection attachments).
    public var context: (any Sendable)?

    /// A configuration with the defaults above and our container-id.
    public init(containerID: String) { self.containerID = containerID }

    /// The open performative this configuration announces.
    var open: Open {
        Open(containerID: containerID, hostname: hostname, maxFrameSize: max(512, maxFrameSize), channelMax: channelMax,
             idleTimeOut: idleTimeout.flatMap { $0 == 0 ? nil : max(1, $0 / 2) },
             offeredCapabilities: offeredCapabilities, desiredCapabilities: desiredCapabilities, properties: properties)
    }
}

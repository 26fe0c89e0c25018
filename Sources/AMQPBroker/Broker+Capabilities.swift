import AMQPCodec

extension Broker {
    /// The capability of a container that routes messages sent on a link with no target address
    /// by each message's `to` (the OASIS anonymous terminus, "Using the AMQP Anonymous Terminus
    /// for Message Routing" §2).
    public static let anonymousRelay: Symbol = "ANONYMOUS-RELAY"

    /// What the broker's open offers (AMQP 1.0 §2.7.1): the anonymous relay. A container that
    /// listens for a broker sets them in its listener's options:
    ///
    /// ```swift
    /// var options = ConnectionOptions()
    /// options.offeredCapabilities = Broker.offeredCapabilities
    /// try container.listen("amqp://0.0.0.0:5672", options: options) { broker.handler() }
    /// ```
    ///
    /// The relay works without them; clients that check for it first (Qpid JMS) use it only then.
    public static let offeredCapabilities: [Symbol] = [anonymousRelay]
}

import AMQPCodec

/// What the server decides at one step of an exchange.
///
/// Threading: a value; `Sendable`.
public enum SASLStep: Sendable, Hashable {
    /// Authenticated as `identity`; the AMQP layer starts next.
    case success(identity: String, additionalData: [UInt8]? = nil)
    /// Send the client this challenge and wait for its response.
    case challenge([UInt8])
    /// Refuse with this outcome code (anything but `.ok`); the connection then closes. `reason`
    /// goes into the server's own transport error (for its log), never to the client.
    case failure(SASLCode, reason: String? = nil)
}

/// Decides whether a client may in, on the server side. One is made per connection, so a
/// multi-step mechanism may keep its state in the instance; it is used only on the connection's thread.
///
/// Threading: one instance per connection, called on that connection's thread only.
public protocol SASLAuthenticator {
    /// The mechanisms to offer on this connection (§5.3.3.1), when they depend on it (say, PLAIN
    /// only over TLS, EXTERNAL only with a client certificate); nil offers the configuration's
    /// ``SASLServerConfiguration/mechanisms``. A client's choice outside the offer is refused.
    var offeredMechanisms: [Symbol]? { get }
    /// The client's sasl-init: its chosen mechanism, initial response and the hostname it asked for.
    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep
    /// The client's answer to our last challenge.
    func respond(_ response: [UInt8]) -> SASLStep
}

extension SASLAuthenticator {
    /// The configuration's mechanisms.
    public var offeredMechanisms: [Symbol]? { nil }
    /// One-step mechanisms refuse any response (§5.3.3.4): the exchange fails with `auth`.
    public func respond(_ response: [UInt8]) -> SASLStep { .failure(.auth) }
}

import AMQPCodec

/// How a server driver authenticates clients.
///
/// Threading: a value; `Sendable`. Its factory makes one authenticator per connection.
public struct SASLServerConfiguration: Sendable {
    /// Mechanisms offered in sasl-mechanisms, in order.
    public var mechanisms: [Symbol]
    /// Whether a client may skip SASL and send the AMQP header first. When false such a client gets
    /// an open and a close with `amqp:unauthorized-access`.
    public var allowsUnauthenticated: Bool
    /// Makes the per-connection authenticator when the client's SASL header arrives, for the
    /// transport the host described (``ConnectionDriver/saslTransport``).
    public var makeAuthenticator: @Sendable (SASLTransport) -> any SASLAuthenticator

    /// A server configuration offering `mechanisms` (§5.3.3.1); `allowsUnauthenticated` lets a
    /// client start with the plain AMQP header, skipping SASL (§5.3.1).
    public init(mechanisms: [Symbol], allowsUnauthenticated: Bool = false,
                makeAuthenticator: @escaping @Sendable () -> any SASLAuthenticator) {
        self.init(mechanisms: mechanisms, allowsUnauthenticated: allowsUnauthenticated) { _ in makeAuthenticator() }
    }

    /// A server configuration offering `mechanisms` (§5.3.3.1) whose authenticator depends on the
    /// transport (``SASLTransport``): whether it is secure, and the TLS client certificate's subject.
    /// The authenticator may narrow the offer per connection (``SASLAuthenticator/offeredMechanisms``).
    public init(mechanisms: [Symbol], allowsUnauthenticated: Bool = false,
                authenticatorFor: @escaping @Sendable (SASLTransport) -> any SASLAuthenticator) {
        self.mechanisms = mechanisms
        self.allowsUnauthenticated = allowsUnauthenticated
        self.makeAuthenticator = authenticatorFor
    }

    /// The default: clients may use ANONYMOUS or no SASL at all.
    public static let anonymous = SASLServerConfiguration(mechanisms: ["ANONYMOUS"], allowsUnauthenticated: true) {
        BuiltinAuthenticator(allowAnonymous: true, verifyPlain: nil)
    }

    /// PLAIN checked by `verify`, and ANONYMOUS too when `allowAnonymous`. Clients must use SASL.
    public static func plain(allowAnonymous: Bool = false,
                             verify: @escaping @Sendable (PlainCredentials) -> Bool) -> SASLServerConfiguration {
        SASLServerConfiguration(mechanisms: allowAnonymous ? ["PLAIN", "ANONYMOUS"] : ["PLAIN"]) {
            BuiltinAuthenticator(allowAnonymous: allowAnonymous, verifyPlain: verify)
        }
    }
}

extension SASLCode {
    /// The spec's name for the code, for error messages.
    public var name: String {
        switch self {
        case .ok: return "ok"
        case .auth: return "auth"
        case .sys: return "sys"
        case .sysPerm: return "sys-perm"
        case .sysTemp: return "sys-temp"
        }
    }
}

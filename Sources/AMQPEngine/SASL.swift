import AMQPCodec

/// One mechanism a client can authenticate with (AMQP 1.0 §5.3, RFC 4422).
public enum SASLClientMechanism: Sendable {
    /// `ANONYMOUS` (RFC 4505): no credentials; `trace` is sent as the initial response.
    case anonymous(trace: String? = nil)
    /// `PLAIN` (RFC 4616): username and password in clear. Use it only over TLS or a trusted network:
    /// the driver cannot tell, since it never sees the transport.
    case plain(username: String, password: String, authzid: String? = nil)
    /// `EXTERNAL` (RFC 4422 appendix A): identity from the transport, such as a TLS client certificate.
    case external(authzid: String? = nil)
    /// Any other mechanism: `respond` answers each server challenge, or returns nil to give up;
    /// `verifyOutcome` gets the additional-data of a successful outcome (§5.3.3.6), which a
    /// mechanism such as SCRAM checks to authenticate the server, and returns false to give up.
    case custom(name: Symbol, initialResponse: [UInt8]?, respond: @Sendable ([UInt8]) -> [UInt8]?,
                verifyOutcome: (@Sendable ([UInt8]?) -> Bool)? = nil)

    /// The mechanism's registered name.
    public var name: Symbol {
        switch self {
        case .anonymous: return "ANONYMOUS"
        case .plain: return "PLAIN"
        case .external: return "EXTERNAL"
        case .custom(let name, _, _, _): return name
        }
    }

    var initialResponse: [UInt8]? {
        switch self {
        case .anonymous(let trace): return Array((trace ?? "").utf8)
        case .plain(let user, let password, let authzid):
            return Array((authzid ?? "").utf8) + [0] + Array(user.utf8) + [0] + Array(password.utf8)
        case .external(let authzid): return Array((authzid ?? "").utf8)
        case .custom(_, let initial, _, _): return initial
        }
    }

    func respond(to challenge: [UInt8]) -> [UInt8]? {
        if case .custom(_, _, let respond, _) = self { return respond(challenge) }
        return nil   // the built-in mechanisms finish in one step; a challenge means the server misbehaves
    }

    /// Whether the mechanism accepts the additional-data of the server's `ok` outcome.
    func acceptsOutcome(_ additionalData: [UInt8]?) -> Bool {
        if case .custom(_, _, _, let verify?) = self { return verify(additionalData) }
        return true
    }
}

/// How a client driver authenticates. Without one, a client speaks plain AMQP with no SASL layer.
public struct SASLClientConfiguration: Sendable {
    /// Mechanisms we can use, most preferred first; the first one the server offers is chosen.
    public var mechanisms: [SASLClientMechanism]

    /// A client configuration with `mechanisms`, most preferred first (§5.3.3.2).
    public init(mechanisms: [SASLClientMechanism]) { self.mechanisms = mechanisms }

    /// ANONYMOUS only: what most brokers accept by default.
    public static let anonymous = SASLClientConfiguration(mechanisms: [.anonymous()])

    /// PLAIN with these credentials.
    public static func plain(username: String, password: String) -> SASLClientConfiguration {
        SASLClientConfiguration(mechanisms: [.plain(username: username, password: password)])
    }
}

/// What the server decides at one step of an exchange.
public enum SASLStep: Sendable, Hashable {
    /// Authenticated as `identity`; the AMQP layer starts next.
    case success(identity: String, additionalData: [UInt8]? = nil)
    /// Send the client this challenge and wait for its response.
    case challenge([UInt8])
    /// Refuse with this outcome code (anything but `.ok`); the connection then closes.
    case failure(SASLCode)
}

/// Decides whether a client may in, on the server side. One is made per connection, so a
/// multi-step mechanism may keep its state in the instance; it is used only on the connection's thread.
public protocol SASLAuthenticator {
    /// The client's sasl-init: its chosen mechanism, initial response and the hostname it asked for.
    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep
    /// The client's answer to our last challenge.
    func respond(_ response: [UInt8]) -> SASLStep
}

extension SASLAuthenticator {
    /// One-step mechanisms refuse any response (§5.3.3.4): the exchange fails with `auth`.
    public func respond(_ response: [UInt8]) -> SASLStep { .failure(.auth) }
}

/// Credentials a `PLAIN` client sent.
public struct PlainCredentials: Sendable, Hashable {
    /// The identity to act as, if not the username's own (RFC 4616).
    public var authzid: String?
    /// The identity whose password is checked (RFC 4616).
    public var username: String
    /// The password, in clear (RFC 4616): use PLAIN over TLS only.
    public var password: String
}

/// The built-in server mechanisms: ANONYMOUS, and PLAIN checked by a closure.
public struct BuiltinAuthenticator: SASLAuthenticator {
    let allowAnonymous: Bool
    let verifyPlain: (@Sendable (PlainCredentials) -> Bool)?

    /// Checks ANONYMOUS (if allowed) or PLAIN in one step (§5.3.3.2); any other mechanism fails.
    public func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep {
        switch mechanism.rawValue {
        case "ANONYMOUS" where allowAnonymous:
            return .success(identity: "anonymous")
        case "PLAIN":
            guard let verifyPlain, let response = initialResponse,
                  let credentials = BuiltinAuthenticator.parsePlain(response) else { return .failure(.auth) }
            return verifyPlain(credentials) ? .success(identity: credentials.username) : .failure(.auth)
        default:
            return .failure(.auth)
        }
    }

    /// Splits `authzid NUL authcid NUL passwd` (RFC 4616); nil when malformed.
    public static func parsePlain(_ bytes: [UInt8]) -> PlainCredentials? {
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty,
              let authz = String(validating: parts[0], as: UTF8.self),
              let user = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self) else { return nil }
        return PlainCredentials(authzid: authz.isEmpty ? nil : authz, username: user, password: password)
    }
}

/// How a server driver authenticates clients.
public struct SASLServerConfiguration: Sendable {
    /// Mechanisms offered in sasl-mechanisms, in order.
    public var mechanisms: [Symbol]
    /// Whether a client may skip SASL and send the AMQP header first. When false such a client gets
    /// an open and a close with `amqp:unauthorized-access`.
    public var allowsUnauthenticated: Bool
    /// Makes the per-connection authenticator.
    public var makeAuthenticator: @Sendable () -> any SASLAuthenticator

    /// A server configuration offering `mechanisms` (§5.3.3.1); `allowsUnauthenticated` lets a
    /// client start with the plain AMQP header, skipping SASL (§5.3.1).
    public init(mechanisms: [Symbol], allowsUnauthenticated: Bool = false,
                makeAuthenticator: @escaping @Sendable () -> any SASLAuthenticator) {
        self.mechanisms = mechanisms
        self.allowsUnauthenticated = allowsUnauthenticated
        self.makeAuthenticator = makeAuthenticator
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

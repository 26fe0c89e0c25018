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
    /// Any other mechanism, with state per connection: `start` makes a new ``SASLClientExchange``
    /// each time the mechanism is chosen, so that each exchange has its own nonce (SCRAM, RFC 5802).
    /// The `AMQPSASL` module makes SCRAM-SHA-256 and SCRAM-SHA-512 this way.
    case exchange(name: Symbol, start: @Sendable () -> any SASLClientExchange)

    /// The mechanism's registered name.
    public var name: Symbol {
        switch self {
        case .anonymous: return "ANONYMOUS"
        case .plain: return "PLAIN"
        case .external: return "EXTERNAL"
        case .custom(let name, _, _, _): return name
        case .exchange(let name, _): return name
        }
    }

    /// How strong the mechanism is, by its name: ``strength(of:)``.
    public var strength: Int { Self.strength(of: name) }

    /// How strong a mechanism is, by its name, for choosing among those both sides offer
    /// (higher is stronger): SCRAM-SHA-512 (50) > SCRAM-SHA-256 (40) > SCRAM-SHA-1 (30) > PLAIN,
    /// EXTERNAL and any name not listed here (20) > ANONYMOUS (0). A `-PLUS` variant (channel
    /// binding) ranks 5 above its plain one. Names compare without case (RFC 4422 §3.1 names are
    /// upper case).
    public static func strength(of name: Symbol) -> Int {
        switch name.rawValue.uppercased() {
        case "SCRAM-SHA-512-PLUS": return 55
        case "SCRAM-SHA-512": return 50
        case "SCRAM-SHA-256-PLUS": return 45
        case "SCRAM-SHA-256": return 40
        case "SCRAM-SHA-1-PLUS": return 35
        case "SCRAM-SHA-1": return 30
        case "ANONYMOUS": return 0
        default: return 20
        }
    }

    /// Starts one exchange: the initial response for sasl-init and, for ``exchange(name:start:)``,
    /// the per-connection state that answers challenges and checks the outcome.
    func begin() throws(SASLMechanismError) -> (initialResponse: [UInt8]?, exchange: (any SASLClientExchange)?) {
        switch self {
        case .anonymous(let trace): return (Array((trace ?? "").utf8), nil)
        case .plain(let user, let password, let authzid):
            return (Array((authzid ?? "").utf8) + [0] + Array(user.utf8) + [0] + Array(password.utf8), nil)
        case .external(let authzid): return (Array((authzid ?? "").utf8), nil)
        case .custom(_, let initial, _, _): return (initial, nil)
        case .exchange(_, let start):
            let exchange = start()
            return (try exchange.initialResponse(), exchange)
        }
    }

    /// Answers a challenge; nil when the mechanism cannot.
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

/// Why a client mechanism gave up: the text goes into the connection's transport error.
///
/// Threading: a value; `Sendable`.
public struct SASLMechanismError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for people: "the server's signature does not verify".
    public var description: String

    /// An error that says `description`.
    public init(_ description: String) { self.description = description }
}

/// One client-side exchange of a multi-step mechanism (``SASLClientMechanism/exchange(name:start:)``):
/// made when the mechanism is chosen, used for that connection only, so it may keep state (a nonce,
/// the messages so far) in a class without locks.
///
/// Threading: used only on its connection's thread; it need not be `Sendable`.
public protocol SASLClientExchange {
    /// The initial response sent in sasl-init (§5.3.3.2), or nil for none.
    /// - Throws: ``SASLMechanismError`` to give up before anything is sent.
    func initialResponse() throws(SASLMechanismError) -> [UInt8]?
    /// Answers the server's challenge (§5.3.3.3) with the response to send (§5.3.3.4).
    /// - Throws: ``SASLMechanismError`` when the challenge is malformed or not acceptable: the
    ///   connection fails with `amqp:unauthorized-access` and the error's text.
    func respond(to challenge: [UInt8]) throws(SASLMechanismError) -> [UInt8]
    /// Checks the additional-data of the server's `ok` outcome (§5.3.3.6), with which a mechanism
    /// such as SCRAM authenticates the server.
    /// - Throws: ``SASLMechanismError`` when it does not verify: the connection fails.
    func verifyOutcome(_ additionalData: [UInt8]?) throws(SASLMechanismError)
}

/// How a client driver authenticates. Without one, a client speaks plain AMQP with no SASL layer.
public struct SASLClientConfiguration: Sendable {
    /// Mechanisms we can use. Of those the server offers, the strongest is chosen
    /// (``SASLClientMechanism/strength(of:)``: SCRAM-SHA-512 > SCRAM-SHA-256 > PLAIN, EXTERNAL >
    /// ANONYMOUS); between equally strong ones, the one listed first here.
    public var mechanisms: [SASLClientMechanism]

    /// A client configuration with `mechanisms` (§5.3.3.2): the strongest that the server offers is
    /// chosen, and between equally strong ones the first listed.
    public init(mechanisms: [SASLClientMechanism]) { self.mechanisms = mechanisms }

    /// The mechanism chosen from those the server offers (§5.3.3.1): the strongest of ours that it
    /// offers, the first listed between equals; nil when it offers none of ours.
    public func choose(offered: [Symbol]) -> SASLClientMechanism? {
        var best: SASLClientMechanism?
        for m in mechanisms where offered.contains(m.name) && m.strength > (best?.strength ?? Int.min) { best = m }
        return best
    }

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
    /// Refuse with this outcome code (anything but `.ok`); the connection then closes. `reason`
    /// goes into the server's own transport error (for its log), never to the client.
    case failure(SASLCode, reason: String? = nil)
}

/// Decides whether a client may in, on the server side. One is made per connection, so a
/// multi-step mechanism may keep its state in the instance; it is used only on the connection's thread.
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

/// What a server's authenticator knows of the transport under the SASL layer: the driver cannot
/// see it, so the host says. Set it with ``ConnectionDriver/saslTransport`` once the TLS handshake
/// is done and before the driver reads the client's first byte of AMQP (its SASL header).
///
/// Threading: a value; `Sendable`.
public struct SASLTransport: Sendable, Hashable {
    /// Whether the bytes are protected by TLS (or a transport as safe: a Unix socket, say). PLAIN
    /// sends the password in clear, so servers offer it only on a secure transport by default.
    public var isSecure: Bool
    /// The identity the transport proved, for EXTERNAL (RFC 4422 appendix A): the subject of the
    /// client's TLS certificate, once verified, as an RFC 4514 string with the most specific
    /// attribute first ("CN=client,O=Example,C=GB"; OpenSSL's `X509_NAME_print_ex` with
    /// `XN_FLAG_RFC2253`, as Proton's `pn_ssl_get_remote_subject`). nil without a verified client
    /// certificate.
    public var externalIdentity: String?

    /// A transport that is secure or not, with or without an identity.
    public init(isSecure: Bool, externalIdentity: String? = nil) {
        self.isSecure = isSecure
        self.externalIdentity = externalIdentity
    }

    /// A plain TCP connection: not secure, no identity. What a driver assumes until told otherwise.
    public static let insecure = SASLTransport(isSecure: false)
}

extension ConnectionDriver {
    /// Server: the transport under the SASL layer, which the authenticator is made for
    /// (``SASLServerConfiguration/makeAuthenticator``). Set it once the TLS handshake is done,
    /// before the driver reads the client's SASL header; setting it later changes nothing.
    /// ``SASLTransport/insecure`` by default.
    public var saslTransport: SASLTransport {
        get { sasl.transport }
        set { sasl.transport = newValue }
    }
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

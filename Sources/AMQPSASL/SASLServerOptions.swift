import AMQPCodec
import AMQPEngine

/// How a server (a container's listener, the broker) authenticates clients: which mechanisms it
/// offers, whether ANONYMOUS is allowed, whether PLAIN may go without TLS, and where the users are.
/// ``configuration()`` checks it and makes the engine's ``AMQPEngine/SASLServerConfiguration`` for
/// `DriverConfiguration.saslServer`.
///
/// ```swift
/// let users = try SASLUsersFile(contentsOfFile: "/etc/amqp/users")
/// var sasl = SASLServerOptions(credentials: users)       // SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL
/// sasl.allowAnonymous = true
/// driverConfiguration.saslServer = try sasl.configuration()
/// // per connection, once TLS is up and before the first plaintext byte:
/// driver.saslTransport = SASLTransport(isSecure: true, externalIdentity: tls.peerSubject)
/// ```
///
/// Per connection the offer depends on the transport (``AMQPEngine/SASLTransport``): PLAIN is
/// offered only when it is secure (unless ``allowPlainWithoutTLS``), EXTERNAL only with a client
/// certificate's subject. The identity authenticated reaches the application as
/// `ConnectionDriver.authenticatedIdentity`: the username (prepared with SASLprep) for SCRAM and
/// PLAIN, what the store makes of the certificate's subject for EXTERNAL (the subject by default),
/// and ``anonymousIdentity`` for ANONYMOUS. A client that skips SASL (the AMQP header first) is let
/// in only when ANONYMOUS is allowed, with no identity.
///
/// Threading: a value; `Sendable`. The configuration it makes is shared by every connection.
public struct SASLServerOptions: Sendable {
    /// Mechanisms offered, in this order (the client picks among them).
    public var mechanisms: [SASLMechanismName]
    /// Whether PLAIN is offered and accepted on a transport that is not secure, where the password
    /// crosses the network in clear. False by default.
    public var allowPlainWithoutTLS: Bool
    /// The users, for SCRAM and PLAIN (and to map EXTERNAL's subject, when given). Required when a
    /// password mechanism is offered.
    public var credentials: (any SASLCredentialStore)?
    /// The identity an ANONYMOUS client gets: "anonymous".
    public var anonymousIdentity: String = "anonymous"

    /// What a server offers by default: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN (over TLS) and
    /// EXTERNAL (with a client certificate). Not ANONYMOUS.
    public static let defaultMechanisms: [SASLMechanismName] = [.scramSHA512, .scramSHA256, .plain, .external]

    /// Whether ANONYMOUS is offered (last) and clients may skip SASL. Setting it adds or removes
    /// ANONYMOUS in ``mechanisms``.
    public var allowAnonymous: Bool {
        get { mechanisms.contains(.anonymous) }
        set {
            mechanisms.removeAll { $0 == .anonymous }
            if newValue { mechanisms.append(.anonymous) }
        }
    }

    /// Options offering `mechanisms` over `credentials`.
    public init(mechanisms: [SASLMechanismName] = SASLServerOptions.defaultMechanisms,
                credentials: (any SASLCredentialStore)?, allowAnonymous: Bool = false, allowPlainWithoutTLS: Bool = false) {
        self.mechanisms = mechanisms
        self.credentials = credentials
        self.allowPlainWithoutTLS = allowPlainWithoutTLS
        if allowAnonymous { self.allowAnonymous = true }
    }

    /// Options offering the mechanisms called `mechanismNames` (any case; see
    /// ``SASLMechanismName/list(_:)``) over `credentials`.
    /// - Throws: ``SASLConfigurationError`` for an unknown name, one given twice, or none.
    public init(mechanismNames: [String], credentials: (any SASLCredentialStore)?,
                allowPlainWithoutTLS: Bool = false) throws(SASLConfigurationError) {
        self.init(mechanisms: try SASLMechanismName.list(mechanismNames), credentials: credentials,
                  allowPlainWithoutTLS: allowPlainWithoutTLS)
    }

    /// Only ANONYMOUS, and clients that skip SASL: what a server without users does.
    public static let anonymousOnly = SASLServerOptions(mechanisms: [.anonymous], credentials: nil)

    /// Checks the options and makes the engine's configuration, for `DriverConfiguration.saslServer`.
    /// - Throws: ``SASLConfigurationError`` when no mechanism is offered, one is offered twice, or a
    ///   password mechanism (SCRAM, PLAIN) has no ``credentials``.
    public func configuration() throws(SASLConfigurationError) -> SASLServerConfiguration {
        guard !mechanisms.isEmpty else { throw SASLConfigurationError(.noMechanism, "no SASL mechanism is offered") }
        var seen: [SASLMechanismName] = []
        for m in mechanisms {
            guard !seen.contains(m) else {
                throw SASLConfigurationError(.duplicateMechanism(m.rawValue), "SASL mechanism \(m) is offered twice")
            }
            seen.append(m)
            if m.needsCredentials && credentials == nil {
                throw SASLConfigurationError(.missingCredentials(m.rawValue), "SASL mechanism \(m) needs users (a credential store, or a users file)")
            }
        }
        let options = self
        return SASLServerConfiguration(mechanisms: mechanisms.map(\.symbol), allowsUnauthenticated: allowAnonymous) { transport in
            SASLServerAuthenticator(options: options, transport: transport)
        }
    }

    /// The mechanisms offered on a connection over `transport`: PLAIN only when it is secure or
    /// ``allowPlainWithoutTLS``, EXTERNAL only with an identity.
    public func offered(on transport: SASLTransport) -> [SASLMechanismName] {
        mechanisms.filter {
            switch $0 {
            case .plain: return transport.isSecure || allowPlainWithoutTLS
            case .external: return transport.externalIdentity != nil
            default: return true
            }
        }
    }
}

/// The server side of every mechanism in ``SASLMechanismName``, for one connection.
///
/// Threading: one per connection, on its thread.
final class SASLServerAuthenticator: SASLAuthenticator {
    private let options: SASLServerOptions
    private let transport: SASLTransport
    private let offered: [SASLMechanismName]
    private var scram: SCRAMServerExchange?
    private var awaitingClientFirst = false

    init(options: SASLServerOptions, transport: SASLTransport) {
        self.options = options
        self.transport = transport
        self.offered = options.offered(on: transport)
    }

    var offeredMechanisms: [Symbol]? { offered.map(\.symbol) }

    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep {
        guard let name = SASLMechanismName(rawValue: mechanism.rawValue), offered.contains(name) else {
            return .failure(.auth, reason: "\(mechanism.rawValue) is not offered on this connection")
        }
        switch name {
        case .anonymous:
            return .success(identity: options.anonymousIdentity)
        case .plain:
            return plain(initialResponse)
        case .external:
            return external(initialResponse)
        case .scramSHA256, .scramSHA512:
            let exchange = SCRAMServerExchange(hash: name.scramHash ?? .sha256, store: options.credentials)
            scram = exchange
            // Without an initial response, an empty challenge asks for client-first-message (RFC 4422 §5).
            guard let first = initialResponse else {
                awaitingClientFirst = true
                return .challenge([])
            }
            return scramStep { () throws(SCRAMError) in .challenge(try exchange.receiveClientFirst(first)) }
        }
    }

    func respond(_ response: [UInt8]) -> SASLStep {
        guard let exchange = scram else { return .failure(.auth, reason: "a response to no challenge") }
        if awaitingClientFirst {
            awaitingClientFirst = false
            return scramStep { () throws(SCRAMError) in .challenge(try exchange.receiveClientFirst(response)) }
        }
        return scramStep { () throws(SCRAMError) in
            let (identity, serverFinal) = try exchange.receiveClientFinal(response)
            return .success(identity: identity, additionalData: serverFinal)
        }
    }

    private func scramStep(_ body: () throws(SCRAMError) -> SASLStep) -> SASLStep {
        do {
            return try body()
        } catch {
            // OpenSSL failing is the server's trouble, not the client's credentials.
            return .failure(error.kind == .crypto ? .sysTemp : .auth, reason: error.description)
        }
    }

    /// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, both names and the password prepared
    /// with SASLprep; an authzid other than the user's own is refused.
    private func plain(_ response: [UInt8]?) -> SASLStep {
        guard let response, let credentials = BuiltinAuthenticator.parsePlain(response) else {
            return .failure(.auth, reason: "a malformed PLAIN response")
        }
        guard let user = try? SASLprep.prepare(credentials.username, for: .query), !user.isEmpty,
              let password = try? SASLprep.prepare(credentials.password, for: .stored) else {
            return .failure(.auth, reason: "SASLprep refuses the PLAIN username or password")
        }
        if let authzid = credentials.authzid, (try? SASLprep.prepare(authzid, for: .query)) != user {
            return .failure(.auth, reason: "\(user) asks to act as \(authzid), which is not supported")
        }
        guard let store = options.credentials, store.verifyPlain(username: user, password: password) else {
            return .failure(.auth, reason: "PLAIN: a wrong password or an unknown user \"\(user)\"")
        }
        return .success(identity: user)
    }

    /// EXTERNAL (RFC 4422 appendix A): the transport's identity; the response is an authzid or empty.
    private func external(_ response: [UInt8]?) -> SASLStep {
        guard let subject = transport.externalIdentity else {
            return .failure(.auth, reason: "EXTERNAL without a client certificate")
        }
        let bytes = response ?? []
        guard let authzid = String(validating: bytes, as: UTF8.self) else {
            return .failure(.auth, reason: "EXTERNAL: the authzid is not UTF-8")
        }
        let store: any SASLCredentialStore = options.credentials ?? NoCredentials()
        guard let identity = store.externalIdentity(subject: subject, authzid: authzid.isEmpty ? nil : authzid) else {
            return .failure(.auth, reason: "EXTERNAL: \(subject) may not act as \(authzid)")
        }
        return .success(identity: identity)
    }
}

import AMQPCodec

/// One mechanism a client can authenticate with (AMQP 1.0 §5.3, RFC 4422).
///
/// Threading: a value; `Sendable`. A mechanism made with `exchange(name:start:)` starts a fresh
/// exchange per connection, used on that connection's thread only.
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

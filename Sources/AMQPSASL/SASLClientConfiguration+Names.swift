import AMQPCodec
import AMQPEngine

extension SASLClientConfiguration {
    /// A client with a username and password: SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, the strongest
    /// the server offers being chosen. PLAIN is used only with a server that offers neither SCRAM
    /// (most brokers' default), and sends the password in clear: use TLS.
    public static func password(username: String, password: String) -> SASLClientConfiguration {
        SASLClientConfiguration(mechanisms: [.scramSHA512(username: username, password: password),
                                             .scramSHA256(username: username, password: password),
                                             .plain(username: username, password: password)])
    }

    /// A client offering the mechanisms called `mechanismNames` (any case; see
    /// ``SASLMechanismName/list(_:)``), of which the strongest the server offers is chosen, as a
    /// container's options or a command's flags give them. SCRAM and PLAIN use `username` and
    /// `password` (an empty password when nil); EXTERNAL sends `authzid` (or nothing); ANONYMOUS
    /// needs nothing.
    /// - Throws: ``SASLConfigurationError`` for an unknown name, a name given twice, no name, or a
    ///   password mechanism without `username`.
    public init(mechanismNames: [String], username: String?, password: String?,
                authzid: String? = nil) throws(SASLConfigurationError) {
        var mechanisms: [SASLClientMechanism] = []
        for m in try SASLMechanismName.list(mechanismNames) {
            if m.needsCredentials && username == nil {
                throw SASLConfigurationError(.missingUsername(m.rawValue), "SASL mechanism \(m) needs a username")
            }
            let user = username ?? "", pass = password ?? ""
            switch m {
            case .scramSHA512: mechanisms.append(.scramSHA512(username: user, password: pass))
            case .scramSHA256: mechanisms.append(.scramSHA256(username: user, password: pass))
            case .plain: mechanisms.append(.plain(username: user, password: pass))
            case .external: mechanisms.append(.external(authzid: authzid))
            case .anonymous: mechanisms.append(.anonymous())
            }
        }
        self.init(mechanisms: mechanisms)
    }
}

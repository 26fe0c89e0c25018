import AMQPCodec
import AMQPEngine

/// The SASL mechanisms this package implements on both sides, by name.
///
/// Threading: a value; `Sendable`.
public enum SASLMechanismName: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SCRAM-SHA-512: a salted challenge-response; the password never crosses the wire.
    case scramSHA512 = "SCRAM-SHA-512"
    /// SCRAM-SHA-256 (RFC 7677).
    case scramSHA256 = "SCRAM-SHA-256"
    /// PLAIN (RFC 4616): the password in clear, so over TLS only by default on a server.
    case plain = "PLAIN"
    /// EXTERNAL (RFC 4422 appendix A): the identity the transport proved (a TLS client certificate).
    case external = "EXTERNAL"
    /// ANONYMOUS (RFC 4505): no identity.
    case anonymous = "ANONYMOUS"

    /// The name as SASL sends it.
    public var symbol: Symbol { Symbol(rawValue) }

    /// The name as SASL sends it.
    public var description: String { rawValue }

    /// How strong it is (``AMQPEngine/SASLClientMechanism/strength(of:)``): SCRAM-SHA-512 >
    /// SCRAM-SHA-256 > PLAIN = EXTERNAL > ANONYMOUS.
    public var strength: Int { SASLClientMechanism.strength(of: symbol) }

    /// Whether it checks a password, and so needs a ``SASLCredentialStore``.
    public var needsCredentials: Bool { self == .scramSHA512 || self == .scramSHA256 || self == .plain }

    /// The SCRAM hash, for the two SCRAM mechanisms.
    public var scramHash: SCRAMHash? {
        switch self {
        case .scramSHA512: return .sha512
        case .scramSHA256: return .sha256
        default: return nil
        }
    }

    /// The mechanism called `name`, in any case ("scram-sha-256", "PLAIN").
    /// - Throws: ``SASLConfigurationError`` of kind `.unknownMechanism` for any other name.
    public init(parsing name: String) throws(SASLConfigurationError) {
        guard let m = SASLMechanismName(rawValue: name.uppercased()) else {
            let known = SASLMechanismName.allCases.map(\.rawValue).joined(separator: ", ")
            throw SASLConfigurationError(.unknownMechanism(name), "unknown SASL mechanism \"\(name)\" (known: \(known))")
        }
        self = m
    }

    /// The mechanisms called `names`, in order: each name once, none unknown. A name may also be a
    /// list separated by commas or spaces ("SCRAM-SHA-256,PLAIN"), as a command-line option gives it.
    /// - Throws: ``SASLConfigurationError`` for an unknown name, a name given twice, or no name.
    public static func list(_ names: [String]) throws(SASLConfigurationError) -> [SASLMechanismName] {
        var out: [SASLMechanismName] = []
        for group in names {
            for name in group.split(whereSeparator: { $0 == "," || $0 == " " }) {
                let m = try SASLMechanismName(parsing: String(name))
                guard !out.contains(m) else {
                    throw SASLConfigurationError(.duplicateMechanism(m.rawValue), "SASL mechanism \(m) is listed twice")
                }
                out.append(m)
            }
        }
        guard !out.isEmpty else { throw SASLConfigurationError(.noMechanism, "no SASL mechanism is listed") }
        return out
    }
}

/// A SASL configuration that cannot work, found when it is made rather than when a client connects.
///
/// Threading: a value; `Sendable`.
public struct SASLConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: Sendable, Hashable {
        /// A mechanism name this package does not implement.
        case unknownMechanism(String)
        /// A mechanism listed twice.
        case duplicateMechanism(String)
        /// No mechanism at all.
        case noMechanism
        /// A password mechanism (SCRAM, PLAIN) on a server without a credential store.
        case missingCredentials(String)
        /// A password mechanism on a client without a username.
        case missingUsername(String)
        /// A users file that does not parse, or cannot be read (``SASLUsersFile``).
        case usersFile
        /// A username or password that SASLprep refuses.
        case invalidString
    }

    /// What is wrong.
    public var kind: Kind
    /// What is wrong, for people.
    public var description: String

    /// An error of `kind` saying `description`.
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

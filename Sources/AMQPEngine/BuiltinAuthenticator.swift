import AMQPCodec

/// Credentials a `PLAIN` client sent.
///
/// Threading: a value; `Sendable`.
public struct PlainCredentials: Sendable, Hashable {
    /// The identity to act as, if not the username's own (RFC 4616).
    public var authzid: String?
    /// The identity whose password is checked (RFC 4616).
    public var username: String
    /// The password, in clear (RFC 4616): use PLAIN over TLS only.
    public var password: String
}

/// The built-in server mechanisms: ANONYMOUS, and PLAIN checked by a closure.
///
/// Threading: one per connection, like every authenticator; it holds only immutable settings.
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

/// Where a server finds its users: what an embedder implements to authenticate clients against its
/// own user database, and what ``SASLUsersFile`` implements for the broker. The server's
/// authenticator (``SASLServerOptions``) runs the mechanisms; the store only answers questions.
///
/// Only ``scramCredential(for:hash:)`` is required: PLAIN is checked by deriving the SCRAM
/// credential again from the password, so a store keeps no password, and EXTERNAL accepts the
/// certificate's subject as the identity.
///
/// Threading: `Sendable`; called from every connection's thread at once, so an implementation
/// that changes (reloads a file, say) must lock.
public protocol SASLCredentialStore: Sendable {
    /// The SCRAM credential of `username` for `hash`, or nil when the store does not know the
    /// user (or has no credential of that hash for it). `username` is prepared with SASLprep.
    func scramCredential(for username: String, hash: SCRAMHash) -> SCRAMCredential?

    /// Whether `password` is `username`'s, for PLAIN (RFC 4616). Both are prepared with SASLprep.
    /// The default checks it against the SCRAM-SHA-512 credential, else the SCRAM-SHA-256 one
    /// (``SCRAMCredential/verifies(password:)``), and for an unknown user spends the same work on
    /// a decoy, so the time taken does not tell who exists.
    func verifyPlain(username: String, password: String) -> Bool

    /// The identity to authenticate as with EXTERNAL (RFC 4422 appendix A), for a client whose
    /// TLS certificate has `subject` (``AMQPEngine/SASLTransport/externalIdentity``) and that asks
    /// to act as `authzid` (nil when it asks for nothing). nil refuses. The default accepts the
    /// subject itself, when `authzid` is nil or the subject.
    func externalIdentity(subject: String, authzid: String?) -> String?

    /// The salt and iteration count shown for `username` when the store does not know it, so the
    /// exchange looks like a real user's (RFC 5802 §9): the same for the same name every time. The
    /// default derives a 16-byte salt from the name with a secret random per process, and 4096
    /// iterations.
    func decoy(for username: String, hash: SCRAMHash) -> (salt: [UInt8], iterations: Int)
}

extension SASLCredentialStore {
    /// Checks PLAIN against the SCRAM-SHA-512 credential, else the SCRAM-SHA-256 one.
    public func verifyPlain(username: String, password: String) -> Bool {
        for hash in [SCRAMHash.sha512, .sha256] {
            if let credential = scramCredential(for: username, hash: hash), credential.hash == hash {
                return credential.verifies(password: password)
            }
        }
        // The same work as a real check, on a decoy, so the time does not tell the user is unknown.
        let stand = self.decoy(for: username, hash: .sha512)
        _ = try? SCRAMKeys(hash: .sha512, password: Array(password.utf8), salt: stand.salt, iterations: stand.iterations)
        return false
    }

    /// The subject, when `authzid` is nil or the subject itself.
    public func externalIdentity(subject: String, authzid: String?) -> String? {
        authzid == nil || authzid == subject ? subject : nil
    }

    /// A salt derived from `username` and a per-process secret; 4096 iterations.
    public func decoy(for username: String, hash: SCRAMHash) -> (salt: [UInt8], iterations: Int) {
        (decoySalt(secret: processDecoySecret, username: username, hash: hash), SCRAMCredential.defaultIterations)
    }
}

/// 32 random bytes per process, for decoy salts (empty only if OpenSSL has no randomness, when
/// nothing else works either).
let processDecoySecret: [UInt8] = (try? randomBytes(32)) ?? []

/// A decoy salt: HMAC-SHA-256(secret, mechanism NUL username), cut to 16 bytes.
func decoySalt(secret: [UInt8], username: String, hash: SCRAMHash) -> [UInt8] {
    let input = Array(hash.rawValue.utf8) + [0] + Array(username.utf8)
    let mac = (try? SCRAMHash.sha256.hmac(key: secret, input)) ?? input
    return Array(mac.prefix(SCRAMCredential.saltLength))
}

/// A store that knows no one: SCRAM and PLAIN fail for every user, EXTERNAL takes the subject.
struct NoCredentials: SASLCredentialStore {
    func scramCredential(for username: String, hash: SCRAMHash) -> SCRAMCredential? { nil }
}

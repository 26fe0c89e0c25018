/// What a SCRAM server keeps of a password (RFC 5802 §2.2, §3): the salt, the iteration count,
/// StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey = HMAC(SaltedPassword,
/// "Server Key"). Neither key gives the password back, and StoredKey alone does not let anyone log
/// in: a client must prove it knows ClientKey, which only the password yields.
///
/// Threading: a value; `Sendable`.
public struct SCRAMCredential: Sendable, Hashable {
    /// The mechanism's hash.
    public var hash: SCRAMHash
    /// The salt, random per credential.
    public var salt: [UInt8]
    /// PBKDF2's iteration count (RFC 7677 §4: at least 4096).
    public var iterations: Int
    /// H(ClientKey): checks the client's proof.
    public var storedKey: [UInt8]
    /// HMAC(SaltedPassword, "Server Key"): signs the server's final message.
    public var serverKey: [UInt8]

    /// The iteration count a new credential gets: 4096, RFC 7677 §4's minimum and what Kafka,
    /// PostgreSQL, RabbitMQ and scramp use.
    public static let defaultIterations = 4096
    /// The fewest iterations a credential may have: RFC 7677 §4's 4096.
    public static let minimumIterations = 4096
    /// The most iterations a credential may have: 10,000,000 (scramp's limit), so that a hostile
    /// server cannot make a client spin, nor a users file a broker.
    public static let maximumIterations = 10_000_000
    /// The salt length of a new credential, in bytes (16, as RFC 7677's example and scramp).
    public static let saltLength = 16

    /// A credential from its stored parts.
    public init(hash: SCRAMHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// The credential of `password`, with `salt` (a random one of ``saltLength`` bytes when nil)
    /// and `iterations`. The password is prepared with SASLprep as a stored string (RFC 5802 §2.2).
    /// - Throws: ``SCRAMError`` of kind `.invalidString` when SASLprep refuses the password,
    ///   `.iterationCount` outside ``minimumIterations`` to ``maximumIterations``, `.crypto` when
    ///   OpenSSL fails.
    public init(password: String, hash: SCRAMHash, salt: [UInt8]? = nil,
                iterations: Int = SCRAMCredential.defaultIterations) throws(SCRAMError) {
        guard (Self.minimumIterations...Self.maximumIterations).contains(iterations) else {
            throw SCRAMError(.iterationCount, "\(iterations) iterations: a credential needs \(Self.minimumIterations) to \(Self.maximumIterations)")
        }
        let prepared: String
        do {
            prepared = try SASLprep.prepare(password, for: .stored)
        } catch {
            throw SCRAMError(.invalidString, "the password: \(error)")
        }
        let saltBytes: [UInt8]
        if let salt { saltBytes = salt } else { saltBytes = try randomBytes(Self.saltLength) }
        let keys = try SCRAMKeys(hash: hash, password: Array(prepared.utf8), salt: saltBytes, iterations: iterations)
        self.init(hash: hash, salt: saltBytes, iterations: iterations, storedKey: keys.storedKey, serverKey: keys.serverKey)
    }

    /// Whether `password` is the one this credential was made from: derives it again with the same
    /// salt and iteration count and compares both keys in constant time. How PLAIN is checked
    /// against stored SCRAM credentials.
    public func verifies(password: String) -> Bool {
        guard let prepared = try? SASLprep.prepare(password, for: .stored),
              let keys = try? SCRAMKeys(hash: hash, password: Array(prepared.utf8), salt: salt, iterations: iterations) else {
            return false
        }
        // Both comparisons run, whatever the first says.
        let a = constantTimeEquals(keys.storedKey, storedKey)
        let b = constantTimeEquals(keys.serverKey, serverKey)
        return a && b
    }
}

/// The keys derived from a password (RFC 5802 §3).
struct SCRAMKeys {
    let clientKey: [UInt8]
    let storedKey: [UInt8]
    let serverKey: [UInt8]

    /// SaltedPassword := Hi(password, salt, i); ClientKey := HMAC(SaltedPassword, "Client Key");
    /// StoredKey := H(ClientKey); ServerKey := HMAC(SaltedPassword, "Server Key").
    init(hash: SCRAMHash, password: [UInt8], salt: [UInt8], iterations: Int) throws(SCRAMError) {
        let salted = try hash.saltedPassword(password, salt: salt, iterations: iterations)
        clientKey = try hash.hmac(key: salted, Array("Client Key".utf8))
        storedKey = try hash.hash(clientKey)
        serverKey = try hash.hmac(key: salted, Array("Server Key".utf8))
    }
}

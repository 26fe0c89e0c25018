import AMQPCodec
import COpenSSL

/// The hash function of a SCRAM mechanism (RFC 5802 §2.2, RFC 7677): SCRAM-SHA-256 or SCRAM-SHA-512.
/// Every primitive goes to the system's OpenSSL 3 (EVP digests, `HMAC`, `PKCS5_PBKDF2_HMAC`).
///
/// Threading: a value; `Sendable`. OpenSSL 3's digest and HMAC functions are thread-safe.
public enum SCRAMHash: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SHA-256, for SCRAM-SHA-256 (RFC 7677).
    case sha256 = "SCRAM-SHA-256"
    /// SHA-512, for SCRAM-SHA-512 (draft-melnikov-scram-sha-512, as Kafka, PostgreSQL and Cyrus use it).
    case sha512 = "SCRAM-SHA-512"

    /// The SASL mechanism's name: "SCRAM-SHA-256" or "SCRAM-SHA-512".
    public var mechanism: Symbol { Symbol(rawValue) }

    /// The mechanism's name.
    public var description: String { rawValue }

    /// The hash's output size in bytes (32 or 64): the size of StoredKey, ServerKey and the proof.
    public var digestLength: Int {
        switch self {
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    /// OpenSSL's digest: a static object that OpenSSL owns and never frees.
    private var evp: OpaquePointer? {
        switch self {
        case .sha256: return EVP_sha256()
        case .sha512: return EVP_sha512()
        }
    }

    /// H(data) (RFC 5802 §2.2).
    func hash(_ data: [UInt8]) throws(SCRAMError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestLength)
        var length: UInt32 = 0
        let evp = self.evp
        let ok = withNonNullBytes(data) { input, count in
            // `out` holds digestLength bytes, the most EVP_Digest writes for this digest; the
            // pointers live for the closure, which is as long as OpenSSL uses them.
            out.withUnsafeMutableBufferPointer { EVP_Digest(input, count, $0.baseAddress, &length, evp, nil) }
        }
        guard ok == 1, Int(length) == digestLength else { throw SCRAMError(.crypto, "OpenSSL's \(rawValue) digest failed") }
        return out
    }

    /// HMAC(key, data) (RFC 5802 §2.2, RFC 2104).
    func hmac(key: [UInt8], _ data: [UInt8]) throws(SCRAMError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestLength)
        var length: UInt32 = 0
        let evp = self.evp
        let ok = withNonNullBytes(key) { k, kCount in
            withNonNullBytes(data) { d, dCount in
                // `out` holds digestLength bytes, what HMAC writes for this digest; the key and data
                // pointers are valid (non-null even when empty) for the closure, and OpenSSL keeps none.
                out.withUnsafeMutableBufferPointer {
                    HMAC(evp, k, Int32(kCount), d, dCount, $0.baseAddress, &length) != nil
                }
            }
        }
        guard ok, Int(length) == digestLength else { throw SCRAMError(.crypto, "OpenSSL's HMAC over \(rawValue) failed") }
        return out
    }

    /// Hi(password, salt, i) (RFC 5802 §2.2): PBKDF2 with HMAC over this hash (RFC 8018), one
    /// block of the hash's length.
    func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) throws(SCRAMError) -> [UInt8] {
        guard iterations >= 1, iterations <= Int(Int32.max), password.count <= Int(Int32.max),
              salt.count <= Int(Int32.max) else {
            throw SCRAMError(.crypto, "PBKDF2 arguments out of range")
        }
        var out = [UInt8](repeating: 0, count: digestLength)
        let evp = self.evp
        let ok = withNonNullBytes(password) { p, pCount in
            withNonNullBytes(salt) { s, sCount in
                // `out` holds exactly the keylen bytes PKCS5_PBKDF2_HMAC writes; the password is
                // passed with its length (it may hold no NUL), and no pointer outlives the call.
                p.withMemoryRebound(to: CChar.self, capacity: pCount) { pc in
                    out.withUnsafeMutableBufferPointer {
                        PKCS5_PBKDF2_HMAC(pc, Int32(pCount), s, Int32(sCount), Int32(iterations), evp,
                                          Int32(digestLength), $0.baseAddress)
                    }
                }
            }
        }
        guard ok == 1 else { throw SCRAMError(.crypto, "OpenSSL's PBKDF2 over \(rawValue) failed") }
        return out
    }

    /// The hash a mechanism name stands for, or nil ("SCRAM-SHA-256" or "SCRAM-SHA-512", any case).
    public init?(mechanism: Symbol) {
        self.init(rawValue: mechanism.rawValue.uppercased())
    }
}

/// `count` random bytes from OpenSSL's CSPRNG (`RAND_bytes`), for nonces and salts.
func randomBytes(_ count: Int) throws(SCRAMError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    // `out` holds `count` bytes, exactly what RAND_bytes writes.
    let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
    guard ok == 1 else { throw SCRAMError(.crypto, "OpenSSL's RAND_bytes failed: no randomness for a nonce or salt") }
    return out
}

/// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths
/// (`CRYPTO_memcmp`), so that comparing a proof or a key reveals nothing of where it differs.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    // Both buffers hold a.count bytes (checked above), valid for the call.
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
}

/// Calls `body` with a pointer to `bytes` and their count; the pointer is never null, even for no
/// bytes (it then points at a zero byte that `body` must not read past count 0), since OpenSSL treats
/// a null key specially.
private func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if bytes.isEmpty {
        var zero: UInt8 = 0
        // `zero` lives on the stack for the whole call; OpenSSL reads 0 bytes of it.
        return withUnsafePointer(to: &zero) { body($0, 0) }
    }
    // A non-empty array's buffer has a base address, valid for the closure.
    return bytes.withUnsafeBufferPointer { body($0.baseAddress.unsafelyUnwrapped, $0.count) }
}

import COpenSSL

/// An OpenSSL `SSL_CTX` made from a ``TLSConfiguration``: the certificates, key, trust store and
/// settings, loaded and checked once, then shared by every ``TLSSession`` of a client or a
/// listener.
///
/// Creating it reads every file the configuration names and throws a
/// ``TLSError/Kind-swift.enum/configuration`` error with OpenSSL's reason for the first problem
/// (a file missing, a key that does not match its certificate, a wrong key password, an unknown
/// cipher), so that a bad configuration fails when it is given, not on the first connection.
///
/// Threading: Sendable. The context is never changed after `init`; OpenSSL documents an
/// `SSL_CTX` as safe to share between threads that make `SSL` objects from it (`SSL_new` takes a
/// reference under OpenSSL's own lock, and the session cache is locked).
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: `context` is configured completely in `init` and only read afterwards
    // (SSL_new, which OpenSSL 3 makes thread-safe with the SSL_CTX's internal lock and atomic
    // reference count); `configuration` is an immutable Sendable value. No Swift state changes
    // after init, so there is nothing for a lock of ours to guard.

    /// The configuration this context was made from.
    public let configuration: TLSConfiguration

    /// The `SSL_CTX`, owned (one reference, freed in deinit).
    let context: OpaquePointer

    /// Loads and checks `configuration`.
    /// - Parameter configuration: what to present and accept.
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind-swift.enum/configuration``, with OpenSSL's
    ///   reason: "cannot load the certificate chain from /x.pem: No such file or directory
    ///   (calling fopen(/x.pem, r)); ...".
    public init(configuration: TLSConfiguration) throws(TLSError) {
        self.configuration = configuration
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw TLSContext.configurationError("cannot create an OpenSSL context")
        }
        do {
            try TLSContext.configure(context, configuration)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        self.context = context
    }

    deinit {
        SSL_CTX_free(context)
    }

    private static func configure(_ context: OpaquePointer, _ configuration: TLSConfiguration) throws(TLSError) {
        guard configuration.bufferSize >= 17 * 1024 else {
            throw TLSError(kind: .configuration, reason: "bufferSize \(configuration.bufferSize) is under 17 KiB",
                           context: "invalid TLS configuration")
        }
        // Versions.
        try check(camqp_ssl_ctx_set_min_proto_version(context, TLSContext.protocolVersion(configuration.minimumVersion)) == 1,
                  "cannot set the minimum TLS version")
        if let maximum = configuration.maximumVersion {
            guard maximum >= configuration.minimumVersion else {
                throw TLSError(kind: .configuration, reason: "maximumVersion \(maximum) is older than minimumVersion \(configuration.minimumVersion)",
                               context: "invalid TLS configuration")
            }
            try check(camqp_ssl_ctx_set_max_proto_version(context, TLSContext.protocolVersion(maximum)) == 1,
                      "cannot set the maximum TLS version")
        }
        // No renegotiation (TLS 1.2): it would need reads while writing and gains nothing here.
        _ = SSL_CTX_set_options(context, camqp_ssl_op_no_renegotiation() | camqp_ssl_op_no_compression())

        // Ciphers.
        if let list = configuration.cipherList {
            try check(SSL_CTX_set_cipher_list(context, list) == 1, "invalid cipher list \"\(list)\"")
        }
        if let suites = configuration.cipherSuites {
            try check(SSL_CTX_set_ciphersuites(context, suites) == 1, "invalid TLS 1.3 ciphersuites \"\(suites)\"")
        }

        // Our certificate and key.
        switch (configuration.certificateChainFile, configuration.privateKeyFile) {
        case let (chain?, key?):
            try check(SSL_CTX_use_certificate_chain_file(context, chain) == 1,
                      "cannot load the certificate chain from \(chain)")
            try loadPrivateKey(context, file: key, password: configuration.privateKeyPassword)
            try check(SSL_CTX_check_private_key(context) == 1,
                      "the private key in \(key) does not match the certificate in \(chain)")
        case (nil, nil):
            if configuration.role == .server {
                throw TLSError(kind: .configuration, reason: "a server needs certificateChainFile and privateKeyFile",
                               context: "invalid TLS configuration")
            }
        case (_?, nil), (nil, _?):
            throw TLSError(kind: .configuration, reason: "certificateChainFile and privateKeyFile go together",
                           context: "invalid TLS configuration")
        }

        // Whom we trust.
        let verifies = configuration.role == .client ? configuration.verifyPeer
                                                     : configuration.clientCertificates != .notRequested
        if verifies {
            switch configuration.trustRoots {
            case .system:
                try check(SSL_CTX_set_default_verify_paths(context) == 1, "cannot load the system's trust store")
            case .file(let file):
                try check(SSL_CTX_load_verify_locations(context, file, nil) == 1,
                          "cannot load the trusted certificates from \(file)")
                if configuration.role == .server {
                    // Name the acceptable issuers in the CertificateRequest, as Proton does. The
                    // stack returned is handed to the context, which frees it.
                    OpenSSLErrorQueue.clear()
                    guard let names = SSL_load_client_CA_file(file) else {
                        throw TLSContext.configurationError("cannot read the CA names in \(file)")
                    }
                    SSL_CTX_set_client_CA_list(context, names)
                }
            case .directory(let directory):
                try check(SSL_CTX_load_verify_locations(context, nil, directory) == 1,
                          "cannot use the trusted certificate directory \(directory)")
            }
        }
        switch configuration.role {
        case .client:
            SSL_CTX_set_verify(context, configuration.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        case .server:
            switch configuration.clientCertificates {
            case .notRequested: SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            case .optional: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            case .required: SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            }
        }
    }

    /// Reads the key ourselves, so that a password is handed over as data and never prompted for
    /// on the terminal (OpenSSL's default when no callback is set).
    private static func loadPrivateKey(_ context: OpaquePointer, file: String, password: String?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let bio = BIO_new_file(file, "r") else {
            throw TLSContext.configurationError("cannot load the private key from \(file)")
        }
        defer { BIO_free(bio) }
        // The password travels as a NUL-terminated C string that lives for the whole call: the
        // callback copies at most `size` bytes of it into OpenSSL's buffer and never keeps it.
        let key: OpaquePointer? = withPasswordCString(password) { userdata in
            PEM_read_bio_PrivateKey(bio, nil, { buffer, size, _, userdata in
                // OpenSSL asks only when the key is encrypted. No password given: fail (-1), which
                // OpenSSL reports as "bad password read" / "problems getting password".
                guard let buffer, let userdata, size > 0 else { return -1 }
                let password = userdata.assumingMemoryBound(to: CChar.self)
                var length: Int32 = 0
                while password[Int(length)] != 0 && length < size { length += 1 }
                // Safe: `buffer` has room for `size` bytes (OpenSSL's contract) and we copy at most
                // `size` bytes from `password`, which holds `length` bytes before its NUL.
                buffer.update(from: password, count: Int(length))
                return length
            }, userdata)
        }
        guard let key else {
            let entries = OpenSSLErrorQueue.drain()
            let reason = OpenSSLErrorQueue.describe(entries, fallback: "no private key found")
            let hint = password == nil ? " (is the key encrypted? no password was given)" : ""
            throw TLSError(kind: .configuration, reason: reason + hint,
                           context: "cannot load the private key from \(file)", openSSLCode: entries.first?.code ?? 0)
        }
        defer { EVP_PKEY_free(key) }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
            throw TLSContext.configurationError("the private key in \(file) does not match the certificate")
        }
    }

    private static func withPasswordCString<R>(_ password: String?, _ body: (UnsafeMutableRawPointer?) -> R) -> R {
        guard let password else { return body(nil) }
        var bytes = Array(password.utf8CString)
        defer {
            // Wipe our copy of the password once OpenSSL has used it.
            for index in bytes.indices { bytes[index] = 0 }
        }
        return bytes.withUnsafeMutableBytes { body($0.baseAddress) }
    }

    /// Runs one OpenSSL call on an empty error queue; false throws with what it queued.
    private static func check(_ ok: @autoclosure () -> Bool, _ context: String) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        if !ok() { throw TLSContext.configurationError(context) }
    }

    /// A configuration error carrying whatever OpenSSL queued on this thread.
    static func configurationError(_ context: String) -> TLSError {
        let entries = OpenSSLErrorQueue.drain()
        return TLSError(kind: .configuration, reason: OpenSSLErrorQueue.describe(entries, fallback: "failed"),
                        context: context, openSSLCode: entries.first?.code ?? 0)
    }

    static func protocolVersion(_ version: TLSConfiguration.Version) -> Int32 {
        switch version {
        case .tls1_2: return TLS1_2_VERSION
        case .tls1_3: return TLS1_3_VERSION
        }
    }
}

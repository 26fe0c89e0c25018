/// What a TLS endpoint presents and what it accepts: made once, turned into a ``TLSContext``, and
/// shared by every connection that context serves.
///
/// Start from ``client(serverName:)`` or ``server(certificateChainFile:privateKeyFile:privateKeyPassword:)``
/// and change fields. The defaults are the safe ones: a client verifies the server's certificate
/// against the system's trust store and checks that it is for ``serverName``; TLS 1.2 or later.
/// Nothing is read from disk until ``TLSContext/init(configuration:)``, which reports every
/// problem then.
///
/// Threading: a value; Sendable.
public struct TLSConfiguration: Sendable, Hashable {
    /// Which end of the handshake this side plays.
    ///
    /// Threading: a value; Sendable.
    public enum Role: Sendable, Hashable {
        /// Sends the ClientHello; verifies the server by default.
        case client
        /// Answers ClientHellos with a certificate chain and key.
        case server
    }

    /// Where the certificates a peer's chain must lead to come from.
    ///
    /// Threading: a value; Sendable.
    public enum TrustRoots: Sendable, Hashable {
        /// OpenSSL's default locations: the system trust store (Debian's `ca-certificates`, in
        /// `/etc/ssl/certs`), or `SSL_CERT_FILE`/`SSL_CERT_DIR` when set.
        case system
        /// The certificates in one PEM file (a private CA, say).
        case file(String)
        /// A directory of PEM certificates named by subject hash, as `openssl rehash` makes.
        case directory(String)
    }

    /// Whether a server asks its clients for a certificate.
    ///
    /// Threading: a value; Sendable.
    public enum ClientCertificates: Sendable, Hashable {
        /// Does not ask (the default).
        case notRequested
        /// Asks; a client may send none, but one it sends must verify against ``trustRoots``.
        case optional
        /// Asks, and fails the handshake of a client that sends none ("peer did not return a
        /// certificate") or one that does not verify.
        case required
    }

    /// A TLS protocol version. Versions before 1.2 are not offered.
    ///
    /// Threading: a value; Sendable.
    public enum Version: Sendable, Hashable, Comparable {
        /// TLS 1.2 (RFC 5246).
        case tls1_2
        /// TLS 1.3 (RFC 8446).
        case tls1_3
    }

    /// Which end this side plays.
    public var role: Role

    /// The certificates a peer's chain must lead to. A client verifies the server with them; a
    /// server verifies client certificates with them (and names their subjects to the client as
    /// acceptable issuers, when a file). Default ``TrustRoots/system``.
    public var trustRoots: TrustRoots

    /// Whether a client verifies the server's certificate chain. Default true.
    ///
    /// - Warning: false accepts any server, including one in the middle of the connection that
    ///   reads and changes everything. Turn it off only for tests against a peer you control.
    public var verifyPeer: Bool

    /// Whether a client checks that the server's certificate is for ``serverName`` (its
    /// subjectAltName DNS or IP entries, RFC 6125). Default true; it has effect only with
    /// ``verifyPeer``.
    ///
    /// - Warning: false accepts a valid certificate issued for any other name, which anyone with a
    ///   certificate from the same CA can present.
    public var verifyHostname: Bool

    /// The host name a client connects to: sent in the ClientHello for SNI (unless an IP address,
    /// RFC 6066) and checked against the certificate when ``verifyHostname``. A session may give
    /// its own (``TLSSession/init(context:serverName:)``), since one context serves connections
    /// to many hosts. Ignored by servers.
    public var serverName: String?

    /// A PEM file with our certificate and then the intermediates up to (not including) the
    /// root: a server's always, a client's when the server asks for one.
    public var certificateChainFile: String?

    /// A PEM file with the private key for the first certificate of ``certificateChainFile``.
    public var privateKeyFile: String?

    /// The password of an encrypted ``privateKeyFile`` (PKCS#8 or traditional PEM encryption).
    /// Kept in memory only as long as the configuration; OpenSSL is given it once, while the key
    /// loads.
    public var privateKeyPassword: String?

    /// Whether a server asks for client certificates. Ignored by clients.
    public var clientCertificates: ClientCertificates

    /// The oldest version offered or accepted. Default ``Version/tls1_2``.
    public var minimumVersion: Version

    /// The newest version offered or accepted; nil (the default) for the newest OpenSSL has
    /// (1.3).
    public var maximumVersion: Version?

    /// OpenSSL's cipher list for TLS 1.2 and earlier (`SSL_CTX_set_cipher_list`), e.g.
    /// `"ECDHE+AESGCM"`; nil for OpenSSL's default (`DEFAULT`, at security level 1 or whatever
    /// the system's `openssl.cnf` says).
    public var cipherList: String?

    /// OpenSSL's TLS 1.3 ciphersuites (`SSL_CTX_set_ciphersuites`), e.g.
    /// `"TLS_AES_128_GCM_SHA256"`; nil for OpenSSL's default.
    public var cipherSuites: String?

    /// The bytes each session buffers per direction between the socket and OpenSSL: the most a
    /// host can read from the socket (``TLSSession/readBuffer()``) or write to it
    /// (``TLSSession/outputBuffer()``) in one call. Each session holds two of them. Default 32 KiB:
    /// two full TLS records. At least 17 KiB, so that a whole record fits.
    public var bufferSize: Int

    /// A client configuration with the safe defaults: the system's trust store, the peer and its
    /// host name verified, TLS 1.2 or later.
    /// - Parameter serverName: the host to connect to, for SNI and the host name check; a
    ///   session may give its own instead.
    /// - Returns: the configuration.
    public static func client(serverName: String? = nil) -> TLSConfiguration {
        TLSConfiguration(role: .client, serverName: serverName)
    }

    /// A server configuration with a certificate chain and key, asking no client certificates.
    /// - Parameters:
    ///   - certificateChainFile: the PEM certificate chain (ours first).
    ///   - privateKeyFile: the PEM private key.
    ///   - privateKeyPassword: the key's password, if it is encrypted.
    /// - Returns: the configuration.
    public static func server(certificateChainFile: String, privateKeyFile: String,
                              privateKeyPassword: String? = nil) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .server, serverName: nil)
        configuration.certificateChainFile = certificateChainFile
        configuration.privateKeyFile = privateKeyFile
        configuration.privateKeyPassword = privateKeyPassword
        return configuration
    }

    /// A configuration for `role` with every default.
    /// - Parameters:
    ///   - role: client or server.
    ///   - serverName: a client's server name.
    public init(role: Role, serverName: String? = nil) {
        self.role = role
        self.trustRoots = .system
        self.verifyPeer = true
        self.verifyHostname = true
        self.serverName = serverName
        self.certificateChainFile = nil
        self.privateKeyFile = nil
        self.privateKeyPassword = nil
        self.clientCertificates = .notRequested
        self.minimumVersion = .tls1_2
        self.maximumVersion = nil
        self.cipherList = nil
        self.cipherSuites = nil
        self.bufferSize = 32 * 1024
    }
}

extension TLSConfiguration: CustomStringConvertible {
    /// The configuration with the key password hidden, for logs.
    public var description: String {
        var parts = ["role: \(role)", "trustRoots: \(trustRoots)"]
        if role == .client {
            parts.append("verifyPeer: \(verifyPeer)")
            parts.append("verifyHostname: \(verifyHostname)")
            if let serverName { parts.append("serverName: \(serverName)") }
        } else {
            parts.append("clientCertificates: \(clientCertificates)")
        }
        if let certificateChainFile { parts.append("certificateChainFile: \(certificateChainFile)") }
        if let privateKeyFile { parts.append("privateKeyFile: \(privateKeyFile)") }
        if privateKeyPassword != nil { parts.append("privateKeyPassword: <hidden>") }
        parts.append("minimumVersion: \(minimumVersion)")
        if let maximumVersion { parts.append("maximumVersion: \(maximumVersion)") }
        if let cipherList { parts.append("cipherList: \(cipherList)") }
        if let cipherSuites { parts.append("cipherSuites: \(cipherSuites)") }
        return "TLSConfiguration(\(parts.joined(separator: ", ")))"
    }
}

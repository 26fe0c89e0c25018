import AMQPCodec

/// What a server's authenticator knows of the transport under the SASL layer: the driver cannot
/// see it, so the host says. Set it with ``ConnectionDriver/saslTransport`` once the TLS handshake
/// is done and before the driver reads the client's first byte of AMQP (its SASL header).
///
/// Threading: a value; `Sendable`.
public struct SASLTransport: Sendable, Hashable {
    /// Whether the bytes are protected by TLS (or a transport as safe: a Unix socket, say). PLAIN
    /// sends the password in clear, so servers offer it only on a secure transport by default.
    public var isSecure: Bool
    /// The identity the transport proved, for EXTERNAL (RFC 4422 appendix A): the subject of the
    /// client's TLS certificate, once verified, as an RFC 4514 string with the most specific
    /// attribute first ("CN=client,O=Example,C=GB"; OpenSSL's `X509_NAME_print_ex` with
    /// `XN_FLAG_RFC2253`, as Proton's `pn_ssl_get_remote_subject`). nil without a verified client
    /// certificate.
    public var externalIdentity: String?

    /// A transport that is secure or not, with or without an identity.
    public init(isSecure: Bool, externalIdentity: String? = nil) {
        self.isSecure = isSecure
        self.externalIdentity = externalIdentity
    }

    /// A plain TCP connection: not secure, no identity. What a driver assumes until told otherwise.
    public static let insecure = SASLTransport(isSecure: false)
}

extension ConnectionDriver {
    /// Server: the transport under the SASL layer, which the authenticator is made for
    /// (``SASLServerConfiguration/makeAuthenticator``). Set it once the TLS handshake is done,
    /// before the driver reads the client's SASL header; setting it later changes nothing.
    /// ``SASLTransport/insecure`` by default.
    public var saslTransport: SASLTransport {
        get { sasl.transport }
        set { sasl.transport = newValue }
    }
}

/// A TLS failure: at configuration time (``Kind-swift.enum/configuration``) or on a connection,
/// with OpenSSL's reason and enough detail for a host to say what went wrong.
///
/// A host turns it into the connection's error, for instance
/// `AMQPError(condition: error.suggestedCondition, description: error.description)`, and closes
/// the connection; nothing else in the process is affected.
///
/// Threading: a value; Sendable.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as far as a host needs to tell failures apart.
    ///
    /// Threading: a value; Sendable.
    public enum Kind: Sendable, Hashable {
        /// A configuration that cannot be used: a file missing or unreadable, a key that does not
        /// match its certificate, a wrong key password, an unknown cipher. Thrown by
        /// ``TLSContext/init(configuration:)`` and ``TLSSession/init(context:serverName:)``.
        case configuration
        /// The handshake failed for a reason none of the other kinds names: no protocol version
        /// or cipher in common, an unexpected message, a generic alert from the peer.
        case handshakeFailure
        /// The certificate chain does not lead to a trusted root ("unable to get local issuer
        /// certificate", "self-signed certificate"); or the peer said so of ours (alert
        /// `unknown_ca`).
        case unknownCA
        /// The peer's certificate is not for the name we connected to ("hostname mismatch").
        case hostnameMismatch
        /// A certificate in the chain has expired; or the peer said so of ours.
        case certificateExpired
        /// A certificate in the chain is not valid yet.
        case certificateNotYetValid
        /// Any other verification failure: a bad signature, a wrong purpose, a revoked
        /// certificate; or the peer rejected ours with `bad_certificate` and similar alerts.
        case certificateRejected
        /// A certificate was required and not sent: this server requires client certificates and
        /// the client sent none; or, with ``TLSError/raisedByPeer``, the server required one from us.
        case certificateRequired
        /// The peer does not speak TLS: plaintext (an AMQP header, say) sent to a TLS port, or a
        /// TLS client on a plaintext port that answered in plaintext.
        case notTLS
        /// The stream ended without a TLS close_notify: during the handshake, in the middle of a
        /// record, or between records (a truncation an attacker could cause).
        case unexpectedEOF
        /// After the handshake, a record that is not valid: a bad MAC, a corrupt or unexpected
        /// record, an alert from the peer.
        case protocolError
    }

    /// What went wrong.
    public var kind: Kind
    /// OpenSSL's reason, as OpenSSL spells it, with the certificate verification result after a
    /// colon when there is one: "certificate verify failed: unable to get local issuer
    /// certificate", "tlsv1 alert unknown ca", "wrong version number".
    public var reason: String
    /// What was being done, for the message: "TLS handshake failed", "cannot load the private
    /// key from /etc/amqp/key.pem".
    public var context: String
    /// True when the peer's alert reported the failure (the peer rejected us); false when this
    /// side found it.
    public var raisedByPeer: Bool
    /// True when the failure happened before the handshake completed.
    public var duringHandshake: Bool
    /// OpenSSL's packed error code (`ERR_get_error()`), or 0 when the failure did not come from
    /// OpenSSL's error queue.
    public var openSSLCode: UInt
    /// The certificate verification result (`X509_V_ERR_*`, from `SSL_get_verify_result`) when a
    /// certificate was rejected here, else nil.
    public var verifyResult: Int32?

    /// Makes an error; the library fills these in, a host or a test may too.
    /// - Parameters:
    ///   - kind: what went wrong.
    ///   - reason: OpenSSL's reason text.
    ///   - context: what was being done.
    ///   - raisedByPeer: whether the peer's alert reported it.
    ///   - duringHandshake: whether the handshake was still under way.
    ///   - openSSLCode: OpenSSL's packed error code, or 0.
    ///   - verifyResult: the `X509_V_ERR_*` code, if any.
    public init(kind: Kind, reason: String, context: String, raisedByPeer: Bool = false,
                duringHandshake: Bool = false, openSSLCode: UInt = 0, verifyResult: Int32? = nil) {
        self.kind = kind
        self.reason = reason
        self.context = context
        self.raisedByPeer = raisedByPeer
        self.duringHandshake = duringHandshake
        self.openSSLCode = openSSLCode
        self.verifyResult = verifyResult
    }

    /// One line for logs and for the description of the connection's error, e.g. "TLS handshake
    /// failed: certificate verify failed: hostname mismatch".
    public var description: String {
        var text = context.isEmpty ? reason : "\(context): \(reason)"
        if raisedByPeer { text += " (reported by the peer)" }
        return text
    }

    /// The AMQP error condition Proton uses for this failure, for a host that closes the
    /// connection with it: `proton:io` for a stream that ended (``Kind-swift.enum/unexpectedEOF``)
    /// and for configuration errors, `amqp:connection:framing-error` for everything the TLS
    /// protocol itself rejected (as Proton's SSL layer does).
    public var suggestedCondition: String {
        switch kind {
        case .unexpectedEOF, .configuration: return "proton:io"
        default: return "amqp:connection:framing-error"
        }
    }
}

/// Why a SCRAM exchange failed, on either side (RFC 5802). The engine reports it as the
/// connection's transport error (`amqp:unauthorized-access`); a server refuses with the SASL outcome
/// `auth` and keeps the reason to itself.
///
/// Threading: a value; `Sendable`.
public struct SCRAMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure, for code that tells them apart.
    public enum Kind: Sendable, Hashable {
        /// A message that does not follow RFC 5802's grammar (§7), or is not UTF-8.
        case malformed
        /// A message out of turn: a second client-first, a final before the first, an outcome
        /// before the exchange.
        case unexpectedMessage
        /// The client asked for channel binding (`p=`), which this implementation does not do.
        case channelBindingNotSupported
        /// A mandatory extension (`m=`) we do not know (RFC 5802 §5.1).
        case extensionNotSupported
        /// The client asked to act for another identity (an authzid other than its own name).
        case authorizationNotSupported
        /// A name or password SASLprep refuses (RFC 4013).
        case invalidString
        /// The nonce is not the one of this exchange (a replayed or tampered message), or the
        /// server's does not extend the client's.
        case nonceMismatch
        /// The channel-binding attribute does not repeat the client's GS2 header.
        case channelBindingMismatch
        /// The client's proof does not verify: a wrong password, an unknown user, or tampering.
        case invalidProof
        /// The server's signature does not verify: it does not know the password, or someone
        /// stands between us.
        case serverSignatureMismatch
        /// The server sent no final message, or an error (`e=`).
        case serverRefused
        /// The iteration count is outside what we accept (RFC 7677 §4: at least 4096).
        case iterationCount
        /// OpenSSL failed (no randomness, a digest unavailable).
        case crypto
    }

    /// What kind of failure.
    public var kind: Kind
    /// What went wrong, for people.
    public var description: String

    /// An error of `kind` saying `description`.
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

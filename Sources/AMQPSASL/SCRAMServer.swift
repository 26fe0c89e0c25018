/// The server side of one SCRAM exchange (RFC 5802 §3, §5) over stored credentials: takes
/// client-first-message and answers server-first-message, takes client-final-message and, when the
/// proof verifies, answers server-final-message with the identity authenticated.
///
/// A user the store does not know gets a decoy salt and iteration count that look like a real
/// user's (the same for the same name each time), and the exchange runs to the end and fails there
/// like a wrong password, so the messages never reveal who exists (RFC 5802 §9).
///
/// Channel binding is not supported: the GS2 flag must be `n` (or `y`, a client that could bind but
/// thinks we cannot, RFC 5802 §6), and a client asking for `p=` is refused.
///
/// Threading: one per connection, on its thread; not `Sendable`.
final class SCRAMServerExchange {
    private enum State {
        case awaitingFirst
        case awaitingFinal(Pending)
        case done
    }

    private struct Pending {
        let username: String
        let credential: SCRAMCredential
        let known: Bool
        let gs2Header: Substring
        let clientFirstBare: Substring
        let serverFirst: String
        let nonce: String
    }

    private let hash: SCRAMHash
    private let store: (any SASLCredentialStore)?
    private let fixedNonce: String?
    private var state = State.awaitingFirst

    /// An exchange for `hash` over `store`; `nonce` fixes the server's nonce, for tests against
    /// published vectors. A nil store knows no one.
    init(hash: SCRAMHash, store: (any SASLCredentialStore)?, nonce: String? = nil) {
        self.hash = hash
        self.store = store
        self.fixedNonce = nonce
    }

    /// Takes client-first-message; returns server-first-message.
    func receiveClientFirst(_ bytes: [UInt8]) throws(SCRAMError) -> [UInt8] {
        guard case .awaitingFirst = state else { throw SCRAMError(.unexpectedMessage, "a second client-first-message") }
        state = .done   // until it succeeds
        let text = try SCRAMMessage.text(bytes, "client-first-message")
        // gs2-header: gs2-cbind-flag "," [authzid] ","
        let (flag, afterFlag) = SCRAMMessage.cut(text[...], at: ",")
        if SCRAMMessage.same(flag.prefix(2), "p=") {
            throw SCRAMError(.channelBindingNotSupported, "the client asks for channel binding (\(flag.prefix(40))), which is not supported")
        }
        guard SCRAMMessage.same(flag, "n") || SCRAMMessage.same(flag, "y") else {
            throw SCRAMError(.malformed, "the client-first-message has no GS2 channel-binding flag")
        }
        guard let afterFlag else { throw SCRAMError(.malformed, "the client-first-message ends after its GS2 flag") }
        let (authzid, rest) = SCRAMMessage.cut(afterFlag, at: ",")
        guard let bare = rest else {
            throw SCRAMError(.malformed, "the client-first-message's GS2 header is not closed")
        }
        let gs2Header = Substring(String(flag) + "," + String(authzid) + ",")

        let attributes = try SCRAMMessage.attributes(bare, "client-first-message")
        try SCRAMMessage.require(attributes, ["n", "r"], "client-first-message")
        guard let escaped = SCRAMMessage.unescape(attributes[0].value), !escaped.isEmpty else {
            throw SCRAMError(.malformed, "the username is empty or has an = that is not =2C or =3D")
        }
        let username: String
        do {
            username = try SASLprep.prepare(escaped, for: .query)
        } catch {
            throw SCRAMError(.invalidString, "the username: \(error)")
        }
        guard !username.isEmpty else { throw SCRAMError(.invalidString, "the username is empty after SASLprep") }
        if !authzid.isEmpty {
            guard SCRAMMessage.same(authzid.prefix(2), "a="), let asked = SCRAMMessage.unescape(authzid.dropFirst(2)) else {
                throw SCRAMError(.malformed, "the client-first-message's authzid is malformed")
            }
            guard let prepared = try? SASLprep.prepare(asked, for: .query), SCRAMMessage.same(prepared, username) else {
                throw SCRAMError(.authorizationNotSupported, "\(username) asks to act as \(asked), which is not supported")
            }
        }
        let clientNonce = attributes[1].value
        guard SCRAMMessage.isValidNonce(clientNonce) else {
            throw SCRAMError(.malformed, "the client's nonce is empty or not printable ASCII")
        }

        let found = store?.scramCredential(for: username, hash: hash).flatMap { $0.hash == hash ? $0 : nil }
        let credential: SCRAMCredential
        if let found {
            credential = found
        } else {
            // A decoy: the salt and count an attacker would see for a real user; keys no proof matches.
            let decoy = (store ?? NoCredentials()).decoy(for: username, hash: hash)
            credential = SCRAMCredential(hash: hash, salt: decoy.salt, iterations: decoy.iterations,
                                         storedKey: try randomBytes(hash.digestLength), serverKey: try randomBytes(hash.digestLength))
        }
        let serverNonce: String
        if let fixedNonce { serverNonce = fixedNonce } else { serverNonce = try SCRAMMessage.makeNonce() }
        let nonce = String(clientNonce) + serverNonce
        let serverFirst = "r=\(nonce),s=\(Base64.encode(credential.salt)),i=\(credential.iterations)"
        state = .awaitingFinal(Pending(username: username, credential: credential, known: found != nil, gs2Header: gs2Header,
                                       clientFirstBare: bare, serverFirst: serverFirst, nonce: nonce))
        return Array(serverFirst.utf8)
    }

    /// Takes client-final-message; returns the identity authenticated (the prepared username) and
    /// server-final-message.
    func receiveClientFinal(_ bytes: [UInt8]) throws(SCRAMError) -> (identity: String, serverFinal: [UInt8]) {
        guard case .awaitingFinal(let p) = state else {
            throw SCRAMError(.unexpectedMessage, "a client-final-message out of turn")
        }
        state = .done
        let text = try SCRAMMessage.text(bytes, "client-final-message")
        // client-final-message-without-proof "," proof: the proof is the last attribute, and base64
        // has no comma.
        let scalars = text.unicodeScalars
        guard let lastComma = scalars.lastIndex(of: ",") else {
            throw SCRAMError(.malformed, "the client-final-message does not end with a proof (p=)")
        }
        let withoutProof = Substring(scalars[..<lastComma])
        let proofAttribute = Substring(scalars[scalars.index(after: lastComma)...])
        guard SCRAMMessage.same(proofAttribute.prefix(2), "p=") else {
            throw SCRAMError(.malformed, "the client-final-message does not end with a proof (p=)")
        }
        let attributes = try SCRAMMessage.attributes(withoutProof, "client-final-message")
        try SCRAMMessage.require(attributes, ["c", "r"], "client-final-message")
        guard let proof = Base64.decode(proofAttribute.dropFirst(2)) else {
            throw SCRAMError(.malformed, "the client's proof is not base64")
        }
        guard let binding = Base64.decode(attributes[0].value) else {
            throw SCRAMError(.malformed, "the client's channel binding (c=) is not base64")
        }
        guard binding == Array(p.gs2Header.utf8) else {
            throw SCRAMError(.channelBindingMismatch, "the channel binding (c=) does not repeat the GS2 header")
        }
        guard SCRAMMessage.same(attributes[1].value, p.nonce) else {
            throw SCRAMError(.nonceMismatch, "the nonce is not this exchange's: a replayed or altered message")
        }
        guard proof.count == hash.digestLength else {
            throw SCRAMError(.malformed, "the client's proof has \(proof.count) bytes, not \(hash.digestLength)")
        }
        let authMessage = Array("\(p.clientFirstBare),\(p.serverFirst),\(withoutProof)".utf8)
        let clientSignature = try hash.hmac(key: p.credential.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        let matches = constantTimeEquals(try hash.hash(clientKey), p.credential.storedKey)
        guard p.known else { throw SCRAMError(.invalidProof, "unknown user \"\(p.username)\"") }
        guard matches else { throw SCRAMError(.invalidProof, "the proof of \"\(p.username)\" does not verify: a wrong password") }
        let serverSignature = try hash.hmac(key: p.credential.serverKey, authMessage)
        return (p.username, Array("v=\(Base64.encode(serverSignature))".utf8))
    }
}

import AMQPCodec
import AMQPEngine

extension SASLClientMechanism {
    /// SCRAM-SHA-256 (RFC 5802, RFC 7677) as `username` with `password`: the password never
    /// crosses the wire, and the server proves it knows the credential (its signature in the
    /// outcome's additional-data is checked; a wrong one fails the connection).
    public static func scramSHA256(username: String, password: String) -> SASLClientMechanism {
        scram(.sha256, username: username, password: password)
    }

    /// SCRAM-SHA-512 as `username` with `password`; see ``scramSHA256(username:password:)``.
    public static func scramSHA512(username: String, password: String) -> SASLClientMechanism {
        scram(.sha512, username: username, password: password)
    }

    /// SCRAM over `hash` as `username` with `password`. Each connection gets its own exchange and
    /// nonce. No channel binding (GS2 header `n,,`). The username and password are prepared with
    /// SASLprep (see ``SASLprep`` for what that covers); one it refuses fails the connection before
    /// anything is sent.
    /// - Parameters:
    ///   - minimumIterations: the fewest PBKDF2 iterations the server may ask for (RFC 7677 §4's
    ///     4096 by default); fewer fail the exchange, since they make an eavesdropper's guessing cheap.
    public static func scram(_ hash: SCRAMHash, username: String, password: String,
                             minimumIterations: Int = SCRAMCredential.minimumIterations) -> SASLClientMechanism {
        .exchange(name: hash.mechanism) {
            SCRAMClientExchange(hash: hash, username: username, password: password, minimumIterations: minimumIterations)
        }
    }
}

/// The client side of one SCRAM exchange (RFC 5802 §3, §5), as the engine drives it: the initial
/// response is client-first-message, the answer to the one challenge (server-first-message) is
/// client-final-message, and the outcome's additional-data is server-final-message, whose signature
/// is checked. A server that sends server-final-message as a second challenge instead is answered
/// with an empty response, and its outcome may then carry nothing.
///
/// Threading: one per connection, on its thread; not `Sendable`.
final class SCRAMClientExchange: SASLClientExchange {
    private enum State {
        case initial
        case sentFirst(bare: String, nonce: String, password: [UInt8])
        case sentFinal(serverSignature: [UInt8])
        case verified
        case failed
    }

    private let hash: SCRAMHash
    private let username: String
    private let password: String
    private let minimumIterations: Int
    private let fixedNonce: String?
    private var state = State.initial

    /// An exchange as `username`; `nonce` fixes the client nonce, for tests against published vectors.
    init(hash: SCRAMHash, username: String, password: String, minimumIterations: Int = SCRAMCredential.minimumIterations,
         nonce: String? = nil) {
        self.hash = hash
        self.username = username
        self.password = password
        self.minimumIterations = minimumIterations
        self.fixedNonce = nonce
    }

    func initialResponse() throws(SASLMechanismError) -> [UInt8]? {
        do {
            return Array(try clientFirst().utf8)
        } catch {
            state = .failed
            throw SASLMechanismError(error.description)
        }
    }

    func respond(to challenge: [UInt8]) throws(SASLMechanismError) -> [UInt8] {
        do {
            return try step(challenge)
        } catch {
            state = .failed
            throw SASLMechanismError(error.description)
        }
    }

    func verifyOutcome(_ additionalData: [UInt8]?) throws(SASLMechanismError) {
        do throws(SCRAMError) {
            switch state {
            case .verified where additionalData == nil || additionalData?.isEmpty == true:
                return
            case .sentFinal(let signature):
                guard let data = additionalData, !data.isEmpty else {
                    throw SCRAMError(.serverRefused, "the server's outcome has no server-final-message: it did not prove it knows the credential")
                }
                try verifyServerFinal(data, signature)
                state = .verified
            default:
                throw SCRAMError(.unexpectedMessage, "the server's outcome came before the exchange was done")
            }
        } catch {
            state = .failed
            throw SASLMechanismError(error.description)
        }
    }

    // MARK: the steps

    /// client-first-message: `n,,n=<user>,r=<nonce>`.
    func clientFirst() throws(SCRAMError) -> String {
        guard case .initial = state else { throw SCRAMError(.unexpectedMessage, "the exchange has started already") }
        let user: String, pass: String
        do {
            user = try SASLprep.prepare(username, for: .query)
            pass = try SASLprep.prepare(password, for: .stored)
        } catch {
            throw SCRAMError(.invalidString, "the username or password: \(error)")
        }
        guard !user.isEmpty else { throw SCRAMError(.invalidString, "the username is empty") }
        let nonce: String
        if let fixedNonce { nonce = fixedNonce } else { nonce = try SCRAMMessage.makeNonce() }
        let bare = "n=\(SCRAMMessage.escape(user)),r=\(nonce)"
        state = .sentFirst(bare: bare, nonce: nonce, password: Array(pass.utf8))
        return "n,," + bare
    }

    private func step(_ challenge: [UInt8]) throws(SCRAMError) -> [UInt8] {
        switch state {
        case .sentFirst(let bare, let nonce, let password):
            let (final, signature) = try clientFinal(serverFirst: challenge, bare: bare, nonce: nonce, password: password)
            state = .sentFinal(serverSignature: signature)
            return Array(final.utf8)
        case .sentFinal(let signature):
            // Some servers send server-final-message as a challenge; the outcome then carries nothing.
            try verifyServerFinal(challenge, signature)
            state = .verified
            return []
        default:
            throw SCRAMError(.unexpectedMessage, "a challenge after the exchange was done")
        }
    }

    /// client-final-message for `serverFirst`, and the server signature to expect.
    func clientFinal(serverFirst bytes: [UInt8], bare: String, nonce: String,
                     password: [UInt8]) throws(SCRAMError) -> (String, [UInt8]) {
        let serverFirst = try SCRAMMessage.text(bytes, "server-first-message")
        let attributes = try SCRAMMessage.attributes(serverFirst[...], "server-first-message")
        if let e = attributes.first, e.name == "e" {
            throw SCRAMError(.serverRefused, "the server refused: \(e.value)")
        }
        try SCRAMMessage.require(attributes, ["r", "s", "i"], "server-first-message")
        let fullNonce = attributes[0].value
        guard SCRAMMessage.isValidNonce(fullNonce), fullNonce.hasPrefix(nonce), fullNonce.count > nonce.count else {
            throw SCRAMError(.nonceMismatch, "the server's nonce does not extend ours")
        }
        guard let salt = Base64.decode(attributes[1].value), !salt.isEmpty else {
            throw SCRAMError(.malformed, "the server's salt is not base64")
        }
        guard let iterations = SCRAMMessage.iterationCount(attributes[2].value) else {
            throw SCRAMError(.malformed, "the server's iteration count is not a positive number")
        }
        guard iterations >= minimumIterations, iterations <= SCRAMCredential.maximumIterations else {
            throw SCRAMError(.iterationCount, "the server asks for \(iterations) iterations; we accept \(minimumIterations) to \(SCRAMCredential.maximumIterations)")
        }
        let keys = try SCRAMKeys(hash: hash, password: password, salt: salt, iterations: iterations)
        let withoutProof = "c=biws,r=\(fullNonce)"   // biws: base64 of the GS2 header "n,,"
        let authMessage = Array("\(bare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = try hash.hmac(key: keys.storedKey, authMessage)
        let proof = zip(keys.clientKey, clientSignature).map { $0 ^ $1 }
        let serverSignature = try hash.hmac(key: keys.serverKey, authMessage)
        return ("\(withoutProof),p=\(Base64.encode(proof))", serverSignature)
    }

    /// Checks server-final-message: `v=<signature>`, or `e=<error>`.
    private func verifyServerFinal(_ bytes: [UInt8], _ expected: [UInt8]) throws(SCRAMError) {
        let text = try SCRAMMessage.text(bytes, "server-final-message")
        let attributes = try SCRAMMessage.attributes(text[...], "server-final-message")
        if let e = attributes.first, e.name == "e" {
            throw SCRAMError(.serverRefused, "the server refused: \(e.value)")
        }
        try SCRAMMessage.require(attributes, ["v"], "server-final-message")
        guard let signature = Base64.decode(attributes[0].value) else {
            throw SCRAMError(.malformed, "the server's signature is not base64")
        }
        guard constantTimeEquals(signature, expected) else {
            throw SCRAMError(.serverSignatureMismatch,
                             "the server's signature does not verify: it does not know our credential, or someone stands between us")
        }
    }
}

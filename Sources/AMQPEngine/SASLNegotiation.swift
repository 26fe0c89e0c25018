import AMQPCodec

/// The SASL exchange (AMQP 1.0 §5.3) as a state machine of its own: performatives in, what to do
/// next out. It knows nothing of bytes or the driver; the driver writes what it is told to.
struct SASLNegotiation {
    enum State {
        case off
        case clientAwaitingMechanisms(SASLClientConfiguration)
        case clientAwaitingOutcome(SASLClientMechanism)
        case serverAwaitingInit(any SASLAuthenticator)
        case serverAwaitingResponse(any SASLAuthenticator)
        case succeeded
        case failed
    }

    /// What the driver does after a SASL frame.
    enum Next {
        /// Write this frame and wait for the next one.
        case send(Performative)
        /// Done: write the frame if any (the server's outcome), then the AMQP layer starts.
        case succeed(send: Performative?)
        /// Done, badly: write the frame if any (the server's outcome), then close the transport.
        case fail(AMQPError, send: Performative?)
    }

    private(set) var state: State = .off
    /// The mechanism settled on, once chosen.
    private(set) var mechanism: Symbol?
    /// The outcome, once sent (server) or received (client).
    private(set) var outcome: SASLCode?
    /// Server: who the client authenticated as.
    private(set) var identity: String?

    /// Client: start, having written the SASL header.
    mutating func startClient(_ config: SASLClientConfiguration) {
        state = .clientAwaitingMechanisms(config)
    }

    /// Server: start on the client's SASL header; returns the mechanisms frame to write.
    mutating func startServer(_ config: SASLServerConfiguration) -> Performative {
        state = .serverAwaitingInit(config.makeAuthenticator())
        return .saslMechanisms(SASLMechanisms(saslServerMechanisms: config.mechanisms))
    }

    var isActive: Bool {
        switch state {
        case .off, .succeeded, .failed: return false
        default: return true
        }
    }

    var hasSucceeded: Bool { if case .succeeded = state { return true } else { return false } }

    /// Ends the exchange as failed, for errors found outside it (a bad frame).
    mutating func abandon() { state = .failed }

    mutating func receive(_ p: Performative, hostname: String?, server: SASLServerConfiguration) -> Next {
        switch (state, p) {
        case (.clientAwaitingMechanisms(let config), .saslMechanisms(let m)):
            guard let chosen = config.mechanisms.first(where: { m.saslServerMechanisms.contains($0.name) }) else {
                let offered = m.saslServerMechanisms.map(\.rawValue).joined(separator: " ")
                let ours = config.mechanisms.map(\.name.rawValue).joined(separator: " ")
                return fail("no common SASL mechanism: the server offers [\(offered)], we have [\(ours)]")
            }
            mechanism = chosen.name
            state = .clientAwaitingOutcome(chosen)
            return .send(.saslInit(SASLInit(mechanism: chosen.name, initialResponse: chosen.initialResponse.map { Binary($0) },
                                            hostname: hostname)))
        case (.clientAwaitingOutcome(let chosen), .saslChallenge(let c)):
            guard let response = chosen.respond(to: Array(c.challenge)) else {
                return fail("SASL \(chosen.name) cannot answer the server's challenge")
            }
            return .send(.saslResponse(SASLResponse(response: Binary(response))))
        case (.clientAwaitingOutcome(let chosen), .saslOutcome(let o)):
            outcome = o.code
            guard o.code == .ok else {
                return fail("SASL authentication failed: outcome \(o.code.name) (mechanism \(chosen.name))")
            }
            guard chosen.acceptsOutcome(o.additionalData.map { Array($0) }) else {
                return fail("SASL \(chosen.name): the server's outcome did not verify")
            }
            state = .succeeded
            return .succeed(send: nil)
        case (.serverAwaitingInit(let auth), .saslInit(let i)):
            mechanism = i.mechanism
            guard server.mechanisms.contains(i.mechanism) else { return serverStep(.failure(.auth), auth) }
            return serverStep(auth.start(mechanism: i.mechanism, initialResponse: i.initialResponse.map { Array($0) },
                                         hostname: i.hostname), auth)
        case (.serverAwaitingResponse(let auth), .saslResponse(let r)):
            return serverStep(auth.respond(Array(r.response)), auth)
        default:
            state = .failed
            return .fail(AMQPError(condition: ErrorCondition.illegalState, description: "unexpected \(p.name) during SASL negotiation"), send: nil)
        }
    }

    private mutating func serverStep(_ step: SASLStep, _ auth: any SASLAuthenticator) -> Next {
        switch step {
        case .success(let who, let data):
            identity = who
            outcome = .ok
            state = .succeeded
            return .succeed(send: .saslOutcome(SASLOutcome(code: .ok, additionalData: data.map { Binary($0) })))
        case .challenge(let bytes):
            state = .serverAwaitingResponse(auth)
            return .send(.saslChallenge(SASLChallenge(challenge: Binary(bytes))))
        case .failure(let code):
            let code = code == .ok ? SASLCode.auth : code
            outcome = code
            let why = "SASL authentication failed: outcome \(code.name) (mechanism \(mechanism?.rawValue ?? "none"))"
            state = .failed
            return .fail(AMQPError(condition: ErrorCondition.unauthorizedAccess, description: why),
                         send: .saslOutcome(SASLOutcome(code: code)))
        }
    }

    private mutating func fail(_ description: String) -> Next {
        state = .failed
        return .fail(AMQPError(condition: ErrorCondition.unauthorizedAccess, description: description), send: nil)
    }
}

import AMQPCodec

/// The SASL exchange (AMQP 1.0 §5.3) as a state machine of its own: performatives in, what to do
/// next out. It knows nothing of bytes or the driver; the driver writes what it is told to.
struct SASLNegotiation {
    enum State {
        case off
        case clientAwaitingMechanisms(SASLClientConfiguration)
        case clientAwaitingOutcome(SASLClientMechanism, (any SASLClientExchange)?)
        case serverAwaitingInit(any SASLAuthenticator, offered: [Symbol])
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
    /// Server: the transport the host described, for the authenticator (``ConnectionDriver/saslTransport``).
    var transport = SASLTransport.insecure

    /// Client: start, having written the SASL header.
    mutating func startClient(_ config: SASLClientConfiguration) {
        state = .clientAwaitingMechanisms(config)
    }

    /// Server: start on the client's SASL header; returns the mechanisms frame to write.
    mutating func startServer(_ config: SASLServerConfiguration) -> Performative {
        let auth = config.makeAuthenticator(transport)
        let offered = auth.offeredMechanisms ?? config.mechanisms
        state = .serverAwaitingInit(auth, offered: offered)
        return .saslMechanisms(SASLMechanisms(saslServerMechanisms: offered))
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
            // The strongest of ours that the server offers (§5.3.3.1 leaves the choice to the client).
            guard let chosen = config.choose(offered: m.saslServerMechanisms) else {
                let offered = m.saslServerMechanisms.map(\.rawValue).joined(separator: " ")
                let ours = config.mechanisms.map(\.name.rawValue).joined(separator: " ")
                return fail("no common SASL mechanism: the server offers [\(offered)], we have [\(ours)]")
            }
            mechanism = chosen.name
            let initialResponse: [UInt8]?, exchange: (any SASLClientExchange)?
            do {
                (initialResponse, exchange) = try chosen.begin()
            } catch {
                return fail("SASL \(chosen.name): \(error)")
            }
            state = .clientAwaitingOutcome(chosen, exchange)
            return .send(.saslInit(SASLInit(mechanism: chosen.name, initialResponse: initialResponse.map { Binary($0) },
                                            hostname: hostname)))
        case (.clientAwaitingOutcome(let chosen, let exchange?), .saslChallenge(let c)):
            do {
                return .send(.saslResponse(SASLResponse(response: Binary(try exchange.respond(to: Array(c.challenge))))))
            } catch {
                return fail("SASL \(chosen.name): \(error)")
            }
        case (.clientAwaitingOutcome(let chosen, nil), .saslChallenge(let c)):
            guard let response = chosen.respond(to: Array(c.challenge)) else {
                return fail("SASL \(chosen.name) cannot answer the server's challenge")
            }
            return .send(.saslResponse(SASLResponse(response: Binary(response))))
        case (.clientAwaitingOutcome(let chosen, let exchange), .saslOutcome(let o)):
            outcome = o.code
            guard o.code == .ok else {
                return fail("SASL authentication failed: outcome \(o.code.name) (mechanism \(chosen.name))")
            }
            let data = o.additionalData.map { Array($0) }
            if let exchange {
                do {
                    try exchange.verifyOutcome(data)
                } catch {
                    return fail("SASL \(chosen.name): \(error)")
                }
            } else if !chosen.acceptsOutcome(data) {
                return fail("SASL \(chosen.name): the server's outcome did not verify")
            }
            state = .succeeded
            return .succeed(send: nil)
        case (.serverAwaitingInit(let auth, let offered), .saslInit(let i)):
            mechanism = i.mechanism
            guard offered.contains(i.mechanism) else {
                return serverStep(.failure(.auth, reason: "the client chose \(i.mechanism.rawValue), which we did not offer"), auth)
            }
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
        case .failure(let code, let reason):
            let code = code == .ok ? SASLCode.auth : code
            outcome = code
            let why = "SASL authentication failed: outcome \(code.name) (mechanism \(mechanism?.rawValue ?? "none"))"
                + (reason.map { ": \($0)" } ?? "")
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

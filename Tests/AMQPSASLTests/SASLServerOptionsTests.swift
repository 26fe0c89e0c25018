import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
@testable import AMQPSASL
import XCTest

/// The server's SASL options on real drivers (a DriverPair): what is offered on which transport,
/// each mechanism's identity, every refusal with `auth`, and the errors found at configuration time.
final class SASLServerOptionsTests: XCTestCase {
    /// alice/wonderland with both SCRAM credentials; bob/builder with SCRAM-SHA-256 only.
    static let users: SASLUsersFile = {
        let lines = (try? SASLUsersFile.entries(username: "alice", password: "wonderland"))! +
            (try? SASLUsersFile.entries(username: "bob", password: "builder", hashes: [.sha256]))!
        return (try? SASLUsersFile(parsing: lines.joined(separator: "\n")))!
    }()

    private func pair(client: SASLClientConfiguration?, server options: SASLServerOptions,
                      transport: SASLTransport = .insecure) throws -> DriverPair {
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = client
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        let p = DriverPair(client: c, server: s)
        p.server.saslTransport = transport
        p.client.connection.open()
        p.pump()
        return p
    }

    private func errors(_ events: [AMQPEvent]) -> [AMQPError] {
        events.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }
    }

    private func assertAuthenticated(_ p: DriverPair, as identity: String, with mechanism: Symbol,
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(p.firstTransportError, file: file, line: line)
        XCTAssertEqual(p.server.authenticatedIdentity, identity, file: file, line: line)
        XCTAssertEqual(p.client.saslMechanism, mechanism, file: file, line: line)
        XCTAssertEqual(p.server.saslMechanism, mechanism, file: file, line: line)
        XCTAssertEqual(p.client.saslOutcome, .ok, file: file, line: line)
        XCTAssertNotNil(p.server.connection.remoteOpen, "the AMQP layer is up", file: file, line: line)
    }

    private func assertRefused(_ p: DriverPair, serverReason: String? = nil, clientReason: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(p.client.saslOutcome, .auth, file: file, line: line)
        XCTAssertEqual(p.server.saslOutcome, .auth, file: file, line: line)
        XCTAssertNil(p.server.authenticatedIdentity, file: file, line: line)
        XCTAssertNil(p.server.connection.remoteOpen, "no AMQP frame passes a refusal", file: file, line: line)
        let s = errors(p.serverEvents).first, c = errors(p.clientEvents).first
        XCTAssertEqual(s?.condition, ErrorCondition.unauthorizedAccess, file: file, line: line)
        XCTAssertEqual(c?.condition, ErrorCondition.unauthorizedAccess, file: file, line: line)
        if let serverReason { XCTAssertEqual(s?.description, serverReason, file: file, line: line) }
        if let clientReason { XCTAssertEqual(c?.description, clientReason, file: file, line: line) }
        XCTAssertTrue(p.client.isFinished && p.server.isFinished, file: file, line: line)
    }

    private var options: SASLServerOptions { SASLServerOptions(credentials: Self.users) }

    // MARK: each mechanism and its identity

    func testSCRAMBothHashes() throws {
        for (mechanism, client) in [("SCRAM-SHA-512", SASLClientMechanism.scramSHA512(username: "alice", password: "wonderland")),
                                    ("SCRAM-SHA-256", .scramSHA256(username: "alice", password: "wonderland"))] {
            let p = try pair(client: SASLClientConfiguration(mechanisms: [client]), server: options)
            assertAuthenticated(p, as: "alice", with: Symbol(mechanism))
        }
    }

    func testSCRAMWithChunkedFrames() throws {
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = .password(username: "alice", password: "wonderland")
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        let p = DriverPair(client: c, server: s)
        p.chunk = 5
        p.client.connection.open()
        p.pump()
        assertAuthenticated(p, as: "alice", with: "SCRAM-SHA-512")
    }

    func testSCRAMWrongPassword() throws {
        let p = try pair(client: SASLClientConfiguration(mechanisms: [.scramSHA256(username: "alice", password: "Wonderland")]),
                         server: options)
        assertRefused(p, serverReason: "SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256): the proof of \"alice\" does not verify: a wrong password",
                      clientReason: "SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256)")
    }

    func testSCRAMUnknownUser() throws {
        let p = try pair(client: SASLClientConfiguration(mechanisms: [.scramSHA512(username: "mallory", password: "x")]), server: options)
        assertRefused(p, serverReason: "SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512): unknown user \"mallory\"",
                      clientReason: "SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512)")
    }

    func testSCRAMUserWithoutThatHash() throws {
        // bob has only SCRAM-SHA-256: SHA-512 fails as for an unknown user; the default client
        // configuration picks SHA-512 (the strongest offered), so bob lists SHA-256 alone.
        let p = try pair(client: SASLClientConfiguration(mechanisms: [.scramSHA512(username: "bob", password: "builder")]), server: options)
        assertRefused(p)
        let q = try pair(client: SASLClientConfiguration(mechanisms: [.scramSHA256(username: "bob", password: "builder")]), server: options)
        assertAuthenticated(q, as: "bob", with: "SCRAM-SHA-256")
    }

    func testSCRAMWithoutInitialResponse() throws {
        // A client may send sasl-init without the initial response: an empty challenge asks for it.
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        let peer = ScriptedPeer(driverMode: .server, configuration: s)
        peer.write(header: .sasl)
        _ = peer.read()
        peer.write(.saslInit(SASLInit(mechanism: "SCRAM-SHA-256")))
        guard case .saslChallenge(let c)? = peer.readPerformatives().first else { return XCTFail("no challenge") }
        XCTAssertEqual(Array(c.challenge), [])
        let client = SCRAMClientExchange(hash: .sha256, username: "alice", password: "wonderland")
        peer.write(.saslResponse(SASLResponse(response: Binary(try client.initialResponse()!))))
        guard case .saslChallenge(let first)? = peer.readPerformatives().first else { return XCTFail("no server-first") }
        peer.write(.saslResponse(SASLResponse(response: Binary(try client.respond(to: Array(first.challenge))))))
        guard case .saslOutcome(let o)? = peer.readPerformatives().first else { return XCTFail("no outcome") }
        XCTAssertEqual(o.code, .ok)
        XCTAssertNoThrow(try client.verifyOutcome(o.additionalData.map { Array($0) }))
        XCTAssertEqual(peer.driver.authenticatedIdentity, "alice")
    }

    func testPlainOverTLS() throws {
        let p = try pair(client: .plain(username: "alice", password: "wonderland"), server: options, transport: SASLTransport(isSecure: true))
        assertAuthenticated(p, as: "alice", with: "PLAIN")
        let q = try pair(client: .plain(username: "bob", password: "builder"), server: options, transport: SASLTransport(isSecure: true))
        assertAuthenticated(q, as: "bob", with: "PLAIN")
    }

    func testPlainWrongPasswordUnknownUserAndAuthzid() throws {
        let tls = SASLTransport(isSecure: true)
        assertRefused(try pair(client: .plain(username: "alice", password: "x"), server: options, transport: tls),
                      serverReason: "SASL authentication failed: outcome auth (mechanism PLAIN): PLAIN: a wrong password or an unknown user \"alice\"")
        assertRefused(try pair(client: .plain(username: "mallory", password: "x"), server: options, transport: tls))
        assertRefused(try pair(client: SASLClientConfiguration(mechanisms: [.plain(username: "alice", password: "wonderland", authzid: "bob")]),
                               server: options, transport: tls),
                      serverReason: "SASL authentication failed: outcome auth (mechanism PLAIN): alice asks to act as bob, which is not supported")
        assertAuthenticated(try pair(client: SASLClientConfiguration(mechanisms: [.plain(username: "alice", password: "wonderland", authzid: "alice")]),
                                     server: options, transport: tls), as: "alice", with: "PLAIN")
    }

    func testPlainNotOfferedInTheClearByDefault() throws {
        // The offer leaves PLAIN out, so a PLAIN-only client finds no common mechanism...
        let p = try pair(client: .plain(username: "alice", password: "wonderland"), server: options)
        XCTAssertEqual(errors(p.clientEvents).first?.description,
                       "no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [PLAIN]")
        XCTAssertNil(p.server.authenticatedIdentity)
        // ...and a client that sends PLAIN anyway is refused with auth.
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        let peer = ScriptedPeer(driverMode: .server, configuration: s)
        peer.write(header: .sasl)
        XCTAssertEqual(peer.read().compactMap(\.performative), [.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["SCRAM-SHA-512", "SCRAM-SHA-256"]))])
        peer.write(.saslInit(SASLInit(mechanism: "PLAIN", initialResponse: Binary(Array("\0alice\0wonderland".utf8)))))
        XCTAssertEqual(peer.readPerformatives(), [.saslOutcome(SASLOutcome(code: .auth))])
        XCTAssertEqual(peer.transportErrors.first?.description,
                       "SASL authentication failed: outcome auth (mechanism PLAIN): the client chose PLAIN, which we did not offer")
        XCTAssertNil(peer.driver.authenticatedIdentity)
    }

    func testPlainInTheClearWhenAllowed() throws {
        var o = options
        o.allowPlainWithoutTLS = true
        assertAuthenticated(try pair(client: .plain(username: "alice", password: "wonderland"), server: o), as: "alice", with: "PLAIN")
    }

    func testExternalTakesTheCertificateSubject() throws {
        let subject = "CN=client,O=Example,C=GB"
        let tls = SASLTransport(isSecure: true, externalIdentity: subject)
        let external = SASLClientConfiguration(mechanisms: [.external()])
        assertAuthenticated(try pair(client: external, server: options, transport: tls), as: subject, with: "EXTERNAL")
        assertAuthenticated(try pair(client: SASLClientConfiguration(mechanisms: [.external(authzid: subject)]), server: options, transport: tls),
                            as: subject, with: "EXTERNAL")
        assertRefused(try pair(client: SASLClientConfiguration(mechanisms: [.external(authzid: "CN=admin")]), server: options, transport: tls),
                      serverReason: "SASL authentication failed: outcome auth (mechanism EXTERNAL): EXTERNAL: CN=client,O=Example,C=GB may not act as CN=admin")
        // Without a client certificate EXTERNAL is not offered.
        let p = try pair(client: external, server: options, transport: SASLTransport(isSecure: true))
        XCTAssertEqual(errors(p.clientEvents).first?.description,
                       "no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256 PLAIN], we have [EXTERNAL]")
    }

    func testExternalIdentityMappedByTheStore() throws {
        struct Mapping: SASLCredentialStore {
            func scramCredential(for username: String, hash: SCRAMHash) -> SCRAMCredential? { nil }
            func externalIdentity(subject: String, authzid: String?) -> String? {
                subject.hasPrefix("CN=") ? String(subject.dropFirst(3).prefix { $0 != "," }) : nil
            }
        }
        let o = SASLServerOptions(mechanisms: [.external], credentials: Mapping())
        let tls = SASLTransport(isSecure: true, externalIdentity: "CN=carol,O=Example")
        assertAuthenticated(try pair(client: SASLClientConfiguration(mechanisms: [.external()]), server: o, transport: tls),
                            as: "carol", with: "EXTERNAL")
    }

    func testAnonymousNotOfferedByDefault() throws {
        XCTAssertFalse(options.allowAnonymous)
        let p = try pair(client: .anonymous, server: options)
        XCTAssertEqual(errors(p.clientEvents).first?.description,
                       "no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [ANONYMOUS]")
        XCTAssertNil(p.server.authenticatedIdentity)
    }

    func testAnonymousAllowed() throws {
        var o = options
        o.allowAnonymous = true
        XCTAssertEqual(o.mechanisms, [.scramSHA512, .scramSHA256, .plain, .external, .anonymous])
        assertAuthenticated(try pair(client: .anonymous, server: o), as: "anonymous", with: "ANONYMOUS")
        o.anonymousIdentity = "guest"
        assertAuthenticated(try pair(client: .anonymous, server: o), as: "guest", with: "ANONYMOUS")
        // A client that skips SASL is let in too, with no identity.
        let p = try pair(client: nil, server: o)
        XCTAssertNil(p.firstTransportError)
        XCTAssertNotNil(p.server.connection.remoteOpen)
        XCTAssertNil(p.server.authenticatedIdentity)
        o.allowAnonymous = false
        XCTAssertEqual(o.mechanisms, [.scramSHA512, .scramSHA256, .plain, .external])
    }

    func testAnonymousRefusedWhenNotAllowed() throws {
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        let peer = ScriptedPeer(driverMode: .server, configuration: s)
        peer.write(header: .sasl)
        _ = peer.read()
        peer.write(.saslInit(SASLInit(mechanism: "ANONYMOUS", initialResponse: Binary([]))))
        XCTAssertEqual(peer.readPerformatives(), [.saslOutcome(SASLOutcome(code: .auth))])
        XCTAssertNil(peer.driver.authenticatedIdentity)
        // And a client that skips SASL gets the SASL header and a close (§5.3.1).
        let skip = try pair(client: nil, server: options)
        XCTAssertEqual(errors(skip.serverEvents).first?.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertNil(skip.server.connection.remoteOpen)
    }

    func testMalformedSCRAMThroughTheDriverIsRefusedWithAuth() throws {
        for (first, final) in [("x", nil), ("p=tls-unique,,n=alice,r=abc", nil), ("n,,n=alice,r=abc", "garbage"),
                               ("n,,n=alice,r=abc", "c=biws,r=abc,p=AAAA")] as [(String, String?)] {
            var s = DriverConfiguration(containerID: "server")
            s.saslServer = try options.configuration()
            let peer = ScriptedPeer(driverMode: .server, configuration: s)
            peer.write(header: .sasl)
            _ = peer.read()
            peer.write(.saslInit(SASLInit(mechanism: "SCRAM-SHA-256", initialResponse: Binary(Array(first.utf8)))))
            if let final {
                guard case .saslChallenge? = peer.readPerformatives().first else { return XCTFail("no challenge for \(first)") }
                peer.write(.saslResponse(SASLResponse(response: Binary(Array(final.utf8)))))
            }
            XCTAssertEqual(peer.readPerformatives(), [.saslOutcome(SASLOutcome(code: .auth))], first)
            XCTAssertEqual(peer.transportErrors.first?.condition, ErrorCondition.unauthorizedAccess)
            XCTAssertTrue(peer.driver.isFinished || peer.driver.isTailClosed, first)
        }
    }

    func testClientFailsClearlyOnAWrongServerSignature() throws {
        // A server that does not know the credential cannot sign: the client refuses its ok.
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = SASLClientConfiguration(mechanisms: [.scramSHA256(username: "user", password: "pencil")])
        let peer = ScriptedPeer(driverMode: .client, configuration: c)
        peer.driver.connection.open()
        _ = peer.read()
        peer.write(header: .sasl)
        peer.write(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["SCRAM-SHA-256"])))
        guard case .saslInit(let i)? = peer.readPerformatives().first, let first = i.initialResponse else { return XCTFail("no init") }
        let nonce = String(String(decoding: Array(first), as: UTF8.self).dropFirst("n,,n=user,r=".count))
        peer.write(.saslChallenge(SASLChallenge(challenge: Binary(Array("r=\(nonce)srv,s=\(SCRAMVectorTests.salt),i=4096".utf8)))))
        guard case .saslResponse? = peer.readPerformatives().first else { return XCTFail("no response") }
        peer.write(.saslOutcome(SASLOutcome(code: .ok, additionalData: Binary(Array("v=\(Base64.encode([UInt8](repeating: 7, count: 32)))".utf8)))))
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertEqual(peer.transportErrors.first?.description,
                       "SASL SCRAM-SHA-256: the server's signature does not verify: it does not know our credential, or someone stands between us")
        XCTAssertNil(peer.driver.connection.remoteOpen)
        XCTAssertEqual(peer.readNames().filter { $0 == "open" }, [], "our held open never goes out")
    }

    func testClientFailsOnAnOkWithoutServerFinal() throws {
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = SASLClientConfiguration(mechanisms: [.scramSHA256(username: "user", password: "pencil")])
        let peer = ScriptedPeer(driverMode: .client, configuration: c)
        _ = peer.read()
        peer.write(header: .sasl)
        peer.write(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["SCRAM-SHA-256"])))
        _ = peer.read()
        peer.write(.saslOutcome(SASLOutcome(code: .ok)))
        XCTAssertEqual(peer.transportErrors.first?.description,
                       "SASL SCRAM-SHA-256: the server's outcome came before the exchange was done")
    }

    // MARK: configuration-time errors

    func testConfigurationErrors() throws {
        XCTAssertThrowsError(try SASLServerOptions(mechanismNames: ["SCRAM-SHA-256", "CRAM-MD5"], credentials: Self.users)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .unknownMechanism("CRAM-MD5"))
            XCTAssertEqual("\($0)", "unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)")
        }
        XCTAssertThrowsError(try SASLServerOptions(mechanismNames: ["PLAIN", "plain"], credentials: Self.users)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .duplicateMechanism("PLAIN"))
        }
        XCTAssertThrowsError(try SASLServerOptions(mechanismNames: [], credentials: Self.users)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .noMechanism)
        }
        XCTAssertThrowsError(try SASLServerOptions(mechanisms: [.scramSHA256], credentials: nil).configuration()) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .missingCredentials("SCRAM-SHA-256"))
        }
        XCTAssertThrowsError(try SASLServerOptions(mechanisms: [], credentials: nil).configuration())
        XCTAssertThrowsError(try SASLServerOptions(mechanisms: [.external, .external], credentials: nil).configuration())
        let parsed = try SASLServerOptions(mechanismNames: ["scram-sha-512,Plain", "ANONYMOUS"], credentials: Self.users)
        XCTAssertEqual(parsed.mechanisms, [.scramSHA512, .plain, .anonymous])
        XCTAssertTrue(parsed.allowAnonymous)
        XCTAssertEqual(try SASLServerOptions.anonymousOnly.configuration().mechanisms, ["ANONYMOUS"])
        XCTAssertTrue(try SASLServerOptions.anonymousOnly.configuration().allowsUnauthenticated)
        XCTAssertNoThrow(try SASLServerOptions(mechanisms: [.external], credentials: nil).configuration())
    }

    func testOfferPerTransport() {
        var o = options
        o.allowAnonymous = true
        XCTAssertEqual(o.offered(on: .insecure), [.scramSHA512, .scramSHA256, .anonymous])
        XCTAssertEqual(o.offered(on: SASLTransport(isSecure: true)), [.scramSHA512, .scramSHA256, .plain, .anonymous])
        XCTAssertEqual(o.offered(on: SASLTransport(isSecure: true, externalIdentity: "CN=x")), [.scramSHA512, .scramSHA256, .plain, .external, .anonymous])
        o.allowPlainWithoutTLS = true
        XCTAssertEqual(o.offered(on: .insecure), [.scramSHA512, .scramSHA256, .plain, .anonymous])
    }
}

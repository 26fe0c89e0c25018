import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSASL
import AMQPSystem
import SharedFixtures
import XCTest

/// SASL through the container over plain TCP: a listener with a users file, clients choosing the
/// strongest mechanism both sides offer, the identity reaching the server's handler, and every
/// refusal with its reason, on each backend.
final class ContainerSASLTests: XCTestCase {
    /// alice/wonderland and bob/builder, SCRAM-SHA-512 and SCRAM-SHA-256 each.
    static let users: SASLUsersFile = {
        let lines = try! SASLUsersFile.entries(username: "alice", password: "wonderland")
            + SASLUsersFile.entries(username: "bob", password: "builder")
        return try! SASLUsersFile(parsing: lines.joined(separator: "\n"))
    }()

    /// What the server's handler saw of one connection.
    struct ServerSaw: Sendable, Equatable, CustomStringConvertible {
        var identity: String?
        var mechanism: String?
        var description: String { "\(identity ?? "nil") by \(mechanism ?? "nil")" }
    }

    /// The server: records who each connection is, and the messages and transport errors.
    final class Server: MessagingHandler {
        let saw: LockedValue<[ServerSaw]>
        let errors: LockedValue<[String]>
        let messages: LockedValue<[String]>
        init(saw: LockedValue<[ServerSaw]>, errors: LockedValue<[String]>, messages: LockedValue<[String]>) {
            self.saw = saw; self.errors = errors; self.messages = messages
        }
        func onConnectionOpen(_ c: MessagingConnection) {
            let seen = ServerSaw(identity: c.authenticatedIdentity, mechanism: c.saslMechanism)
            XCTAssertFalse(c.isSecure)
            XCTAssertNil(c.peerCertificateSubject)
            saw.withLock { $0.append(seen) }
        }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            if case .value(.string(let s))? = m.body { messages.withLock { $0.append(s) } }
        }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            errors.withLock { $0.append("\(e.condition.rawValue): \(e.description ?? "")") }
        }
    }

    /// What a client saw: the mechanism it used, or why it failed.
    struct ClientSaw: Sendable, Equatable {
        var mechanism: String?
        var error: String?
    }

    /// A client that opens, notes its mechanism and closes; or notes why it could not.
    final class Client: MessagingHandler {
        let saw: LockedValue<ClientSaw?>
        let then: @Sendable (Container) -> Void
        init(_ saw: LockedValue<ClientSaw?>, then: @escaping @Sendable (Container) -> Void) { self.saw = saw; self.then = then }
        func onConnectionOpen(_ c: MessagingConnection) {
            let mechanism = c.saslMechanism
            XCTAssertNil(c.authenticatedIdentity, "a client's own identity is not reported")
            saw.withLock { $0 = ClientSaw(mechanism: mechanism, error: $0?.error) }
            c.close()
        }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            let text = "\(e.condition.rawValue): \(e.description ?? "")"
            saw.withLock { $0 = ClientSaw(mechanism: $0?.mechanism, error: $0?.error ?? text) }
        }
        func onConnectionError(_ c: MessagingConnection, _ e: AMQPError) { onTransportError(c, e) }
        func onTransportClose(_ c: MessagingConnection) { then(c.container) }
    }

    private func options(user: String? = nil, password: String? = nil, mechanisms: [String]? = nil) -> ConnectionOptions {
        var o = ConnectionOptions()
        o.user = user
        o.password = password
        o.saslMechanisms = mechanisms
        return o
    }

    /// Runs a container on `backend` with a listener made with `server`, and one client per
    /// entry of `clients` (a URL's user part, and options), one after the other.
    /// - Returns: what the server saw of each connection that opened, its transport errors, and
    ///   what each client saw.
    private func run(backend: String = "epoll", server: SASLServerOptions?, clients: [(String, ConnectionOptions)])
        throws -> (server: [ServerSaw], serverErrors: [String], clients: [ClientSaw?]) {
        let container = try Container(id: "sasl", backend: XCTUnwrap(ContainerBackend(rawValue: backend)))
        var listenOptions = ConnectionOptions()
        listenOptions.saslServer = server
        let saw = LockedValue<[ServerSaw]>([]), errors = LockedValue<[String]>([]), messages = LockedValue<[String]>([])
        let listener = try container.listen("amqp://127.0.0.1:0", options: listenOptions) {
            Server(saw: saw, errors: errors, messages: messages)
        }
        let port = try XCTUnwrap(listener.port)
        let results = clients.map { _ in LockedValue<ClientSaw?>(nil) }
        // Each client starts when the one before has closed; the last one stops the container.
        @Sendable func start(_ i: Int, _ container: Container) {
            guard i < clients.count else { return container.stop() }
            let (who, options) = clients[i]
            do {
                try container.connect("amqp://\(who)127.0.0.1:\(port)/q", options: options,
                                      handler: Client(results[i]) { start(i + 1, $0) })
            } catch {
                XCTFail("client \(i): \(error)")
                container.stop()
            }
        }
        start(0, container)
        container.schedule(after: .seconds(30)) { container.stop() }   // watchdog
        try container.run(threads: 2)
        return (saw.withLock { $0 }, errors.withLock { $0 }, results.map { $0.withLock { $0 } })
    }

    func testSCRAMWithAUsersFileAndTheIdentityReachesTheHandler() throws {
        for backend in TestBackends.names {
            let r = try run(backend: backend, server: SASLServerOptions(credentials: Self.users), clients: [
                ("alice:wonderland@", options()),                                          // the strongest both offer
                ("", options(user: "bob", password: "builder", mechanisms: ["scram-sha-256"])),
                ("bob:builder@", options(mechanisms: ["SCRAM-SHA-256,SCRAM-SHA-512"])),    // still the strongest
                ("alice@", options(password: "wonderland")),                               // the URL's user, the options' password
            ])
            XCTAssertEqual(r.server, [ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512"),
                                      ServerSaw(identity: "bob", mechanism: "SCRAM-SHA-256"),
                                      ServerSaw(identity: "bob", mechanism: "SCRAM-SHA-512"),
                                      ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512")], backend)
            XCTAssertEqual(r.clients, [ClientSaw(mechanism: "SCRAM-SHA-512"), ClientSaw(mechanism: "SCRAM-SHA-256"),
                                       ClientSaw(mechanism: "SCRAM-SHA-512"), ClientSaw(mechanism: "SCRAM-SHA-512")], backend)
            XCTAssertEqual(r.serverErrors, [], backend)
        }
    }

    func testAWrongPasswordFailsReadablyAndTheListenerGoesOn() throws {
        for backend in TestBackends.names {
            let r = try run(backend: backend, server: SASLServerOptions(credentials: Self.users), clients: [
                ("alice:wonderland@", options()),
                ("alice:looking-glass@", options()),
                ("mallory:x@", options(mechanisms: ["SCRAM-SHA-256"])),
                ("bob:builder@", options()),
            ])
            XCTAssertEqual(r.clients, [
                ClientSaw(mechanism: "SCRAM-SHA-512"),
                ClientSaw(mechanism: nil, error: "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512)"),
                ClientSaw(mechanism: nil, error: "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256)"),
                ClientSaw(mechanism: "SCRAM-SHA-512"),
            ], backend)
            XCTAssertEqual(r.server, [ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512"),
                                      ServerSaw(identity: "bob", mechanism: "SCRAM-SHA-512")], backend)
            XCTAssertEqual(r.serverErrors, [
                "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512): the proof of \"alice\" does not verify: a wrong password",
                "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256): unknown user \"mallory\"",
            ], backend)
        }
    }

    func testPlainIsRefusedInTheClearUnlessAllowed() throws {
        let plain = options(user: "alice", password: "wonderland", mechanisms: ["PLAIN"])
        let refused = try run(server: SASLServerOptions(credentials: Self.users), clients: [("", plain)])
        XCTAssertEqual(refused.clients, [ClientSaw(mechanism: nil, error:
            "amqp:unauthorized-access: no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [PLAIN]")])
        XCTAssertEqual(refused.server, [])

        var allowed = SASLServerOptions(credentials: Self.users)
        allowed.allowPlainWithoutTLS = true
        let r = try run(server: allowed, clients: [("", plain), ("alice:wrong@", options(mechanisms: ["PLAIN"])), ("alice:wonderland@", options())])
        XCTAssertEqual(r.server, [ServerSaw(identity: "alice", mechanism: "PLAIN"), ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512")],
                       "a client offering SCRAM too still chooses it")
        XCTAssertEqual(r.clients[1], ClientSaw(mechanism: nil, error: "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism PLAIN)"))
        XCTAssertEqual(r.serverErrors, [
            "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism PLAIN): PLAIN: a wrong password or an unknown user \"alice\"",
        ])
    }

    func testAnonymousIsRefusedWhenUsersAreConfiguredUnlessAllowed() throws {
        let noSASL = options(mechanisms: [])
        let refused = try run(server: SASLServerOptions(credentials: Self.users), clients: [("", options()), ("", noSASL)])
        XCTAssertEqual(refused.clients[0], ClientSaw(mechanism: nil, error:
            "amqp:unauthorized-access: no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [ANONYMOUS]"))
        XCTAssertEqual(refused.clients[1]?.error?.hasPrefix("amqp:unauthorized-access: "), true, "\(String(describing: refused.clients[1]))")
        XCTAssertEqual(refused.server.count, 0)

        let allowed = try run(server: SASLServerOptions(credentials: Self.users, allowAnonymous: true),
                              clients: [("", options()), ("", noSASL), ("alice:wonderland@", options())])
        XCTAssertEqual(allowed.server, [ServerSaw(identity: "anonymous", mechanism: "ANONYMOUS"), ServerSaw(identity: nil, mechanism: nil),
                                        ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512")])
        XCTAssertEqual(allowed.clients, [ClientSaw(mechanism: "ANONYMOUS"), ClientSaw(mechanism: nil), ClientSaw(mechanism: "SCRAM-SHA-512")])
    }

    func testWithoutServerOptionsAListenerTakesAnonymousAsBefore() throws {
        let r = try run(server: nil, clients: [("", options()), ("", options(mechanisms: []))])
        XCTAssertEqual(r.server, [ServerSaw(identity: "anonymous", mechanism: "ANONYMOUS"), ServerSaw(identity: nil, mechanism: nil)])
    }

    func testSASLOptionsThatCannotWorkFailWhenGiven() throws {
        let container = try Container()
        let handler = { Client(LockedValue(nil)) { _ in } }
        XCTAssertThrowsError(try container.connect("amqp://alice:pw@127.0.0.1/q", options: options(mechanisms: ["SCRAM-SHA-256", "CRAM-MD5"]),
                                                   handler: handler())) {
            XCTAssertEqual("\($0)", "invalid SASL options: unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)")
            guard case .sasl(let e)? = $0 as? MessagingError else { return XCTFail("\($0)") }
            XCTAssertEqual(e.kind, .unknownMechanism("CRAM-MD5"))
        }
        XCTAssertThrowsError(try container.connect("amqp://127.0.0.1/q", options: options(mechanisms: ["SCRAM-SHA-256"]), handler: handler())) {
            XCTAssertEqual("\($0)", "invalid SASL options: SASL mechanism SCRAM-SHA-256 needs a username")
        }
        XCTAssertThrowsError(try container.connect("amqp://a:b@127.0.0.1/q", options: options(mechanisms: ["PLAIN", "plain"]), handler: handler())) {
            XCTAssertEqual("\($0)", "invalid SASL options: SASL mechanism PLAIN is listed twice")
        }
        var listen = ConnectionOptions()
        listen.saslServer = SASLServerOptions(mechanisms: [.scramSHA256, .anonymous], credentials: nil)
        XCTAssertThrowsError(try container.listen("amqp://127.0.0.1:0", options: listen) { Server(saw: LockedValue([]), errors: LockedValue([]), messages: LockedValue([])) }) {
            XCTAssertEqual("\($0)", "invalid SASL options: SASL mechanism SCRAM-SHA-256 needs users (a credential store, or a users file)")
        }
        listen.saslServer = SASLServerOptions(mechanisms: [], credentials: nil)
        XCTAssertThrowsError(try container.listen("amqp://127.0.0.1:0", options: listen) { Server(saw: LockedValue([]), errors: LockedValue([]), messages: LockedValue([])) }) {
            XCTAssertEqual("\($0)", "invalid SASL options: no SASL mechanism is offered")
        }
    }
}

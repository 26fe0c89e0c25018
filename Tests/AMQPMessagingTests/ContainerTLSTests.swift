import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSASL
import AMQPSystem
import AMQPTLS
import SharedFixtures
import XCTest

/// amqps through the container, both ends ours, on each backend: SCRAM and PLAIN over TLS, client
/// certificates with EXTERNAL, the failures a user meets (a wrong host name, an unknown CA, no
/// client certificate) each with its reason while the listener goes on, and TLS options that
/// cannot work refused when given.
final class ContainerTLSTests: XCTestCase {
    /// What the server's handler saw of one connection.
    struct ServerSaw: Sendable, Equatable, CustomStringConvertible {
        var identity: String?
        var mechanism: String?
        var subject: String?
        var secure: Bool
        var description: String { "\(identity ?? "nil") by \(mechanism ?? "nil"), subject \(subject ?? "nil"), secure \(secure)" }
    }

    /// What a client saw: its mechanism and whether it was secure, or why it failed.
    struct ClientSaw: Sendable, Equatable {
        var mechanism: String?
        var secure = false
        var error: String?
    }

    final class Server: MessagingHandler {
        let saw: LockedValue<[ServerSaw]>, errors: LockedValue<[String]>
        init(_ saw: LockedValue<[ServerSaw]>, _ errors: LockedValue<[String]>) { self.saw = saw; self.errors = errors }
        func onConnectionOpen(_ c: MessagingConnection) {
            let seen = ServerSaw(identity: c.authenticatedIdentity, mechanism: c.saslMechanism, subject: c.peerCertificateSubject, secure: c.isSecure)
            saw.withLock { $0.append(seen) }
        }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            errors.withLock { $0.append("\(e.condition.rawValue): \(e.description ?? "")") }
        }
    }

    /// Opens, sends one message, closes once it is accepted; or notes why it failed.
    final class Client: MessagingHandler {
        let saw: LockedValue<ClientSaw?>
        let then: @Sendable (Container) -> Void
        init(_ saw: LockedValue<ClientSaw?>, then: @escaping @Sendable (Container) -> Void) { self.saw = saw; self.then = then }
        func onConnectionOpen(_ c: MessagingConnection) {
            let seen = ClientSaw(mechanism: c.saslMechanism, secure: c.isSecure)
            saw.withLock { $0 = seen }
            c.openSender("q")
        }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            if sender.deliveryCount == 0 { sender.send(Message(value: "over TLS")) }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) { c.close() }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            let text = "\(e.condition.rawValue): \(e.description ?? "")"
            saw.withLock { $0 = ClientSaw(mechanism: $0?.mechanism, secure: $0?.secure ?? false, error: $0?.error ?? text) }
        }
        func onTransportClose(_ c: MessagingConnection) { then(c.container) }
    }

    static let users: SASLUsersFile = {
        try! SASLUsersFile(parsing: SASLUsersFile.entries(username: "alice", password: "wonderland").joined(separator: "\n"))
    }()

    /// A client configuration trusting the test CA.
    private func trusting(_ pki: TestPKI, _ change: (inout TLSConfiguration) -> Void = { _ in }) -> ConnectionOptions {
        var tls = TLSConfiguration.client()
        tls.trustRoots = .file(pki.caFile)
        change(&tls)
        var o = ConnectionOptions()
        o.tls = tls
        return o
    }

    private func server(_ pki: TestPKI, cert: String? = nil, key: String? = nil, clientCertificates: TLSConfiguration.ClientCertificates = .notRequested,
                        sasl: SASLServerOptions? = SASLServerOptions(credentials: ContainerTLSTests.users)) -> ConnectionOptions {
        var tls = TLSConfiguration.server(certificateChainFile: cert ?? pki.serverCert, privateKeyFile: key ?? pki.serverKey)
        tls.clientCertificates = clientCertificates
        tls.trustRoots = .file(pki.caFile)
        var o = ConnectionOptions()
        o.tls = tls
        o.saslServer = sasl
        return o
    }

    /// A container on `backend` with an amqps listener made with `listener`, and the clients
    /// (a URL, PORT standing for the listener's, and options), one after the other.
    private func run(backend: String = "epoll", listener: ConnectionOptions, clients: [(String, ConnectionOptions)])
        throws -> (server: [ServerSaw], serverErrors: [String], clients: [ClientSaw?]) {
        let container = try Container(id: "tls", backend: XCTUnwrap(ContainerBackend(rawValue: backend)))
        let saw = LockedValue<[ServerSaw]>([]), errors = LockedValue<[String]>([])
        let port = try XCTUnwrap(container.listen("amqps://127.0.0.1:0", options: listener) { Server(saw, errors) }.port)
        let results = clients.map { _ in LockedValue<ClientSaw?>(nil) }
        @Sendable func start(_ i: Int, _ container: Container) {
            guard i < clients.count else { return container.stop() }
            do {
                try container.connect(clients[i].0.replacing("PORT", with: "\(port)"), options: clients[i].1, handler: Client(results[i]) { start(i + 1, $0) })
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

    func testAMQPSWithSCRAMAndPLAINOnEachBackend() throws {
        let pki = try TestPKI.get()
        var plain = trusting(pki)
        plain.saslMechanisms = ["PLAIN"]
        for backend in TestBackends.names {
            let r = try run(backend: backend, listener: server(pki), clients: [
                ("amqps://alice:wonderland@127.0.0.1:PORT", trusting(pki)),
                ("amqps://alice:wonderland@localhost:PORT", plain),   // PLAIN is offered over TLS
                ("amqps://alice:wonderland@127.0.0.1:PORT", trusting(pki) { $0.serverName = "localhost" }),
            ])
            XCTAssertEqual(r.server, [ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512", subject: nil, secure: true),
                                      ServerSaw(identity: "alice", mechanism: "PLAIN", subject: nil, secure: true),
                                      ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512", subject: nil, secure: true)], backend)
            XCTAssertEqual(r.clients, [ClientSaw(mechanism: "SCRAM-SHA-512", secure: true), ClientSaw(mechanism: "PLAIN", secure: true),
                                       ClientSaw(mechanism: "SCRAM-SHA-512", secure: true)], backend)
            XCTAssertEqual(r.serverErrors, [], backend)
        }
    }

    func testClientCertificatesWithEXTERNALOnEachBackend() throws {
        let pki = try TestPKI.get()
        let withCertificate = trusting(pki) {
            $0.certificateChainFile = pki.clientCert
            $0.privateKeyFile = pki.clientKeyEncrypted
            $0.privateKeyPassword = pki.clientKeyPassword
        }
        var alsoPassword = withCertificate
        alsoPassword.saslMechanisms = ["EXTERNAL", "SCRAM-SHA-256"]
        alsoPassword.user = "alice"
        alsoPassword.password = "wonderland"
        for backend in TestBackends.names {
            let r = try run(backend: backend, listener: server(pki, clientCertificates: .required), clients: [
                ("amqps://127.0.0.1:PORT", withCertificate),                  // EXTERNAL, chosen over ANONYMOUS
                ("amqps://127.0.0.1:PORT", alsoPassword),                     // SCRAM, stronger than EXTERNAL
                ("amqps://127.0.0.1:PORT", trusting(pki)),                    // no certificate: refused
                ("amqps://127.0.0.1:PORT", trusting(pki) { $0.certificateChainFile = pki.strangerCert; $0.privateKeyFile = pki.strangerKey }),
                ("amqps://127.0.0.1:PORT", withCertificate),                  // and the listener goes on
            ])
            XCTAssertEqual(r.server, [
                ServerSaw(identity: pki.clientSubject, mechanism: "EXTERNAL", subject: pki.clientSubject, secure: true),
                ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-256", subject: pki.clientSubject, secure: true),
                ServerSaw(identity: pki.clientSubject, mechanism: "EXTERNAL", subject: pki.clientSubject, secure: true),
            ], backend)
            XCTAssertEqual(r.clients[0], ClientSaw(mechanism: "EXTERNAL", secure: true), backend)
            XCTAssertEqual(r.clients[1], ClientSaw(mechanism: "SCRAM-SHA-256", secure: true), backend)
            XCTAssertEqual(r.clients[2]?.error, "amqp:connection:framing-error: TLS connection failed: tlsv13 alert certificate required (reported by the peer)", backend)
            XCTAssertEqual(r.clients[3]?.error, "amqp:connection:framing-error: TLS connection failed: tlsv1 alert unknown ca (reported by the peer)", backend)
            XCTAssertEqual(r.clients[4], ClientSaw(mechanism: "EXTERNAL", secure: true), backend)
            XCTAssertEqual(r.serverErrors, [
                "amqp:connection:framing-error: TLS handshake failed: peer did not return a certificate",
                "amqp:connection:framing-error: TLS handshake failed: certificate verify failed: unable to get local issuer certificate",
            ], backend)
        }
    }

    func testAWrongHostNameAndAnUnknownCAFailClearly() throws {
        let pki = try TestPKI.get()
        for backend in TestBackends.names {
            let r = try run(backend: backend, listener: server(pki, cert: pki.wrongNameCert, key: pki.wrongNameKey), clients: [
                ("amqps://alice:wonderland@localhost:PORT", trusting(pki)),
                ("amqps://alice:wonderland@127.0.0.1:PORT", trusting(pki)),
                ("amqps://alice:wonderland@localhost:PORT", trusting(pki) { $0.trustRoots = .file(pki.otherCAFile) }),
                ("amqps://alice:wonderland@localhost:PORT", ConnectionOptions()),   // the system's trust store
                ("amqps://alice:wonderland@localhost:PORT", trusting(pki) { $0.serverName = "other.example" }),
            ])
            XCTAssertEqual(r.clients.map { $0?.error }, [
                "amqp:connection:framing-error: TLS handshake failed: certificate verify failed: hostname mismatch",
                "amqp:connection:framing-error: TLS handshake failed: certificate verify failed: IP address mismatch",
                "amqp:connection:framing-error: TLS handshake failed: certificate verify failed: unable to get local issuer certificate",
                "amqp:connection:framing-error: TLS handshake failed: certificate verify failed: unable to get local issuer certificate",
                nil,
            ], backend)
            XCTAssertEqual(r.server, [ServerSaw(identity: "alice", mechanism: "SCRAM-SHA-512", subject: nil, secure: true)], backend)
            XCTAssertEqual(r.serverErrors.count, 4, "\(backend): \(r.serverErrors)")
        }
    }

    func testTLSOptionsThatCannotWorkFailWhenGiven() throws {
        let pki = try TestPKI.get()
        let container = try Container()
        let client = { Client(LockedValue(nil)) { _ in } }
        func connectError(_ url: String, _ options: ConnectionOptions) -> String {
            do {
                try container.connect(url, options: options, handler: client())
                return "connected"
            } catch {
                return "\(error)"
            }
        }
        func listenError(_ url: String, _ options: ConnectionOptions) -> String {
            do {
                try container.listen(url, options: options) { Server(LockedValue([]), LockedValue([])) }
                return "listening"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(connectError("amqp://127.0.0.1/q", trusting(pki)),
                       "invalid connection options: ConnectionOptions.tls is set, but 'amqp://127.0.0.1:5672/q' is not amqps://")
        XCTAssertEqual(connectError("amqps://127.0.0.1/q", server(pki)),
                       "invalid connection options: ConnectionOptions.tls is a server's configuration; a connection needs TLSConfiguration.client()")
        XCTAssertEqual(connectError("amqps://127.0.0.1/q", trusting(pki) { $0.trustRoots = .file(pki.path("absent.pem")) }),
                       "invalid TLS options: cannot load the trusted certificates from \(pki.path("absent.pem")): No such file or directory (calling fopen(\(pki.path("absent.pem")), r)); no such file; system lib")
        XCTAssertEqual(connectError("amqps://127.0.0.1/q", trusting(pki) {
            $0.certificateChainFile = pki.clientCert
            $0.privateKeyFile = pki.clientKeyEncrypted
            $0.privateKeyPassword = "wrong"
        }).hasPrefix("invalid TLS options: cannot load the private key from \(pki.clientKeyEncrypted): "), true)
        XCTAssertEqual(connectError("amqps://127.0.0.1/q", trusting(pki) { $0.cipherList = "NOT-A-CIPHER" }),
                       "invalid TLS options: invalid cipher list \"NOT-A-CIPHER\": no cipher match")
        XCTAssertEqual(listenError("amqps://127.0.0.1:0", ConnectionOptions()),
                       "invalid connection options: listening on amqps:// needs a certificate: ConnectionOptions.tls = .server(certificateChainFile:privateKeyFile:)")
        XCTAssertEqual(listenError("amqps://127.0.0.1:0", trusting(pki)),
                       "invalid connection options: ConnectionOptions.tls is a client's configuration; a listener needs TLSConfiguration.server(...)")
        XCTAssertEqual(listenError("amqp://127.0.0.1:0", server(pki)),
                       "invalid connection options: ConnectionOptions.tls is set, but 'amqp://127.0.0.1:0' is not amqps://")
        XCTAssertEqual(listenError("amqps://127.0.0.1:0", server(pki, cert: pki.serverCert, key: pki.clientKey)),
                       "invalid TLS options: the private key in \(pki.clientKey) does not match the certificate: key values mismatch")
        XCTAssertEqual(connectError("amqp://127.0.0.1/q", ConnectionOptions()), "connected", "plain amqp needs no TLS options")
        container.stop()
    }
}

import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPProactorTLS
import AMQPSystem
import AMQPTLS
import Synchronization

// TLS through the backend's TransportLayer path (AMQPProactorTLS's TLSLayer): transfers both ways
// with client certificates and a clean close, large messages, failures that end one connection
// with OpenSSL's reason while the rest go on, and plaintext and TLS on one port. Certificates come
// from ConformancePKI (the openssl command, at run time).
extension ProactorConformance {
    /// The TLS scenarios, part of ``scenarios``.
    static var tlsScenarios: [ConformanceScenario] {
        [tlsTransfer, tlsLargeMessages, tlsUnknownCA, tlsPlaintextClient, tlsClientOnPlaintextListener, tlsAndPlaintextOnOnePort,
         tlsProbeAndCutHandshake]
    }

    /// 200 messages from a client to the server and 200 from the server to another client, all
    /// over TLS with client certificates: every one accepted, the server's SASL layer told the
    /// transport is secure with the client certificate's subject, and each client's connection
    /// ended by the server's close_notify.
    static var tlsTransfer: ConformanceScenario {
        tlsScenario("TLS: 200 messages each way, client certificates, close_notify") { h, tls in
            let app = MessagingApplication(count: 200, size: 100, serverLayer: { try? TLSLayer(context: tls.server) })
            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    tls.connect(h, l, "sender", tls.client)
                    tls.connect(h, l, "receiver", tls.client)
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 200) {
                    if app.closedConnections.load(ordering: .relaxed) == 2 { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(app.received.load(ordering: .relaxed) == 200, "the server received \(app.received.load(ordering: .relaxed)) of 200")
            h.check(app.accepted.load(ordering: .relaxed) == 200, "accepted \(app.accepted.load(ordering: .relaxed)) of 200")
            h.check(app.clientReceived.load(ordering: .relaxed) == 200, "the receiver got \(app.clientReceived.load(ordering: .relaxed)) of 200")
            h.check(tls.errors.isEmpty, "transport errors: \(tls.errors)")
            let transports = tls.serverTransports
            h.check(transports.count == 2 && transports.allSatisfy { $0.isSecure && $0.externalIdentity == tls.pki.clientSubject },
                    "the server's SASL transports: \(transports) (expected secure, with \(tls.pki.clientSubject))")
            h.check(tls.closeNotify == ["receiver": true, "sender": true], "close_notify received by the clients: \(tls.closeNotify)")
        }
    }

    /// A 4 MB message from a client, and another from the server to a second client, over TLS:
    /// many records and full rings both ways; bytes checked.
    static var tlsLargeMessages: ConformanceScenario {
        tlsScenario("TLS: 4 MB messages both ways") { h, tls in
            let app = MessagingApplication(count: 1, size: 4 << 20, serverLayer: { try? TLSLayer(context: tls.server) })
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run(timeout: .seconds(120)) { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    tls.connect(h, l, "sender", tls.client)
                    tls.connect(h, l, "receiver", tls.client)
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 1) {
                    if app.closedConnections.load(ordering: .relaxed) == 2 { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(app.received.load(ordering: .relaxed) == 1, "the server received \(app.received.load(ordering: .relaxed)) of 1")
            h.check(app.accepted.load(ordering: .relaxed) == 1, "the sender's message accepted: \(app.accepted.load(ordering: .relaxed))")
            h.check(app.clientReceived.load(ordering: .relaxed) == 1, "the receiver got \(app.clientReceived.load(ordering: .relaxed)) of 1")
            h.check(app.errors.withLock { $0.isEmpty } && tls.errors.isEmpty, "errors: \(tls.errors)")
        }
    }

    /// A client that trusts another CA fails its handshake with OpenSSL's reason as its transport
    /// error (the server hears the client's alert); another client on the same proactor sends 50
    /// messages meanwhile, all accepted.
    static var tlsUnknownCA: ConformanceScenario {
        tlsScenario("TLS: an unknown CA fails one connection, another goes on") { h, tls in
            let app = MessagingApplication(count: 50, size: 100, serverLayer: { try? TLSLayer(context: tls.server) })
            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    tls.connect(h, l, "stranger", tls.stranger)
                    tls.connect(h, l, "sender", tls.client)
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 50) {
                    if app.closedConnections.load(ordering: .relaxed) == 2 { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(app.accepted.load(ordering: .relaxed) == 50, "the other client's messages accepted: \(app.accepted.load(ordering: .relaxed)) of 50")
            let stranger = tls.errors(of: "stranger")
            h.check(stranger.count == 1 && stranger.allSatisfy {
                $0.condition == ErrorCondition.framingError && ($0.description ?? "").contains("certificate verify failed")
            }, "the stranger's errors: \(stranger) (expected one framing-error with \"certificate verify failed\")")
            let server = tls.errors(of: "server")
            h.check(server.count == 1 && server.allSatisfy { ($0.description ?? "").contains("unknown ca") },
                    "the server's errors: \(server) (expected one with \"unknown ca\")")
            h.check(tls.errors(of: "sender").isEmpty, "the other client's errors: \(tls.errors(of: "sender"))")
        }
    }

    /// A plaintext AMQP client on a TLS listener: the server's connection fails with "plaintext to
    /// a TLS port?", the client's with a transport error of its own; nothing else is affected.
    static var tlsPlaintextClient: ConformanceScenario {
        tlsScenario("TLS: a plaintext client on a TLS listener") { h, tls in
            let app = MessagingApplication(count: 1, size: 100, serverLayer: { try? TLSLayer(context: tls.server) })
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "plain"))
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 1) { ListenerRegistry.closeAll(h) }
            }
            let server = tls.errors(of: "server")
            h.check(server.count == 1 && server.allSatisfy {
                $0.condition == ErrorCondition.framingError && ($0.description ?? "").contains("plaintext to a TLS port?")
            }, "the server's errors: \(server) (expected one framing-error with \"plaintext to a TLS port?\")")
            h.check(tls.errors(of: "plain").count == 1, "the client's errors: \(tls.errors(of: "plain")) (expected one)")
        }
    }

    /// A TLS client on a plaintext listener: the client's connection fails with "a plaintext
    /// port?" (the server answered with an AMQP header), the server's with its own error.
    static var tlsClientOnPlaintextListener: ConformanceScenario {
        tlsScenario("TLS: a TLS client on a plaintext listener") { h, tls in
            let app = MessagingApplication(count: 1, size: 100)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    tls.connect(h, l, "sender", tls.client)
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 1) { ListenerRegistry.closeAll(h) }
            }
            let client = tls.errors(of: "sender")
            h.check(client.count == 1 && client.allSatisfy {
                $0.condition == ErrorCondition.framingError && ($0.description ?? "").contains("a plaintext port?")
            }, "the client's errors: \(client) (expected one framing-error with \"a plaintext port?\")")
            h.check(tls.errors(of: "server").count == 1, "the server's errors: \(tls.errors(of: "server")) (expected one)")
        }
    }

    /// A listener that allows both: a TLS client and a plaintext client each send 50 messages on
    /// the same port; the server's SASL layer is told which transport is secure.
    static var tlsAndPlaintextOnOnePort: ConformanceScenario {
        tlsScenario("TLS: TLS and plaintext clients on one port") { h, tls in
            let app = MessagingApplication(count: 50, size: 100,
                                           serverLayer: { try? TLSLayer(context: tls.server, allowPlaintext: true) })
            h.proactor.listen(on: "127.0.0.1:0", backlog: 16)
            h.run { event, batch in
                if case .proactor(.listenerOpen(let l)) = event {
                    ListenerRegistry.add(l, h)
                    tls.connect(h, l, "sender", tls.client)
                    h.proactor.connect(to: address(l.port), configuration: DriverConfiguration(containerID: "plain-sender"))
                }
                tls.observe(event, batch)
                app.handle(event, batch, perClient: 50) {
                    if app.closedConnections.load(ordering: .relaxed) == 2 { ListenerRegistry.closeAll(h) }
                }
            }
            h.check(app.accepted.load(ordering: .relaxed) == 100, "accepted \(app.accepted.load(ordering: .relaxed)) of 100")
            h.check(tls.errors.isEmpty, "transport errors: \(tls.errors)")
            let transports = tls.serverTransports
            let secure = transports.filter(\.isSecure)
            h.check(transports.count == 2 && secure.count == 1 && secure[0].externalIdentity == tls.pki.clientSubject,
                    "the server's SASL transports: \(transports) (expected one secure with the client's subject, one not)")
        }
    }

    /// On a TLS listener, a probe that connects and leaves without a byte is no error (as without
    /// TLS), and a client that leaves in the middle of its ClientHello is one: `proton:io`, the
    /// stream ended during the handshake.
    static var tlsProbeAndCutHandshake: ConformanceScenario {
        tlsScenario("TLS: a probe without a byte, a handshake cut short") { h, tls in
            let closed = Atomic<Int>(0)
            h.proactor.listen(on: "127.0.0.1:0", backlog: 4)
            h.run { event, batch in
                switch event {
                case .proactor(.listenerOpen(let l)):
                    ListenerRegistry.add(l, h)
                    RawPeer.connect(port: l.port, send: [])?.close()
                    // A TLS 1.0 record header announcing 512 bytes of handshake, and 2 of them.
                    RawPeer.connect(port: l.port, send: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])?.close()
                case .proactor(.listenerAccept(let l)):
                    l.accept(configuration: DriverConfiguration(containerID: "server"), layer: try? TLSLayer(context: tls.server))
                case .amqp(.transportClosed):
                    if closed.add(1, ordering: .relaxed).newValue == 2 { ListenerRegistry.closeAll(h) }
                default:
                    break
                }
                tls.observe(event, batch)
            }
            h.check(closed.load(ordering: .relaxed) == 2, "connections closed: \(closed.load(ordering: .relaxed)) of 2")
            let errors = tls.errors(of: "server")
            h.check(errors.count == 1 && errors.allSatisfy {
                $0.condition == ProactorCondition.io && ($0.description ?? "").contains("during the handshake")
            }, "the server's errors: \(errors) (expected one proton:io error for the handshake cut short, none for the probe)")
        }
    }

    /// A TLS scenario: fails at once, saying why, when the certificates cannot be made.
    static func tlsScenario(_ name: String, _ body: @escaping @Sendable (ConformanceHarness, TLSScenarioState) -> Void) -> ConformanceScenario {
        ConformanceScenario(name: name) { h in
            switch ConformancePKI.shared {
            case .failure(let failure):
                h.fail("the TLS scenarios need test certificates, made with the openssl command: \(failure)")
            case .success(let pki):
                do {
                    body(h, try TLSScenarioState(pki: pki))
                } catch {
                    h.fail("cannot make the TLS contexts: \(error)")
                }
            }
        }
    }
}

/// A TLS scenario's contexts and what it saw: transport errors by side, the server drivers' SASL
/// transports, whether each client's layer received close_notify.
///
/// Threading: `Sendable`; its records are behind a mutex.
final class TLSScenarioState: Sendable {
    let pki: ConformancePKI
    /// The server: the PKI's certificate, client certificates required.
    let server: TLSContext
    /// A client that trusts the CA and presents the client certificate.
    let client: TLSContext
    /// A client that trusts only the other CA.
    let stranger: TLSContext

    /// A client's layer, kept so that its own batches can look at it. Safe to share: it is only
    /// touched in the batches of its connection (the proactor's, then the scenario's handler), one
    /// thread at a time, as the proactor guarantees.
    private final class Kept: @unchecked Sendable {
        let layer: TLSLayer
        init(_ layer: TLSLayer) { self.layer = layer }
    }

    private struct Records {
        var errors: [(side: String, error: AMQPError)] = []
        var transports: [SASLTransport] = []
        var closeNotify: [String: Bool] = [:]
        var layers: [String: Kept] = [:]
    }

    private let records = LockedValue(Records())

    init(pki: ConformancePKI) throws {
        self.pki = pki
        var server = TLSConfiguration.server(certificateChainFile: pki.serverCertificate, privateKeyFile: pki.serverKey)
        server.trustRoots = .file(pki.caFile)
        server.clientCertificates = .required
        self.server = try TLSContext(configuration: server)
        var client = TLSConfiguration.client(serverName: "localhost")
        client.trustRoots = .file(pki.caFile)
        client.certificateChainFile = pki.clientCertificate
        client.privateKeyFile = pki.clientKey
        self.client = try TLSContext(configuration: client)
        var stranger = TLSConfiguration.client(serverName: "localhost")
        stranger.trustRoots = .file(pki.otherCAFile)
        self.stranger = try TLSContext(configuration: stranger)
    }

    /// Connects a client called `id` (its container-id) to the listener over TLS with `context`.
    func connect(_ h: ConformanceHarness, _ l: ProactorListener, _ id: String, _ context: TLSContext) {
        do {
            let layer = try TLSLayer(context: context, serverName: "localhost")
            records.withLock { $0.layers[id] = Kept(layer) }
            h.proactor.connect(to: ProactorConformance.address(l.port), configuration: DriverConfiguration(containerID: id), layer: layer)
        } catch {
            h.fail("cannot make a TLS layer: \(error)")
        }
    }

    /// Records what the scenario checks, from a connection's own batch.
    func observe(_ event: ProactorBatchEvent, _ batch: ProactorBatch) {
        guard case .amqp(let e) = event, let driver = batch.driver else { return }
        let side = driver.mode == .server ? "server" : driver.configuration.containerID
        switch e {
        case .connectionRemoteOpen where driver.mode == .server:
            let transport = driver.saslTransport
            records.withLock { $0.transports.append(transport) }
        case .transportError(let error):
            records.withLock { $0.errors.append((side, error)) }
        case .transportClosed where driver.mode == .client:
            // In the client's own batch: its layer is this thread's to look at.
            guard let kept = records.withLock({ $0.layers[side] }) else { return }
            let received = kept.layer.session?.receivedCloseNotify ?? false
            records.withLock { $0.closeNotify[side] = received }
        default:
            break
        }
    }

    var errors: [(side: String, error: AMQPError)] { records.withLock { $0.errors } }
    func errors(of side: String) -> [AMQPError] { errors.filter { $0.side == side }.map(\.error) }
    var serverTransports: [SASLTransport] { records.withLock { $0.transports } }
    var closeNotify: [String: Bool] { records.withLock { $0.closeNotify } }
}

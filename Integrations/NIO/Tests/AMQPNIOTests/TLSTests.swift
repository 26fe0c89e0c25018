import AMQPCodec
import AMQPNIO
import NIOSSL
import Testing

/// The client over TLS against a Proton Python listener whose certificates test.sh generated.
@Suite("TLS against Proton Python")
struct TLSTests {
    static func certificate(_ name: String) throws -> NIOSSLCertificate {
        try NIOSSLCertificate.fromPEMFile("\(try TestEnvironment.certificates())/\(name)")[0]
    }

    static func serverArguments() throws -> [String] {
        let certs = try TestEnvironment.certificates()
        return ["--tls", "\(certs)/server.pem", "\(certs)/server.key"]
    }

    /// A configuration that trusts `root` only.
    static func trusting(_ root: String) throws -> AMQPClientConfiguration {
        var configuration = TestEnvironment.configuration()
        configuration.tls.trustRoots = .certificates([try certificate(root)])
        return configuration
    }

    /// Sends one message to `address` and reads it back, through the peer's queue.
    static func roundTrip(_ connection: AMQPConnection, address: String, text: String) async throws -> (SendOutcome, Message?) {
        let sender = try await connection.openSender(address: address)
        let outcome = try await sender.send(Message(value: .string(text)))
        let receiver = try await connection.openReceiver(address: address, capacity: 10)
        let got = try await receiver.receive()
        if let got { try await receiver.accept(got) }
        return (outcome, got?.message)
    }

    @Test("amqps with the test CA as the only root: verified, and messages flow")
    func verifiedConnection() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer(try Self.serverArguments())
        defer { peer.stop() }
        let connection = try await AMQPConnection.connect(to: "amqps://localhost:\(port)/tls-queue",
                                                          configuration: try Self.trusting("ca.pem"), logger: TestEnvironment.logger)
        let (outcome, message) = try await Self.roundTrip(connection, address: "tls-queue", text: "over TLS")
        #expect(outcome == .accepted)
        #expect(message?.body == .value(.string("over TLS")))
        try await connection.close()
        #expect(!peer.output.contains { $0.hasPrefix("error") })
    }

    @Test("a root that did not sign the server's certificate fails the handshake, clearly")
    func wrongRoot() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer(try Self.serverArguments())
        defer { peer.stop() }
        let error = await #expect(throws: AMQPClientError.self) {
            _ = try await AMQPConnection.connect(to: "amqps://localhost:\(port)", configuration: try Self.trusting("other-ca.pem"),
                                                 logger: TestEnvironment.logger)
        }
        #expect(error?.code == .tlsFailed)
        #expect(error?.description.hasPrefix("TLS handshake failed: ") == true)
        #expect(error?.description.contains("CERTIFICATE_VERIFY_FAILED") == true)
    }

    @Test("a host name the certificate does not name fails, clearly")
    func wrongHostName() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer(try Self.serverArguments())
        defer { peer.stop() }
        var configuration = try Self.trusting("ca.pem")
        configuration.tlsServerName = "wrong.example"
        let error = await #expect(throws: AMQPClientError.self) {
            _ = try await AMQPConnection.connect(to: "amqps://localhost:\(port)", configuration: configuration, logger: TestEnvironment.logger)
        }
        #expect(error?.code == .tlsFailed)
        #expect(error?.description.hasPrefix("TLS handshake failed: ") == true)
        #expect(error?.description.contains("wrong.example") == true)
    }

    @Test("a client certificate and SASL EXTERNAL: the peer sees the certificate's subject")
    func clientCertificateWithExternal() async throws {
        let certs = try TestEnvironment.certificates()
        let (peer, port) = try await TestEnvironment.startPythonPeer(try Self.serverArguments() + ["--require-client-cert", "\(certs)/ca.pem"])
        defer { peer.stop() }
        var configuration = try Self.trusting("ca.pem")
        configuration.tls.certificateChain = [.certificate(try Self.certificate("client.pem"))]
        configuration.tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: "\(certs)/client.key", format: .pem))
        let connection = try await AMQPConnection.connect(to: "amqps://localhost:\(port)", configuration: configuration,
                                                          logger: TestEnvironment.logger)
        let (outcome, message) = try await Self.roundTrip(connection, address: "external", text: "with a certificate")
        #expect(outcome == .accepted)
        #expect(message?.body == .value(.string("with a certificate")))
        try await connection.close()
        #expect(peer.output.contains("user CN=amqp-nio-client"))
    }

    @Test("no client certificate where the peer requires one: the connection fails")
    func missingClientCertificate() async throws {
        let certs = try TestEnvironment.certificates()
        let (peer, port) = try await TestEnvironment.startPythonPeer(try Self.serverArguments() + ["--require-client-cert", "\(certs)/ca.pem"])
        defer { peer.stop() }
        let error = await #expect(throws: AMQPClientError.self) {
            _ = try await AMQPConnection.connect(to: "amqps://localhost:\(port)", configuration: try Self.trusting("ca.pem"),
                                                 logger: TestEnvironment.logger)
        }
        // Under TLS 1.3 the server checks the client's certificate after our handshake is done:
        // we read its alert (.tlsFailed) or, when it resets the socket first, lose the connection.
        #expect(error?.code == .tlsFailed || error?.code == .connectionClosed, "\(String(describing: error))")
    }
}

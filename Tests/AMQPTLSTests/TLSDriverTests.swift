import AMQPCodec
import AMQPEngine
import AMQPTLS
import XCTest

/// Whole AMQP connections over TLS: two `ConnectionDriver`s with a `TLSSession` each between
/// them and in-memory sockets, run by `TLSDriverHost`, which makes the calls a backend makes.
final class TLSDriverTests: XCTestCase {
    private var pki: TestPKI!

    override func setUpWithError() throws {
        pki = try TestPKI.get()
    }

    private func makePair(clientTrust: String? = nil, clientTLS useClientTLS: Bool = true, serverTLS useServerTLS: Bool = true,
                          clientConfig: (inout DriverConfiguration) -> Void = { _ in }) throws -> TLSDriverPair {
        var clientTLS = TLSConfiguration.client(serverName: "localhost")
        clientTLS.trustRoots = .file(clientTrust ?? pki.caFile)
        var serverTLS = TLSConfiguration.server(certificateChainFile: pki.serverCert, privateKeyFile: pki.serverKey)
        serverTLS.clientCertificates = .optional
        serverTLS.trustRoots = .file(pki.caFile)
        var clientDriver = DriverConfiguration(containerID: "client")
        clientConfig(&clientDriver)
        let client = TLSDriverHost(driver: ConnectionDriver(mode: .client, configuration: clientDriver),
                                   tls: useClientTLS ? try TLSSession(context: TLSContext(configuration: clientTLS)) : nil)
        let server = TLSDriverHost(driver: ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "server")),
                                   tls: useServerTLS ? try TLSSession(context: TLSContext(configuration: serverTLS)) : nil)
        return TLSDriverPair(client: client, server: server)
    }

    /// The application on both ends: the client opens a sender and sends `count` messages of
    /// `size` bytes, then closes once all are accepted; the server accepts everything and closes
    /// when the client does.
    private func run(_ pair: TLSDriverPair, count: Int, size: Int) -> [[UInt8]] {
        var received: [[UInt8]] = []
        var sent = 0
        var accepted = 0
        let connection = pair.client.driver.connection
        connection.open()
        let session = connection.session()
        session.begin()
        let sender = session.sender(name: "tls-sender", target: "q")
        sender.attach()
        pair.pump { host, event in
            switch (host === pair.client, event) {
            case (true, .linkFlow(let link)):
                while sent < count && link.credit > 0 {
                    _ = link.send([UInt8](repeating: UInt8(truncatingIfNeeded: sent), count: size))
                    sent += 1
                }
            case (true, .delivery(let delivery)):
                if delivery.remotelySettled || delivery.remoteState != nil {
                    accepted += 1
                    delivery.settle()
                    if accepted == count { connection.close() }
                }
            case (false, .connectionRemoteOpen(let c)):
                c.open()
            case (false, .sessionRemoteBegin(let s)):
                s.begin()
            case (false, .linkRemoteOpen(let link)):
                link.localTarget = link.remoteAttach?.target?.target
                link.attach()
                link.flow(credit: 100)
            case (false, .delivery(let delivery)):
                if !delivery.isPartial {
                    received.append(Array(delivery.readPayload()))
                    delivery.accept()
                    delivery.settle()
                    if delivery.link.credit < 50 { delivery.link.flow(credit: 100) }
                }
            case (false, .connectionRemoteClose(let c)):
                c.close()
            default:
                break
            }
        }
        return received
    }

    private func transportErrors(_ host: TLSDriverHost) -> [AMQPError] {
        host.events.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }
    }

    func testMessagesOverTLSThenCloseNotify() throws {
        for (chunk, blocks) in [(Int.max, false), (Int.max, true), (1000, false), (7, true)] {
            let pair = try makePair()
            pair.client.socketChunk = chunk
            pair.server.socketChunk = chunk
            pair.client.useOutputBlocks = blocks
            pair.server.useOutputBlocks = blocks
            let count = chunk == 7 ? 20 : 500
            let received = run(pair, count: count, size: 1500)
            let label = "chunk \(chunk), output blocks \(blocks)"
            XCTAssertEqual(received.count, count, label)
            XCTAssertEqual(received.last, [UInt8](repeating: UInt8(truncatingIfNeeded: count - 1), count: 1500), label)
            XCTAssertEqual(transportErrors(pair.client), [], label)
            XCTAssertEqual(transportErrors(pair.server), [], label)
            XCTAssertTrue(pair.client.driver.isFinished, label)
            XCTAssertTrue(pair.server.driver.isFinished, label)
            XCTAssertTrue(pair.server.tls.receivedCloseNotify, label)
            XCTAssertTrue(pair.client.tls.receivedCloseNotify, label)
            XCTAssertNil(pair.client.tlsError, label)
            XCTAssertNil(pair.server.tlsError, label)
        }
    }

    func testSASLOverTLS() throws {
        let pair = try makePair { $0.saslClient = .anonymous }
        let received = run(pair, count: 3, size: 10)
        XCTAssertEqual(received.count, 3)
        XCTAssertEqual(transportErrors(pair.client), [])
    }

    func testUnknownCABecomesTheDriversTransportError() throws {
        let pair = try makePair(clientTrust: pki.otherCAFile)
        let received = run(pair, count: 3, size: 10)
        XCTAssertTrue(received.isEmpty)
        let clientError = try XCTUnwrap(transportErrors(pair.client).first)
        XCTAssertEqual(clientError.condition, "amqp:connection:framing-error")
        // The server also trusts the CA (for client certificates), so OpenSSL sends the CA along
        // with the server's certificate: the client meets a root it does not trust in the chain.
        XCTAssertEqual(clientError.description,
                       "TLS handshake failed: certificate verify failed: self-signed certificate in certificate chain")
        XCTAssertEqual(pair.client.tlsError?.kind, .unknownCA)
        XCTAssertEqual(pair.server.tlsError?.kind, .unknownCA)
        XCTAssertTrue(pair.client.driver.isFinished)
        XCTAssertTrue(pair.server.driver.isFinished)
    }

    func testPlaintextClientToTLSServer() throws {
        let pair = try makePair(clientTLS: false)
        let received = run(pair, count: 3, size: 10)
        XCTAssertTrue(received.isEmpty)
        XCTAssertEqual(pair.server.tlsError?.kind, .notTLS)
        let serverError = try XCTUnwrap(transportErrors(pair.server).first)
        XCTAssertEqual(serverError.condition, "amqp:connection:framing-error")
        XCTAssertEqual(serverError.description,
                       "TLS handshake failed: wrong version number: the client sent no TLS ClientHello (plaintext to a TLS port?)")
        XCTAssertTrue(pair.server.driver.isFinished)
        XCTAssertTrue(pair.client.driver.isFinished, "the plain client saw its input end: \(transportErrors(pair.client))")
        XCTAssertFalse(transportErrors(pair.client).isEmpty)
    }

    func testTLSClientToPlaintextServer() throws {
        let pair = try makePair(serverTLS: false)
        let received = run(pair, count: 3, size: 10)
        XCTAssertTrue(received.isEmpty)
        XCTAssertEqual(pair.client.tlsError?.kind, .notTLS)
        let clientError = try XCTUnwrap(transportErrors(pair.client).first)
        XCTAssertEqual(clientError.condition, "amqp:connection:framing-error")
        XCTAssertTrue(clientError.description?.contains("the server answered without TLS (a plaintext port?)") == true,
                      clientError.description ?? "")
        XCTAssertTrue(pair.client.driver.isFinished)
        XCTAssertTrue(pair.server.driver.isFinished)
    }
}

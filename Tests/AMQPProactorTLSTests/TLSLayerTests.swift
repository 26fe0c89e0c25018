import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPProactorConformance
import AMQPProactorTLS
import AMQPTLS
import SharedFixtures
import XCTest

/// `TLSLayer` driven the way each kind of backend calls a `TransportLayer`, in memory: a readiness
/// backend reading into `readBuffer(driver:)`, a completion backend handing whole buffers to
/// `read(_:driver:)`, in pieces from 1 byte to everything at once.
final class TLSLayerTests: XCTestCase {
    struct Contexts {
        let pki: ConformancePKI
        let server: TLSContext
        let client: TLSContext
        let stranger: TLSContext
    }

    func contexts() throws -> Contexts {
        let pki: ConformancePKI
        switch ConformancePKI.shared {
        case .success(let made): pki = made
        case .failure(let failure): throw Prerequisite.missing("no test certificates (the openssl command is needed): \(failure)")
        }
        var server = TLSConfiguration.server(certificateChainFile: pki.serverCertificate, privateKeyFile: pki.serverKey)
        server.trustRoots = .file(pki.caFile)
        server.clientCertificates = .optional
        var client = TLSConfiguration.client(serverName: "localhost")
        client.trustRoots = .file(pki.caFile)
        client.certificateChainFile = pki.clientCertificate
        client.privateKeyFile = pki.clientKey
        var stranger = TLSConfiguration.client(serverName: "localhost")
        stranger.trustRoots = .file(pki.otherCAFile)
        return Contexts(pki: pki, server: try TLSContext(configuration: server), client: try TLSContext(configuration: client),
                        stranger: try TLSContext(configuration: stranger))
    }

    func ends(client clientLayer: TLSLayer?, server serverLayer: TLSLayer?) -> (LayerEnd, LayerEnd) {
        let client = LayerEnd(ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: "client")), clientLayer)
        let server = LayerEnd(ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "server")), serverLayer)
        return (client, server)
    }

    /// Runs the exchange and checks it: every message delivered intact and accepted, both drivers
    /// finished without errors.
    func exchange(_ client: LayerEnd, _ server: LayerEnd, count: Int, size: Int, file: StaticString = #filePath, line: UInt = #line) -> Exchange {
        let app = Exchange(count: count, size: size)
        pump(client, server) { app.handle($0, $1) }
        XCTAssertEqual(app.accepted, count, "accepted", file: file, line: line)
        XCTAssertEqual(app.received.count, count, "received", file: file, line: line)
        for (i, payload) in app.received.enumerated() {
            XCTAssertEqual(payload, [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: size), "message \(i)", file: file, line: line)
        }
        XCTAssertEqual(client.errors, [], file: file, line: line)
        XCTAssertEqual(server.errors, [], file: file, line: line)
        XCTAssertTrue(client.driver.isFinished && server.driver.isFinished, "both finished", file: file, line: line)
        return app
    }

    /// Every split of the stream a socket may produce, readiness style and completion style.
    func testTransferInEveryPieceSize() throws {
        let tls = try contexts()
        for completion in [false, true] {
            for chunk in [1, 7, 1000, 16_500, Int.max] {
                let (client, server) = ends(client: try TLSLayer(context: tls.client), server: try TLSLayer(context: tls.server))
                for end in [client, server] {
                    end.completionReads = completion
                    end.chunk = chunk
                }
                let app = exchange(client, server, count: chunk == 1 ? 3 : 20, size: 5000)
                XCTAssertEqual(app.serverTransport, SASLTransport(isSecure: true, externalIdentity: tls.pki.clientSubject),
                               "completion \(completion), chunk \(chunk)")
            }
        }
    }

    /// A completion backend hands over far more ciphertext than the session's ring holds in one
    /// call (a megabyte message): the layer takes it all, decrypting as it goes.
    func testCompletionReadsLargerThanTheRing() throws {
        let tls = try contexts()
        let (client, server) = ends(client: try TLSLayer(context: tls.client), server: try TLSLayer(context: tls.server))
        server.completionReads = true
        client.completionReads = true
        _ = exchange(client, server, count: 2, size: 1 << 20)
    }

    /// A server that allows plaintext: a plaintext client and a TLS client, each sending its first
    /// bytes one at a time (detection needs three), and all at once.
    func testDetectingPlaintextAndTLS() throws {
        let tls = try contexts()
        for completion in [false, true] {
            for chunk in [1, 2, Int.max] {
                let plainLayer = try TLSLayer(context: tls.server, allowPlaintext: true)
                XCTAssertEqual(plainLayer.detected, .needMoreBytes)
                var (client, server) = ends(client: nil, server: plainLayer)
                server.completionReads = completion
                server.chunk = chunk
                var app = exchange(client, server, count: 5, size: 100)
                XCTAssertEqual(plainLayer.detected, .amqp)
                XCTAssertNil(plainLayer.session)
                XCTAssertEqual(app.serverTransport, .insecure)

                let tlsLayer = try TLSLayer(context: tls.server, allowPlaintext: true)
                (client, server) = ends(client: try TLSLayer(context: tls.client), server: tlsLayer)
                server.completionReads = completion
                server.chunk = chunk
                app = exchange(client, server, count: 5, size: 100)
                XCTAssertEqual(tlsLayer.detected, .tls)
                XCTAssertEqual(tlsLayer.session?.negotiatedProtocol, "TLSv1.3")
                XCTAssertEqual(app.serverTransport, SASLTransport(isSecure: true, externalIdentity: tls.pki.clientSubject))
            }
        }
    }

    /// An unknown CA: the client's driver fails with OpenSSL's reason (framing-error), the server's
    /// with the client's alert; both finish, and the alert was written before the end.
    func testUnknownCAFailsBothDrivers() throws {
        let tls = try contexts()
        let clientLayer = try TLSLayer(context: tls.stranger)
        let (client, server) = ends(client: clientLayer, server: try TLSLayer(context: tls.server))
        pump(client, server) { _, _ in }
        XCTAssertEqual(client.errors.map(\.condition), [ErrorCondition.framingError])
        XCTAssertTrue(client.errors.first?.description?.hasPrefix("TLS handshake failed: certificate verify failed") ?? false, "\(client.errors)")
        XCTAssertEqual(clientLayer.failure?.kind, .unknownCA)
        XCTAssertEqual(server.errors.map(\.condition), [ErrorCondition.framingError])
        XCTAssertTrue(server.errors.first?.description?.contains("tlsv1 alert unknown ca") ?? false, "\(server.errors)")
        XCTAssertTrue(client.driver.isFinished && server.driver.isFinished)
        XCTAssertTrue(client.socketClosed && server.socketClosed)
    }

    /// A server connection that ends before a byte is a probe: no error, as without TLS. A client
    /// whose server ends it during the handshake gets `proton:io`.
    func testEndWithoutAByte() throws {
        let tls = try contexts()
        let (client, server) = ends(client: try TLSLayer(context: tls.client), server: try TLSLayer(context: tls.server))
        server.inboxEOF = true
        XCTAssertTrue(server.readable())
        _ = server.takeEvents()
        XCTAssertEqual(server.errors, [])
        XCTAssertTrue(server.driver.isFinished)
        XCTAssertFalse(server.layer!.hasOutput(driver: server.driver))

        client.inboxEOF = true
        _ = client.writable(to: server)                 // the ClientHello goes
        XCTAssertTrue(client.readable())
        _ = client.takeEvents()
        XCTAssertEqual(client.errors.map(\.condition), [ProactorCondition.io])
        XCTAssertTrue(client.errors.first?.description?.contains("during the handshake") ?? false, "\(client.errors)")
    }

    /// The server's close_notify ends a clean exchange; and after the peer's AMQP close, an end of
    /// the stream without close_notify is no error.
    func testCloseNotifyAndAnEndWithoutIt() throws {
        let tls = try contexts()
        let (client, server) = ends(client: try TLSLayer(context: tls.client), server: try TLSLayer(context: tls.server))
        _ = exchange(client, server, count: 1, size: 10)
        XCTAssertEqual((client.layer as? TLSLayer)?.session?.receivedCloseNotify, true)

        let (c2, s2) = ends(client: try TLSLayer(context: tls.client), server: try TLSLayer(context: tls.server))
        let app = Exchange(count: 1, size: 10)
        var cut = false
        // The server's output, except that its last flight loses its last record (the 24-byte TLS
        // 1.3 close_notify alert), and its socket then closes.
        func serverWrites() -> Bool {
            var moved = false
            while !cut {
                let out = s2.layer!.output(driver: s2.driver, early: false)
                if out.isEmpty { break }
                if s2.driver.isHeadClosed {
                    c2.inbox += UnsafeRawBufferPointer(rebasing: out.dropLast(24))
                    c2.inboxEOF = true
                    cut = true
                } else {
                    c2.inbox += out
                }
                s2.layer!.writeDone(out.count, driver: s2.driver)
                moved = true
            }
            return moved
        }
        for _ in 0..<10_000 {
            var moved = false
            for e in c2.takeEvents() { app.handle(c2, e) }
            for e in s2.takeEvents() { app.handle(s2, e) }
            moved = c2.writable(to: s2) || moved
            moved = s2.readable() || moved
            moved = serverWrites() || moved
            moved = c2.readable() || moved
            if !moved && !c2.driver.hasEvent && !s2.driver.hasEvent { break }
        }
        XCTAssertTrue(cut)
        XCTAssertEqual(app.accepted, 1)
        XCTAssertEqual((c2.layer as? TLSLayer)?.session?.receivedCloseNotify, false)
        XCTAssertEqual(c2.errors, [], "no error once the peer's close was read")
        XCTAssertTrue(c2.driver.isFinished)
    }

    func testPlaintextIsForServersOnly() throws {
        let tls = try contexts()
        XCTAssertThrowsError(try TLSLayer(context: tls.client, allowPlaintext: true)) { error in
            XCTAssertEqual((error as? TLSError)?.kind, .configuration)
        }
    }
}

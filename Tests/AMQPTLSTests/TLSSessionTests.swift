import AMQPTLS
import Foundation
import Synchronization
import XCTest

/// Two sessions wired in memory (`TLSPair`): handshakes, bytes both ways, and every failure a
/// host must be able to tell apart, each with its exact kind.
final class TLSSessionTests: XCTestCase {
    private var pki: TestPKI!

    override func setUpWithError() throws {
        pki = try TestPKI.get()
    }

    // MARK: configurations

    private func clientConfiguration(trusting ca: String? = nil, serverName: String? = "localhost") -> TLSConfiguration {
        var configuration = TLSConfiguration.client(serverName: serverName)
        configuration.trustRoots = .file(ca ?? pki.caFile)
        return configuration
    }

    private func serverConfiguration(cert: String? = nil, key: String? = nil) -> TLSConfiguration {
        TLSConfiguration.server(certificateChainFile: cert ?? pki.serverCert, privateKeyFile: key ?? pki.serverKey)
    }

    private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    // MARK: handshake and data

    func testHandshakeThenBytesBothWays() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        XCTAssertTrue(pair.client.session.hasOutput, "a client's ClientHello is ready at once")
        XCTAssertFalse(pair.server.session.hasOutput)
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertNil(pair.server.error)
        XCTAssertTrue(pair.client.session.isHandshakeComplete)
        XCTAssertTrue(pair.server.session.isHandshakeComplete)
        XCTAssertEqual(pair.client.session.negotiatedProtocol, "TLSv1.3")
        XCTAssertEqual(pair.server.session.negotiatedProtocol, "TLSv1.3")
        XCTAssertNotNil(pair.client.session.negotiatedCipher)
        XCTAssertEqual(pair.client.session.negotiatedCipher, pair.server.session.negotiatedCipher)
        XCTAssertEqual(pair.client.session.peerCertificateSubject, "CN=localhost")
        XCTAssertEqual(pair.client.session.peerCertificateIssuer, "CN=AMQP Test CA")
        XCTAssertNil(pair.server.session.peerCertificateSubject, "no client certificate was asked for")

        pair.client.toSend = Array("AMQP\u{0}\u{1}\u{0}\u{0}".utf8)
        pair.server.toSend = Array("AMQP\u{3}\u{1}\u{0}\u{0} and more".utf8)
        pair.pump()
        XCTAssertEqual(pair.server.received, Array("AMQP\u{0}\u{1}\u{0}\u{0}".utf8))
        XCTAssertEqual(pair.client.received, Array("AMQP\u{3}\u{1}\u{0}\u{0} and more".utf8))
        XCTAssertTrue(pair.client.toSend.isEmpty)
    }

    func testPlaintextBeforeTheHandshakeWaitsAndGoesFirst() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.client.toSend = Array("early".utf8)     // the driver's header, written at once
        let taken = try pair.client.toSend.withUnsafeBytes { try pair.client.session.encrypt($0) }
        XCTAssertEqual(taken, 0, "nothing is taken before the handshake completes")
        pair.pump()
        XCTAssertEqual(pair.server.received, Array("early".utf8))
    }

    func testTLS12() throws {
        var client = clientConfiguration()
        client.maximumVersion = .tls1_2
        client.cipherList = "ECDHE-ECDSA-AES128-GCM-SHA256"
        let pair = try TLSPair(client: client, server: serverConfiguration())
        pair.client.toSend = Array(repeating: 7, count: 100_000)
        pair.server.toSend = Array(repeating: 9, count: 100_000)
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertEqual(pair.client.session.negotiatedProtocol, "TLSv1.2")
        XCTAssertEqual(pair.server.session.negotiatedCipher, "ECDHE-ECDSA-AES128-GCM-SHA256")
        XCTAssertEqual(pair.server.received, Array(repeating: 7, count: 100_000))
        XCTAssertEqual(pair.client.received, Array(repeating: 9, count: 100_000))
    }

    func testTLS13CipherSuiteChosen() throws {
        var client = clientConfiguration()
        client.cipherSuites = "TLS_AES_128_GCM_SHA256"
        let pair = try TLSPair(client: client, server: serverConfiguration())
        pair.pump()
        XCTAssertEqual(pair.server.session.negotiatedCipher, "TLS_AES_128_GCM_SHA256")
    }

    func testLargeTransfersBothWaysAtOnce() throws {
        for zeroCopy in [true, false] {
            let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
            pair.zeroCopy = zeroCopy
            let up = randomBytes(3_000_000, seed: 1)
            let down = randomBytes(2_000_000, seed: 2)
            pair.client.toSend = up
            pair.server.toSend = down
            pair.server.plaintextBufferSize = 65_536
            pair.pump()
            XCTAssertNil(pair.client.error)
            XCTAssertNil(pair.server.error)
            XCTAssertEqual(pair.server.received.count, up.count, "zeroCopy: \(zeroCopy)")
            XCTAssertTrue(pair.server.received == up, "zeroCopy: \(zeroCopy)")
            XCTAssertTrue(pair.client.received == down, "zeroCopy: \(zeroCopy)")
        }
    }

    func testSmallPiecesAndSmallBuffers() throws {
        for (piece, plaintextBuffer) in [(1, 1), (7, 13), (100, 512), (4096, 3), (17_000, 8192)] {
            for zeroCopy in [true, false] {
                let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
                pair.piece = piece
                pair.zeroCopy = zeroCopy
                pair.client.plaintextBufferSize = plaintextBuffer
                pair.server.plaintextBufferSize = plaintextBuffer
                let up = randomBytes(piece == 1 ? 20_000 : 100_000, seed: UInt64(piece))
                let down = randomBytes(piece == 1 ? 5_000 : 50_000, seed: UInt64(piece) + 1)
                pair.client.toSend = up
                pair.server.toSend = down
                pair.pump()
                let label = "piece \(piece), buffer \(plaintextBuffer), zeroCopy \(zeroCopy)"
                XCTAssertNil(pair.client.error, label)
                XCTAssertNil(pair.server.error, label)
                XCTAssertTrue(pair.server.received == up, label)
                XCTAssertTrue(pair.client.received == down, label)
            }
        }
    }

    func testOutputRingFullTakesPartThenTheRest() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        let big = randomBytes(1_000_000, seed: 3)
        let session = pair.client.session
        let first = try big.withUnsafeBytes { try session.encrypt($0) }
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThan(first, 40_000, "the 32 KiB output ring bounds what one call takes")
        let again = try big[first...].withUnsafeBytes { try session.encrypt($0) }
        XCTAssertEqual(again, 0, "nothing more until the ring is drained")
        pair.client.toSend = Array(big[first...])
        pair.pump()
        XCTAssertTrue(pair.server.received == big)
    }

    func testInputRingFullTakesPart() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        let big = [UInt8](repeating: 1, count: 200_000)
        pair.client.toSend = big
        var ciphertext: [UInt8] = []
        while !pair.client.toSend.isEmpty {                // encrypt everything, keep the wire
            _ = pair.client.plaintextTurn()
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { pair.client.session.takeOutput(into: $0) }
            ciphertext += chunk[..<n]
        }
        let server = pair.server.session
        let taken = ciphertext.withUnsafeBytes { server.read($0) }
        XCTAssertEqual(taken, 32 * 1024, "read(_:) takes what the input ring has room for")
        XCTAssertTrue(server.readBuffer().isEmpty)
        var received: [UInt8] = []
        var offset = taken
        var buffer = [UInt8](repeating: 0, count: 10_000)
        while received.count < big.count {
            let n = try buffer.withUnsafeMutableBytes { try server.decrypt(into: $0) }
            received += buffer[..<n]
            if n == 0 {
                XCTAssertLessThan(offset, ciphertext.count)
                offset += ciphertext[offset...].withUnsafeBytes { server.read($0) }
            }
        }
        XCTAssertEqual(received, big)
    }

    func testHandshakeLargerThanTheRingsWaitsForRoom() throws {
        var client = clientConfiguration()
        client.bufferSize = 17 * 1024
        var server = serverConfiguration(cert: pki.bigCert, key: pki.bigKey)
        server.bufferSize = 17 * 1024
        for piece in [Int.max, 1000] {
            let pair = try TLSPair(client: client, server: server)
            pair.piece = piece
            pair.client.toSend = Array("hello".utf8)
            pair.server.toSend = Array("welcome".utf8)
            pair.pump()
            XCTAssertNil(pair.client.error)
            XCTAssertNil(pair.server.error)
            XCTAssertGreaterThan(pair.serverWire.count, 30_000, "the certificate alone is over 30 KB")
            XCTAssertEqual(pair.server.received, Array("hello".utf8))
            XCTAssertEqual(pair.client.received, Array("welcome".utf8))
        }
    }

    func testOutputStaysPutUntilReported() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        let session = pair.client.session
        _ = try [UInt8](repeating: 1, count: 1000).withUnsafeBytes { try session.encrypt($0) }
        let block = session.outputBuffer()
        let copy = Array(block)
        // As a completion-based host does: a send is in flight from `block`; meanwhile more goes in.
        _ = try [UInt8](repeating: 2, count: 5000).withUnsafeBytes { try session.encrypt($0) }
        XCTAssertEqual(session.outputBuffer().baseAddress, block.baseAddress)
        XCTAssertEqual(Array(block), copy, "in-flight bytes do not change")
        session.writeDone(block.count - 10)
        XCTAssertEqual(session.outputBuffer().baseAddress, block.baseAddress! + block.count - 10)
        let rest = Array(session.outputBuffer())
        XCTAssertEqual(Array(rest.prefix(10)), Array(copy.suffix(10)))
        // Deliver it all: block, then the rest.
        let server = pair.server.session
        XCTAssertEqual(copy.prefix(block.count - 10).withUnsafeBytes { server.read($0) }, block.count - 10)
        pair.pump()
        XCTAssertEqual(pair.server.received, [UInt8](repeating: 1, count: 1000) + [UInt8](repeating: 2, count: 5000))
    }

    // MARK: names, SNI, client certificates

    func testSNISeenByServer() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        XCTAssertEqual(pair.server.session.serverName, "localhost")
        XCTAssertEqual(pair.client.session.serverName, "localhost")
    }

    func testSessionServerNameOverridesTheConfiguration() throws {
        let context = try TLSContext(configuration: clientConfiguration(serverName: "other.example"))
        let pair = TLSPair(client: try TLSSession(context: context, serverName: "localhost"),
                           server: try TLSSession(context: TLSContext(configuration: serverConfiguration())))
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertEqual(pair.server.session.serverName, "localhost")
    }

    func testIPAddressIsCheckedAndNotSentAsSNI() throws {
        let pair = try TLSPair(client: clientConfiguration(serverName: "127.0.0.1"), server: serverConfiguration())
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertTrue(pair.client.session.isHandshakeComplete)
        XCTAssertNil(pair.server.session.serverName, "SNI carries no IP address (RFC 6066)")

        let wrong = try TLSPair(client: clientConfiguration(serverName: "127.0.0.2"), server: serverConfiguration())
        wrong.pump()
        XCTAssertEqual(wrong.client.error?.kind, .hostnameMismatch)
        XCTAssertEqual(wrong.client.error?.reason, "certificate verify failed: IP address mismatch")
    }

    func testClientCertificateSubjectOnServer() throws {
        var server = serverConfiguration()
        server.clientCertificates = .required
        server.trustRoots = .file(pki.caFile)
        var client = clientConfiguration()
        client.certificateChainFile = pki.clientCert
        client.privateKeyFile = pki.clientKey
        let pair = try TLSPair(client: client, server: server)
        pair.client.toSend = Array("hello".utf8)
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertNil(pair.server.error)
        XCTAssertEqual(pair.server.session.peerCertificateSubject, pki.clientSubject)
        XCTAssertEqual(pair.server.session.peerCertificateIssuer, "CN=AMQP Test CA")
        XCTAssertEqual(pair.server.received, Array("hello".utf8))
        let der = try XCTUnwrap(pair.server.session.peerCertificateDER)
        XCTAssertEqual(der.first, 0x30, "a DER SEQUENCE")
        let pem = try String(contentsOfFile: pki.clientCert, encoding: .utf8)
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        XCTAssertEqual(Data(der).base64EncodedString(), base64)
    }

    func testEncryptedClientKeyWithItsPassword() throws {
        var server = serverConfiguration()
        server.clientCertificates = .optional
        server.trustRoots = .file(pki.caFile)
        var client = clientConfiguration()
        client.certificateChainFile = pki.clientCert
        client.privateKeyFile = pki.clientKeyEncrypted
        client.privateKeyPassword = pki.clientKeyPassword
        let pair = try TLSPair(client: client, server: server)
        pair.pump()
        XCTAssertNil(pair.server.error)
        XCTAssertEqual(pair.server.session.peerCertificateSubject, pki.clientSubject)
    }

    func testOptionalClientCertificateMayBeAbsent() throws {
        var server = serverConfiguration()
        server.clientCertificates = .optional
        server.trustRoots = .file(pki.caFile)
        let pair = try TLSPair(client: clientConfiguration(), server: server)
        pair.client.toSend = Array("x".utf8)
        pair.pump()
        XCTAssertNil(pair.server.error)
        XCTAssertNil(pair.server.session.peerCertificateSubject)
        XCTAssertEqual(pair.server.received, Array("x".utf8))
    }

    // MARK: verification off (explicit)

    func testVerifyPeerOffAcceptsAnUnknownCA() throws {
        var client = clientConfiguration(trusting: pki.otherCAFile)
        client.verifyPeer = false
        let pair = try TLSPair(client: client, server: serverConfiguration())
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertTrue(pair.client.session.isHandshakeComplete)
    }

    func testVerifyHostnameOffAcceptsAnotherName() throws {
        var client = clientConfiguration()
        client.verifyHostname = false
        let pair = try TLSPair(client: client, server: serverConfiguration(cert: pki.wrongNameCert, key: pki.wrongNameKey))
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertEqual(pair.client.session.peerCertificateSubject, "CN=other.example")
    }

    // MARK: failures, each with its kind

    func testUnknownCA() throws {
        let pair = try TLSPair(client: clientConfiguration(trusting: pki.otherCAFile), server: serverConfiguration())
        pair.pump()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .unknownCA)
        XCTAssertEqual(error.reason, "certificate verify failed: unable to get local issuer certificate")
        XCTAssertEqual(error.description, "TLS handshake failed: certificate verify failed: unable to get local issuer certificate")
        XCTAssertEqual(error.verifyResult, 20)   // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        XCTAssertTrue(error.duringHandshake)
        XCTAssertFalse(error.raisedByPeer)
        XCTAssertEqual(error.suggestedCondition, "amqp:connection:framing-error")
        XCTAssertFalse(pair.client.session.isHandshakeComplete)
        // The client's alert reached the server.
        let serverError = try XCTUnwrap(pair.server.error)
        XCTAssertEqual(serverError.kind, .unknownCA)
        XCTAssertTrue(serverError.raisedByPeer)
        XCTAssertEqual(serverError.reason, "tlsv1 alert unknown ca")
    }

    func testWrongHostName() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration(cert: pki.wrongNameCert, key: pki.wrongNameKey))
        pair.pump()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .hostnameMismatch)
        XCTAssertEqual(error.reason, "certificate verify failed: hostname mismatch")
        XCTAssertNotNil(pair.server.error, "the server heard the client's alert")
    }

    func testExpiredCertificate() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration(cert: pki.expiredCert, key: pki.expiredKey))
        pair.pump()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .certificateExpired)
        XCTAssertEqual(error.reason, "certificate verify failed: certificate has expired")
        let serverError = try XCTUnwrap(pair.server.error)
        XCTAssertEqual(serverError.kind, .certificateExpired)
        XCTAssertTrue(serverError.raisedByPeer)
    }

    func testCertificateNotYetValid() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration(cert: pki.futureCert, key: pki.futureKey))
        pair.pump()
        XCTAssertEqual(pair.client.error?.kind, .certificateNotYetValid)
        XCTAssertEqual(pair.client.error?.reason, "certificate verify failed: certificate is not yet valid")
    }

    func testClientCertificateRequiredAndMissing() throws {
        var server = serverConfiguration()
        server.clientCertificates = .required
        server.trustRoots = .file(pki.caFile)
        let pair = try TLSPair(client: clientConfiguration(), server: server)
        pair.client.toSend = Array("AMQP".utf8)
        pair.pump()
        let serverError = try XCTUnwrap(pair.server.error)
        XCTAssertEqual(serverError.kind, .certificateRequired)
        XCTAssertEqual(serverError.reason, "peer did not return a certificate")
        XCTAssertFalse(serverError.raisedByPeer)
        XCTAssertTrue(pair.server.received.isEmpty, "no plaintext from a client that failed")
        // TLS 1.3: the client completed, then reads the server's alert.
        XCTAssertTrue(pair.client.session.isHandshakeComplete)
        let clientError = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(clientError.kind, .certificateRequired)
        XCTAssertTrue(clientError.raisedByPeer)
        XCTAssertEqual(clientError.reason, "tlsv13 alert certificate required")
        XCTAssertFalse(clientError.duringHandshake)
    }

    func testClientCertificateRequiredAndMissingWithTLS12() throws {
        var server = serverConfiguration()
        server.clientCertificates = .required
        server.trustRoots = .file(pki.caFile)
        var client = clientConfiguration()
        client.maximumVersion = .tls1_2
        let pair = try TLSPair(client: client, server: server)
        pair.pump()
        XCTAssertEqual(pair.server.error?.kind, .certificateRequired)
        let clientError = try XCTUnwrap(pair.client.error)
        XCTAssertTrue(clientError.raisedByPeer)
        XCTAssertTrue(clientError.duringHandshake)
        XCTAssertEqual(clientError.kind, .handshakeFailure, "TLS 1.2 has no certificate_required alert")
    }

    func testClientCertificateFromUnknownCA() throws {
        var server = serverConfiguration()
        server.clientCertificates = .required
        server.trustRoots = .file(pki.caFile)
        var client = clientConfiguration()
        client.certificateChainFile = pki.strangerCert
        client.privateKeyFile = pki.strangerKey
        let pair = try TLSPair(client: client, server: server)
        pair.pump()
        let serverError = try XCTUnwrap(pair.server.error)
        XCTAssertEqual(serverError.kind, .unknownCA)
        XCTAssertEqual(serverError.reason, "certificate verify failed: unable to get local issuer certificate")
        XCTAssertEqual(pair.client.error?.kind, .unknownCA)
        XCTAssertEqual(pair.client.error?.raisedByPeer, true)
    }

    func testPlaintextToTLSServer() throws {
        let server = try TLSSession(context: TLSContext(configuration: serverConfiguration()))
        let header: [UInt8] = Array("AMQP".utf8) + [0, 1, 0, 0]
        XCTAssertEqual(header.withUnsafeBytes { server.read($0) }, 8)
        var buffer = [UInt8](repeating: 0, count: 100)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try server.decrypt(into: $0) }) { error in
            let error = error as! TLSError
            XCTAssertEqual(error.kind, .notTLS)
            XCTAssertTrue(error.reason.hasPrefix("wrong version number"), error.reason)
            XCTAssertTrue(error.description.contains("plaintext to a TLS port"), error.description)
            XCTAssertEqual(error.suggestedCondition, "amqp:connection:framing-error")
        }
        XCTAssertTrue(server.isInputClosed)
        XCTAssertTrue(server.isOutputClosed)
    }

    func testTLSClientToPlaintextServer() throws {
        let client = try TLSSession(context: TLSContext(configuration: clientConfiguration()))
        var hello = [UInt8](repeating: 0, count: 4096)
        XCTAssertGreaterThan(hello.withUnsafeMutableBytes { client.takeOutput(into: $0) }, 0)
        // A plaintext AMQP server answers a bad header with its own and closes.
        let header: [UInt8] = Array("AMQP".utf8) + [0, 1, 0, 0]
        XCTAssertEqual(header.withUnsafeBytes { client.read($0) }, 8)
        client.readClose()
        var buffer = [UInt8](repeating: 0, count: 100)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try client.decrypt(into: $0) }) { error in
            XCTAssertEqual((error as! TLSError).kind, .notTLS)
            XCTAssertTrue((error as! TLSError).description.contains("answered without TLS"), "\(error)")
        }
    }

    func testHandshakeCutShort() throws {
        // The server gets half a ClientHello, then EOF.
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        let hello = Array(pair.client.session.outputBuffer())
        XCTAssertEqual(hello[..<(hello.count / 2)].withUnsafeBytes { pair.server.session.read($0) }, hello.count / 2)
        var buffer = [UInt8](repeating: 0, count: 100)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try pair.server.session.decrypt(into: $0) }, 0)
        XCTAssertNil(pair.server.session.failure, "half a record is not a failure yet")
        pair.server.session.readClose()
        XCTAssertTrue(pair.server.session.wantsDecrypt)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try pair.server.session.decrypt(into: $0) }) { error in
            let error = error as! TLSError
            XCTAssertEqual(error.kind, .unexpectedEOF)
            XCTAssertTrue(error.duringHandshake)
            XCTAssertEqual(error.reason, "unexpected eof while reading: the peer closed the connection during the handshake")
            XCTAssertEqual(error.suggestedCondition, "proton:io")
        }

        // The client gets the server's first flight cut short, then EOF.
        let other = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        _ = other.transfer(from: other.client.session, to: other.server.session, wire: &other.clientWire)
        _ = other.server.plaintextTurn()
        let flight = Array(other.server.session.outputBuffer())
        XCTAssertGreaterThan(flight.count, 100)
        _ = flight[..<100].withUnsafeBytes { other.client.session.read($0) }
        other.client.session.readClose()
        _ = other.client.plaintextTurn()
        XCTAssertEqual(other.client.error?.kind, .unexpectedEOF)
        XCTAssertEqual(other.client.error?.duringHandshake, true)
    }

    func testEOFWithoutCloseNotify() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.server.toSend = Array("last words".utf8)
        pair.pump()
        pair.client.session.readClose()
        _ = pair.client.plaintextTurn()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .unexpectedEOF)
        XCTAssertFalse(error.duringHandshake)
        XCTAssertEqual(error.reason, "unexpected eof while reading: the stream ended without a TLS close_notify")
        XCTAssertEqual(pair.client.received, Array("last words".utf8), "what came before is delivered")
        XCTAssertTrue(pair.client.session.isInputClosed)
    }

    func testRecordCutShort() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        _ = try [UInt8](repeating: 5, count: 1000).withUnsafeBytes { try pair.server.session.encrypt($0) }
        let record = Array(pair.server.session.outputBuffer())
        _ = record[..<(record.count - 20)].withUnsafeBytes { pair.client.session.read($0) }
        pair.client.session.readClose()
        _ = pair.client.plaintextTurn()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .unexpectedEOF)
        XCTAssertEqual(error.reason, "unexpected eof while reading: the stream ended in the middle of a TLS record")
        XCTAssertTrue(pair.client.received.isEmpty)
    }

    func testCorruptRecord() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.pump()
        _ = try [UInt8](repeating: 5, count: 1000).withUnsafeBytes { try pair.server.session.encrypt($0) }
        var record = Array(pair.server.session.outputBuffer())
        record[record.count / 2] ^= 0x01
        _ = record.withUnsafeBytes { pair.client.session.read($0) }
        _ = pair.client.plaintextTurn()
        let error = try XCTUnwrap(pair.client.error)
        XCTAssertEqual(error.kind, .protocolError)
        XCTAssertFalse(error.duringHandshake)
        XCTAssertEqual(error.reason, "decryption failed or bad record mac")
        XCTAssertEqual(error.description, "TLS connection failed: decryption failed or bad record mac")
        XCTAssertTrue(pair.client.session.hasOutput, "an alert for the peer waits to be written")
    }

    func testNoVersionInCommon() throws {
        var client = clientConfiguration()
        client.maximumVersion = .tls1_2
        var server = serverConfiguration()
        server.minimumVersion = .tls1_3
        let pair = try TLSPair(client: client, server: server)
        pair.pump()
        XCTAssertEqual(pair.server.error?.kind, .handshakeFailure)
        XCTAssertEqual(pair.server.error?.reason, "unsupported protocol")
        XCTAssertEqual(pair.client.error?.kind, .handshakeFailure)
        XCTAssertEqual(pair.client.error?.raisedByPeer, true)
        XCTAssertEqual(pair.client.error?.reason, "tlsv1 alert protocol version")
    }

    func testFailureIsSticky() throws {
        let pair = try TLSPair(client: clientConfiguration(trusting: pki.otherCAFile), server: serverConfiguration())
        pair.pump()
        let session = pair.client.session
        let error = try XCTUnwrap(session.failure)
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 10).withUnsafeBytes { try session.encrypt($0) }) {
            XCTAssertEqual($0 as? TLSError, error)
        }
        var buffer = [UInt8](repeating: 0, count: 10)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try session.decrypt(into: $0) }) {
            XCTAssertEqual($0 as? TLSError, error)
        }
        XCTAssertTrue(session.readBuffer().isEmpty)
        XCTAssertFalse(session.wantsDecrypt)
        XCTAssertTrue(session.isInputClosed)
        XCTAssertTrue(session.isOutputClosed)
        XCTAssertNil(session.negotiatedProtocol)
        XCTAssertNil(session.peerCertificateSubject)
    }

    // MARK: closing

    func testCloseNotifyBothWays() throws {
        let pair = try TLSPair(client: clientConfiguration(), server: serverConfiguration())
        pair.client.toSend = Array("bye".utf8)
        pair.pump()
        pair.client.session.close()
        XCTAssertTrue(pair.client.session.hasOutput, "close_notify queued")
        XCTAssertTrue(pair.client.session.isOutputClosed)
        XCTAssertEqual(try [UInt8](repeating: 1, count: 5).withUnsafeBytes { try pair.client.session.encrypt($0) }, 0)
        pair.pump()
        XCTAssertTrue(pair.server.session.receivedCloseNotify)
        XCTAssertTrue(pair.server.session.isInputClosed)
        XCTAssertNil(pair.server.error)
        XCTAssertEqual(pair.server.received, Array("bye".utf8))
        // The server may still write (TLS 1.3 half-close), then closes too.
        pair.server.toSend = Array("ok".utf8)
        pair.pump()
        XCTAssertEqual(pair.client.received, Array("ok".utf8))
        pair.server.session.close()
        pair.pump()
        XCTAssertTrue(pair.client.session.receivedCloseNotify)
        // EOF after close_notify is the normal end, not an error.
        pair.client.session.readClose()
        pair.server.session.readClose()
        pair.pump()
        XCTAssertNil(pair.client.error)
        XCTAssertNil(pair.server.error)
    }

    func testCloseBeforeTheHandshakeSendsNothing() throws {
        let client = try TLSSession(context: TLSContext(configuration: clientConfiguration()))
        var hello = [UInt8](repeating: 0, count: 4096)
        _ = hello.withUnsafeMutableBytes { client.takeOutput(into: $0) }
        client.close()
        XCTAssertFalse(client.hasOutput)
        XCTAssertTrue(client.isOutputClosed)
    }

    // MARK: one context, many threads

    func testOneContextSharedByManyThreads() throws {
        let clientContext = try TLSContext(configuration: clientConfiguration())
        let serverContext = try TLSContext(configuration: serverConfiguration())
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            do {
                let pair = TLSPair(client: try TLSSession(context: clientContext),
                                   server: try TLSSession(context: serverContext))
                pair.client.toSend = [UInt8](repeating: UInt8(index), count: 50_000)
                pair.pump()
                if pair.server.received != [UInt8](repeating: UInt8(index), count: 50_000) || pair.client.error != nil {
                    failures.withLock { $0 += 1 }
                }
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, 0)
    }
}

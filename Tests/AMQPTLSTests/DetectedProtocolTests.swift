import AMQPTLS
import XCTest

/// Telling a TLS ClientHello from an AMQP header in the first bytes, for one port serving both.
final class DetectedProtocolTests: XCTestCase {
    func testAMQPHeaders() {
        for layer: UInt8 in [0, 2, 3] {
            let header: [UInt8] = Array("AMQP".utf8) + [layer, 1, 0, 0]
            for count in 1...header.count {
                XCTAssertEqual(DetectedProtocol.detect(header.prefix(count)), .amqp, "layer \(layer), \(count) bytes")
            }
        }
    }

    func testNeedMoreBytes() {
        XCTAssertEqual(DetectedProtocol.detect([]), .needMoreBytes)
        XCTAssertEqual(DetectedProtocol.detect([22]), .needMoreBytes)
        XCTAssertEqual(DetectedProtocol.detect([22, 3]), .needMoreBytes)
        XCTAssertEqual(DetectedProtocol.detect([0x80, 0x2e]), .needMoreBytes)
    }

    func testTLSRecordHeaders() {
        for minor: UInt8 in 0...4 { XCTAssertEqual(DetectedProtocol.detect([22, 3, minor]), .tls) }
        XCTAssertEqual(DetectedProtocol.detect([22, 3, 9]), .amqp)
        XCTAssertEqual(DetectedProtocol.detect([22, 2, 0]), .amqp)
        XCTAssertEqual(DetectedProtocol.detect([21, 3, 3]), .amqp, "an alert is no ClientHello")
        XCTAssertEqual(DetectedProtocol.detect([0x80, 0x2e, 1, 3, 1]), .tls, "SSLv2-style ClientHello")
    }

    func testARealClientHello() throws {
        let pki = try TestPKI.get()
        var configuration = TLSConfiguration.client(serverName: "localhost")
        configuration.trustRoots = .file(pki.caFile)
        let client = try TLSSession(context: TLSContext(configuration: configuration))
        let hello = Array(client.outputBuffer())
        for count in 1..<3 { XCTAssertEqual(DetectedProtocol.detect(hello.prefix(count)), .needMoreBytes) }
        XCTAssertEqual(DetectedProtocol.detect(hello), .tls)
        hello.withUnsafeBytes { XCTAssertEqual(DetectedProtocol.detect($0), .tls) }
    }

    /// A listener on one port: the first bytes decide; a TLS client then completes its handshake
    /// with a session that is handed those same bytes.
    func testOnePortServesBoth() throws {
        let pki = try TestPKI.get()
        var configuration = TLSConfiguration.client(serverName: "localhost")
        configuration.trustRoots = .file(pki.caFile)
        let serverContext = try TLSContext(configuration: .server(certificateChainFile: pki.serverCert, privateKeyFile: pki.serverKey))
        let client = try TLSSession(context: TLSContext(configuration: configuration))

        let first = Array(client.outputBuffer().prefix(5))    // what the listener read first
        XCTAssertEqual(DetectedProtocol.detect(first), .tls)
        client.writeDone(first.count)
        let server = try TLSSession(context: serverContext)
        XCTAssertEqual(first.withUnsafeBytes { server.read($0) }, 5)
        let pair = TLSPair(client: client, server: server)
        pair.client.toSend = Array("AMQP".utf8)
        pair.pump()
        XCTAssertNil(pair.server.error)
        XCTAssertEqual(pair.server.received, Array("AMQP".utf8))
    }
}

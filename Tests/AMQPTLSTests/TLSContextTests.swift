import AMQPTLS
import XCTest

/// Configuration errors are thrown when the context is made, with OpenSSL's reason.
final class TLSContextTests: XCTestCase {
    private var pki: TestPKI!

    override func setUpWithError() throws {
        pki = try TestPKI.get()
    }

    private func configurationError(_ configuration: TLSConfiguration,
                                    file: StaticString = #filePath, line: UInt = #line) -> TLSError? {
        do {
            _ = try TLSContext(configuration: configuration)
            XCTFail("expected a configuration error", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.kind, .configuration, file: file, line: line)
            return error
        }
    }

    func testDefaultsAreSafe() {
        let client = TLSConfiguration.client(serverName: "broker.example")
        XCTAssertEqual(client.role, .client)
        XCTAssertTrue(client.verifyPeer)
        XCTAssertTrue(client.verifyHostname)
        XCTAssertEqual(client.trustRoots, .system)
        XCTAssertEqual(client.minimumVersion, .tls1_2)
        XCTAssertNil(client.maximumVersion)
        let server = TLSConfiguration.server(certificateChainFile: "c.pem", privateKeyFile: "k.pem")
        XCTAssertEqual(server.clientCertificates, .notRequested)
    }

    func testSystemTrustStoreLoads() throws {
        let context = try TLSContext(configuration: .client(serverName: "localhost"))
        XCTAssertEqual(context.configuration.trustRoots, .system)
    }

    func testMissingCertificateFile() throws {
        let error = try XCTUnwrap(configurationError(.server(certificateChainFile: pki.path("nope.pem"), privateKeyFile: pki.serverKey)))
        XCTAssertTrue(error.description.hasPrefix("cannot load the certificate chain from \(pki.path("nope.pem")): "), error.description)
        XCTAssertTrue(error.reason.contains("No such file or directory"), error.reason)
        XCTAssertEqual(error.suggestedCondition, "proton:io")
    }

    func testMissingKeyFile() throws {
        let error = try XCTUnwrap(configurationError(.server(certificateChainFile: pki.serverCert, privateKeyFile: pki.path("nope.key"))))
        XCTAssertTrue(error.description.hasPrefix("cannot load the private key from \(pki.path("nope.key")): "), error.description)
        XCTAssertTrue(error.reason.contains("No such file or directory"), error.reason)
    }

    func testKeyNotMatchingTheCertificate() throws {
        let error = try XCTUnwrap(configurationError(.server(certificateChainFile: pki.serverCert, privateKeyFile: pki.clientKey)))
        XCTAssertTrue(error.description.contains("does not match the certificate"), error.description)
        XCTAssertTrue(error.reason.contains("key values mismatch"), error.reason)
    }

    func testEncryptedKeyWithoutPassword() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.certificateChainFile = pki.clientCert
        client.privateKeyFile = pki.clientKeyEncrypted
        let error = try XCTUnwrap(configurationError(client))
        XCTAssertTrue(error.reason.contains("no password was given"), error.reason)
    }

    func testEncryptedKeyWithWrongPassword() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.certificateChainFile = pki.clientCert
        client.privateKeyFile = pki.clientKeyEncrypted
        client.privateKeyPassword = "wrong"
        let error = try XCTUnwrap(configurationError(client))
        XCTAssertTrue(error.description.hasPrefix("cannot load the private key from \(pki.clientKeyEncrypted): "), error.description)
        XCTAssertFalse(error.reason.contains("no password was given"))
    }

    func testMissingCAFileAndDirectory() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.trustRoots = .file(pki.path("missing-ca.pem"))
        let error = try XCTUnwrap(configurationError(client))
        XCTAssertTrue(error.description.hasPrefix("cannot load the trusted certificates from \(pki.path("missing-ca.pem"))"), error.description)
        XCTAssertTrue(error.reason.contains("No such file or directory"), error.reason)

        var server = TLSConfiguration.server(certificateChainFile: pki.serverCert, privateKeyFile: pki.serverKey)
        server.clientCertificates = .required
        server.trustRoots = .file(pki.path("missing-ca.pem"))
        XCTAssertNotNil(configurationError(server))
    }

    func testServerWithoutCertificate() throws {
        let error = try XCTUnwrap(configurationError(TLSConfiguration(role: .server)))
        XCTAssertEqual(error.reason, "a server needs certificateChainFile and privateKeyFile")
    }

    func testCertificateWithoutKey() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.certificateChainFile = pki.clientCert
        let error = try XCTUnwrap(configurationError(client))
        XCTAssertEqual(error.reason, "certificateChainFile and privateKeyFile go together")
    }

    func testUnknownCiphers() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.cipherList = "NOT-A-CIPHER"
        let error = try XCTUnwrap(configurationError(client))
        XCTAssertEqual(error.description, "invalid cipher list \"NOT-A-CIPHER\": no cipher match")

        var suites = TLSConfiguration.client(serverName: "localhost")
        suites.cipherSuites = "TLS_NOT_A_SUITE"
        XCTAssertNotNil(configurationError(suites))
    }

    func testVersionsOutOfOrder() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.minimumVersion = .tls1_3
        client.maximumVersion = .tls1_2
        XCTAssertNotNil(configurationError(client))
    }

    func testBufferTooSmall() throws {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.bufferSize = 4096
        XCTAssertNotNil(configurationError(client))
    }

    func testHostnameCheckNeedsAName() throws {
        let context = try TLSContext(configuration: .client())
        XCTAssertThrowsError(try TLSSession(context: context)) { error in
            XCTAssertEqual((error as? TLSError)?.kind, .configuration)
            XCTAssertTrue("\(error)".contains("no server name was given"), "\(error)")
        }
        var unchecked = TLSConfiguration.client()
        unchecked.verifyHostname = false
        XCTAssertNoThrow(try TLSSession(context: TLSContext(configuration: unchecked)))
    }

    func testDescriptionHidesThePassword() {
        var client = TLSConfiguration.client(serverName: "localhost")
        client.privateKeyFile = "k.pem"
        client.privateKeyPassword = "hunter2"
        XCTAssertFalse("\(client)".contains("hunter2"))
        XCTAssertTrue("\(client)".contains("<hidden>"))
    }
}

import Foundation
import SharedFixtures
import XCTest

/// amqps with the `amqp` command, as users run it, on each backend: `amqp broker --tls-*` with
/// SCRAM and with client certificates (EXTERNAL), the failures a user meets in one line, our
/// `receive --listen` and `arrow` over TLS, Qpid Proton Python (`SSLDomain`) as a client of the
/// broker, and our `send` to a Proton Python TLS server.
final class CommandTLSTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "amqp-tls-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A users file with alice/wonderland, made by `amqp users add`.
    private func usersFile() throws -> String {
        let file = directory + "/users"
        let r = try BuiltProgram("amqp", ["users", "add", file, "alice", "--password", "env:ALICE"], environment: ["ALICE": "wonderland"]).finish()
        XCTAssertEqual(r.status, 0, r.stderr)
        return file
    }

    private func amqp(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, lines: [String], stderr: String) {
        try BuiltProgram("amqp", arguments, environment: environment).finish()
    }

    /// `amqp broker` with TLS and `arguments` on a free port for the duration of `body`; it must
    /// stop cleanly. Returns its stderr (its log, at info).
    @discardableResult
    private func withTLSBroker(_ pki: TestPKI, _ arguments: [String], backend: String = "epoll", cert: String? = nil, key: String? = nil,
                               _ body: (UInt16) throws -> Void) throws -> String {
        let port = ProtonArrow.freePort()
        let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend, "--log-level", "info",
                                               "--tls-cert", cert ?? pki.serverCert, "--tls-key", key ?? pki.serverKey] + arguments)
        defer { broker.terminate() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker never listened")
        try body(port)
        broker.terminate()
        let (status, lines, stderr) = broker.finish()
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(lines, ["amqp broker listening on 127.0.0.1:\(port) with TLS (proactor backend: \(backend))", "amqp broker stopped"])
        return stderr
    }

    /// Who the broker's log says connected: "identity by mechanism, tls true|false" each.
    private func connected(_ log: String) -> [String] {
        log.split(separator: "\n").filter { $0.contains("client connected") }.map { line in
            func value(_ key: String) -> String {
                // The identity may hold spaces (a certificate subject): up to the next key.
                guard let start = line.range(of: key + "=") else { return "" }
                let rest = line[start.upperBound...]
                let end = [rest.range(of: " amqp.")?.lowerBound, rest.range(of: " [")?.lowerBound].compactMap { $0 }.min() ?? rest.endIndex
                return String(rest[..<end])
            }
            return "\(value("amqp.identity")) by \(value("amqp.sasl.mechanism")), tls \(value("amqp.tls"))"
        }
    }

    func testAMQPSWithSCRAMThroughTheBrokerOnEachBackend() throws {
        let pki = try TestPKI.get()
        let users = try usersFile()
        for backend in TestBackends.names {
            let log = try withTLSBroker(pki, ["--users", users], backend: backend) { port in
                let send = try amqp(["send", "amqps://alice:wonderland@localhost:\(port)/tls", "--count", "100", "--tls-ca", pki.caFile,
                                     "--backend", backend])
                XCTAssertEqual(send.lines, ["100 messages sent and accepted"], send.stderr)
                XCTAssertEqual(send.stderr, "")
                let receive = try amqp(["receive", "amqps://127.0.0.1:\(port)/tls", "--count", "100", "--tls-ca", pki.caFile, "--user", "alice",
                                        "--password", "env:PW", "--sasl-mechanisms", "SCRAM-SHA-256,PLAIN", "--backend", backend],
                                       environment: ["PW": "wonderland"])
                XCTAssertEqual(receive.lines, ["100 messages received"], receive.stderr)
                let plain = try amqp(["send", "amqps://alice:wonderland@localhost:\(port)/tls", "--tls-ca", pki.caFile, "--sasl-mechanisms", "PLAIN",
                                      "--backend", backend])
                XCTAssertEqual(plain.lines, ["1 messages sent and accepted"], "PLAIN is offered over TLS: \(plain.stderr)")
            }
            XCTAssertEqual(connected(log), ["alice by SCRAM-SHA-512, tls true", "alice by SCRAM-SHA-256, tls true", "alice by PLAIN, tls true"], log)
            XCTAssertFalse(log.contains("wonderland"), "never a password")
        }
    }

    func testClientCertificatesWithEXTERNALOnEachBackend() throws {
        let pki = try TestPKI.get()
        let users = try usersFile()
        for backend in TestBackends.names {
            let log = try withTLSBroker(pki, ["--users", users, "--tls-ca", pki.caFile, "--require-client-cert"], backend: backend) { port in
                let url = "amqps://localhost:\(port)/certs"
                let send = try amqp(["send", url, "--count", "10", "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert,
                                     "--tls-key", pki.clientKeyEncrypted, "--tls-key-password", "env:KEY_PASSWORD", "--backend", backend],
                                    environment: ["KEY_PASSWORD": pki.clientKeyPassword])
                XCTAssertEqual(send.lines, ["10 messages sent and accepted"], send.stderr)
                let receive = try amqp(["receive", url, "--count", "10", "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert,
                                        "--tls-key", pki.clientKey, "--backend", backend])
                XCTAssertEqual(receive.lines, ["10 messages received"], receive.stderr)
                let none = try amqp(["send", url, "--tls-ca", pki.caFile, "--backend", backend])
                XCTAssertEqual(none.stderr, "amqp: amqp:connection:framing-error: TLS connection failed: tlsv13 alert certificate required (reported by the peer)\n")
                let stranger = try amqp(["send", url, "--tls-ca", pki.caFile, "--tls-cert", pki.strangerCert, "--tls-key", pki.strangerKey,
                                         "--backend", backend])
                XCTAssertEqual(stranger.stderr, "amqp: amqp:connection:framing-error: TLS connection failed: tlsv1 alert unknown ca (reported by the peer)\n")
                let wrongKeyPassword = try amqp(["send", url, "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKeyEncrypted,
                                                 "--tls-key-password", "pass:wrong", "--backend", backend])
                XCTAssertTrue(wrongKeyPassword.stderr.hasPrefix("amqp: invalid TLS options: cannot load the private key from \(pki.clientKeyEncrypted): "),
                              wrongKeyPassword.stderr)
            }
            XCTAssertEqual(connected(log), ["\(pki.clientSubject) by EXTERNAL, tls true", "\(pki.clientSubject) by EXTERNAL, tls true"], log)
            XCTAssertTrue(log.contains("amqp.tls.subject=\(pki.clientSubject)"), log)
            XCTAssertFalse(log.contains(pki.clientKeyPassword), "never a password")
        }
    }

    func testAWrongHostNameAnUnknownCAAndPlaintextFailInOneLine() throws {
        let pki = try TestPKI.get()
        for backend in TestBackends.names {
            let log = try withTLSBroker(pki, [], backend: backend, cert: pki.wrongNameCert, key: pki.wrongNameKey) { port in
                let url = "amqps://localhost:\(port)/bad"
                let cases: [([String], String)] = [
                    (["--tls-ca", pki.caFile], "amqp: amqp:connection:framing-error: TLS handshake failed: certificate verify failed: hostname mismatch\n"),
                    (["--tls-ca", pki.otherCAFile],
                     "amqp: amqp:connection:framing-error: TLS handshake failed: certificate verify failed: unable to get local issuer certificate\n"),
                    ([], "amqp: amqp:connection:framing-error: TLS handshake failed: certificate verify failed: unable to get local issuer certificate\n"),
                ]
                for (options, expected) in cases {
                    let r = try amqp(["send", url, "--backend", backend] + options)
                    XCTAssertNotEqual(r.status, 0)
                    XCTAssertEqual(r.stderr, expected, "\(options)")
                }
                let plaintext = try amqp(["send", "amqp://127.0.0.1:\(port)/bad", "--backend", backend])
                XCTAssertNotEqual(plaintext.status, 0)
                XCTAssertEqual(plaintext.stderr.split(separator: "\n").count, 1, plaintext.stderr)
                // Turned off, with a warning each; and the name asked for explicitly.
                let noHostname = try amqp(["send", url, "--tls-ca", pki.caFile, "--tls-no-verify-hostname", "--backend", backend])
                XCTAssertEqual(noHostname.lines, ["1 messages sent and accepted"], noHostname.stderr)
                XCTAssertEqual(noHostname.stderr, "amqp: warning: --tls-no-verify-hostname: the server's certificate may be for any name: "
                               + "anyone with a certificate from a trusted CA can read and change the connection\n")
                let noVerify = try amqp(["receive", url, "--tls-no-verify", "--backend", backend])
                XCTAssertEqual(noVerify.lines, ["1 messages received"], noVerify.stderr)
                XCTAssertEqual(noVerify.stderr, "amqp: warning: --tls-no-verify: the server's certificate is not checked: "
                               + "anyone between us and the server can read and change the connection\n")
                let named = try amqp(["send", "amqps://127.0.0.1:\(port)/bad", "--tls-ca", pki.caFile, "--tls-server-name", "other.example",
                                      "--backend", backend])
                XCTAssertEqual(named.lines, ["1 messages sent and accepted"], named.stderr)
            }
            XCTAssertTrue(log.contains("amqp.description=TLS handshake failed: wrong version number: the client sent no TLS ClientHello (plaintext to a TLS port?)"), log)
        }
    }

    func testReceiveListenAndArrowsOverTLS() throws {
        let pki = try TestPKI.get()
        let backend = TestBackends.names.last ?? "epoll"
        let port = ProtonArrow.freePort()
        let receiver = try BuiltProgram("amqp", ["receive", "amqps://127.0.0.1:\(port)", "--listen", "--count", "20", "--tls-cert", pki.serverCert,
                                                 "--tls-key", pki.serverKey, "--tls-ca", pki.caFile, "--backend", backend])
        XCTAssertTrue(ProtonArrow.waitForListener(port: port))
        let arrow = try amqp(["arrow", "connection-mode=client", "operation=send", "scheme=amqps", "host=localhost", "port=\(port)", "path=a",
                              "count=10", "tls-ca=\(pki.caFile)"], environment: ["AMQP_BACKEND": backend])
        XCTAssertEqual(arrow.status, 0, arrow.stderr)
        XCTAssertEqual(arrow.lines.count, 10)
        let send = try amqp(["send", "amqps://localhost:\(port)/a", "--count", "10", "--tls-ca", pki.caFile, "--tls-cert", pki.clientCert,
                             "--tls-key", pki.clientKey, "--backend", backend])
        XCTAssertEqual(send.lines, ["10 messages sent and accepted"], send.stderr)
        let received = receiver.finish()
        XCTAssertEqual(received.lines, ["20 messages received"], received.stderr)

        // A server arrow over TLS, and our client arrow receiving from it.
        let serverPort = ProtonArrow.freePort()
        let server = try BuiltProgram("amqp", ["arrow", "connection-mode=server", "operation=send", "scheme=amqps", "port=\(serverPort)", "count=5",
                                               "tls-cert=\(pki.serverCert)", "tls-key=\(pki.serverKey)"], environment: ["AMQP_BACKEND": backend])
        XCTAssertTrue(ProtonArrow.waitForListener(port: serverPort))
        let client = try amqp(["arrow", "connection-mode=client", "operation=receive", "scheme=amqps", "host=localhost", "port=\(serverPort)",
                               "count=5", "tls-ca=\(pki.caFile)"], environment: ["AMQP_BACKEND": "epoll"])
        XCTAssertEqual(client.lines.count, 5, client.stderr)
        XCTAssertEqual(server.finish().lines.count, 5)
    }

    /// Proton Python, or a skip (a failure under AMQP_REQUIRE_PROTON=1).
    private func protonScript() throws -> String {
        if let why = ProtonPython.unavailable {
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { XCTFail(why) }
            throw XCTSkip(why)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("proton_tls.py").path
    }

    /// Runs proton_tls.py with `arguments`; its status and output lines.
    private func proton(_ arguments: [String]) throws -> (status: Int32, lines: [String]) {
        let python = Process()
        let out = Pipe()
        python.executableURL = URL(fileURLWithPath: ProtonPython.path)
        python.arguments = [try protonScript()] + arguments
        python.standardOutput = out
        python.standardError = out
        try python.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        return (python.terminationStatus, text.split(separator: "\n").map(String.init))
    }

    func testProtonPythonClientsThroughTheTLSBrokerWithPLAIN() throws {
        let pki = try TestPKI.get()
        _ = try protonScript()
        let users = try usersFile()
        for backend in TestBackends.names {
            let log = try withTLSBroker(pki, ["--users", users], backend: backend) { port in
                // Proton 0.37 checks host names against DNS entries only: localhost, not 127.0.0.1.
                let url = "amqps://alice:wonderland@localhost:\(port)/proton"
                let send = try proton(["send", url, "50", pki.caFile, "PLAIN"])
                XCTAssertEqual(send.status, 0, "\(send.lines)")
                XCTAssertEqual(send.lines, ["sent 50"])
                let receive = try proton(["receive", url, "50", pki.caFile])
                XCTAssertEqual(receive.lines, ["received 50"])
                let wrong = try proton(["send", "amqps://alice:wrong@localhost:\(port)/proton", "1", pki.caFile, "PLAIN"])
                XCTAssertNotEqual(wrong.status, 0)
                XCTAssertEqual(wrong.lines, ["error: amqp:unauthorized-access: Authentication failed [mech=PLAIN]"])
                let unknownCA = try proton(["send", url, "1", pki.otherCAFile, "PLAIN"])
                XCTAssertEqual(unknownCA.lines, ["error: amqp:connection:framing-error: SSL Failure: error:0A000086:SSL routines::certificate verify failed"])
            }
            XCTAssertEqual(connected(log), ["alice by PLAIN, tls true", "alice by PLAIN, tls true"], log)
        }
    }

    func testOurSendToAProtonPythonTLSServer() throws {
        let pki = try TestPKI.get()
        let script = try protonScript()
        for backend in TestBackends.names {
            for withCertificate in [false, true] {
                let port = ProtonArrow.freePort()
                let server = Process()
                let out = Pipe()
                server.executableURL = URL(fileURLWithPath: ProtonPython.path)
                server.arguments = [script, "server", "\(port)", "3", pki.serverCert, pki.serverKey] + (withCertificate ? [pki.caFile] : [])
                server.standardOutput = out
                server.standardError = out
                try server.run()
                defer { if server.isRunning { server.terminate() } }
                XCTAssertTrue(ProtonArrow.waitForListener(port: port), "Proton's server never listened")
                let certificate = withCertificate ? ["--tls-cert", pki.clientCert, "--tls-key", pki.clientKey] : []
                let send = try amqp(["send", "amqps://localhost:\(port)/proton", "--count", "3", "--tls-ca", pki.caFile, "--backend", backend] + certificate)
                XCTAssertEqual(send.lines, ["3 messages sent and accepted"], send.stderr)
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                server.waitUntilExit()
                XCTAssertEqual(text.split(separator: "\n").map(String.init), [
                    "listening",
                    withCertificate ? "received 3 from user \(pki.clientSubject), certificate \(pki.clientSubject)"
                                    : "received 3 from user anonymous, certificate None",
                ], backend)
            }
        }
    }
}

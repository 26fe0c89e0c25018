import AMQPSASL
import Foundation
import SharedFixtures
import XCTest

/// `amqp users` and SASL through `amqp broker --users` over plain TCP, as users run them: SCRAM
/// with a users file, the identity in the broker's log, wrong passwords, PLAIN in the clear,
/// anonymous clients, and options that cannot work, each failing in one line.
final class CommandSASLTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "amqp-sasl-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A users file with alice/wonderland and bob/builder, made by `amqp users add`.
    private func usersFile() throws -> String {
        let file = directory + "/users"
        for (user, password) in [("alice", "wonderland"), ("bob", "builder")] {
            let r = try BuiltProgram("amqp", ["users", "add", file, user], stdin: password + "\n").finish()
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        return file
    }

    /// `amqp broker` with `arguments` on a free port for the duration of `body`; it must stop
    /// cleanly. Returns its stderr (its log).
    @discardableResult
    private func withBroker(_ arguments: [String], backend: String = "epoll", _ body: (UInt16) throws -> Void) throws -> String {
        let port = ProtonArrow.freePort()
        let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend] + arguments)
        defer { broker.terminate() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker never listened")
        try body(port)
        broker.terminate()
        let (status, lines, stderr) = broker.finish()
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(lines, ["amqp broker listening on 127.0.0.1:\(port) (proactor backend: \(backend))", "amqp broker stopped"])
        return stderr
    }

    private func amqp(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> (status: Int32, lines: [String], stderr: String) {
        try BuiltProgram("amqp", arguments, environment: environment, stdin: stdin).finish()
    }

    func testUsersAddWritesSaltedCredentialsNeverThePassword() throws {
        let file = directory + "/users"
        let added = try amqp(["users", "add", file, "alice"], stdin: "wonderland\n")
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(added.lines, ["added alice to \(file) (SCRAM-SHA-512, SCRAM-SHA-256)"])
        XCTAssertEqual(added.stderr, "")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "readable by its owner only")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertFalse(text.contains("wonderland"))
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, text)
        XCTAssertEqual(lines.first, "# swift-amqp users file (amqp users add): username:mechanism:iterations:salt:stored-key:server-key")
        XCTAssertTrue(lines[1].hasPrefix("alice:SCRAM-SHA-512:4096:"), text)
        XCTAssertTrue(lines[2].hasPrefix("alice:SCRAM-SHA-256:4096:"), text)
        let users = try SASLUsersFile(contentsOfFile: file)
        XCTAssertTrue(users.verifyPlain(username: "alice", password: "wonderland"))
        XCTAssertFalse(users.verifyPlain(username: "alice", password: "Wonderland"))

        // From an environment variable, with one mechanism; changing a password replaces the user's lines.
        let bob = try amqp(["users", "add", file, "bob", "--password", "env:BOB_PASSWORD", "--mechanisms", "scram-sha-256"],
                           environment: ["BOB_PASSWORD": "builder"])
        XCTAssertEqual(bob.lines, ["added bob to \(file) (SCRAM-SHA-256)"], bob.stderr)
        let changed = try amqp(["users", "add", file, "alice", "--password", "stdin"], stdin: "looking-glass\n")
        XCTAssertEqual(changed.lines, ["changed the password of alice in \(file) (SCRAM-SHA-512, SCRAM-SHA-256)"], changed.stderr)
        let after = try SASLUsersFile(contentsOfFile: file)
        XCTAssertEqual(after.usernames, ["alice", "bob"])
        XCTAssertTrue(after.verifyPlain(username: "alice", password: "looking-glass"))
        XCTAssertFalse(after.verifyPlain(username: "alice", password: "wonderland"))
        XCTAssertTrue(after.verifyPlain(username: "bob", password: "builder"))
        XCTAssertNil(after.scramCredential(for: "bob", hash: .sha512))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count, 4)
        XCTAssertEqual(try amqp(["users", "list", file]).lines, ["alice", "bob"])
        XCTAssertEqual(try amqp(["users", "remove", file, "bob"]).lines, ["removed bob from \(file)"])
        XCTAssertEqual(try amqp(["users", "list", file]).lines, ["alice"])
    }

    func testUsersFailuresAreOneLine() throws {
        let file = directory + "/users"
        try "alice:SCRAM-SHA-256:4096:bad\n".write(toFile: directory + "/broken", atomically: true, encoding: .utf8)
        let cases: [([String], String?, String)] = [
            (["users", "add", file, "alice"], "\n", "amqp: the password is empty"),
            (["users", "add", file, "alice", "--password", "wonderland"], nil,
             "amqp: --password takes env:NAME, file:PATH, stdin or pass:TEXT, not the password itself"),
            (["users", "add", file, "alice", "--password", "env:AMQP_NO_SUCH_VARIABLE"], nil,
             "amqp: --password: the environment variable AMQP_NO_SUCH_VARIABLE is not set"),
            (["users", "add", file, "alice", "--mechanisms", "PLAIN"], "pw\n",
             "amqp: --mechanisms: a users file holds SCRAM credentials only, not PLAIN"),
            (["users", "add", file, "alice", "--mechanisms", "CRAM-MD5"], "pw\n",
             "amqp: --mechanisms: unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)"),
            (["users", "add", directory + "/broken", "alice"], "pw\n",
             "amqp: \(directory)/broken: users file, line 1: 4 fields, not 6 (username:mechanism:iterations:salt:stored-key:server-key) (not changed)"),
            (["users", "remove", file, "alice"], nil, "amqp: cannot read \(file): No such file or directory"),
        ]
        for (arguments, stdin, expected) in cases {
            let r = try amqp(arguments, stdin: stdin)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertEqual(r.lines, [], "\(arguments)")
            XCTAssertEqual(r.stderr, expected + "\n", "\(arguments)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "nothing written")
        XCTAssertEqual(try String(contentsOfFile: directory + "/broken", encoding: .utf8), "alice:SCRAM-SHA-256:4096:bad\n", "left alone")
    }

    func testSCRAMThroughTheBrokerAndTheIdentityInItsLog() throws {
        let users = try usersFile()
        for backend in TestBackends.names {
            let log = try withBroker(["--users", users, "--log-level", "info"], backend: backend) { port in
                let url = "amqp://127.0.0.1:\(port)/scram-\(backend)"
                let send = try amqp(["send", "amqp://alice:wonderland@127.0.0.1:\(port)/scram-\(backend)", "--count", "10", "--backend", backend])
                XCTAssertEqual(send.status, 0, send.stderr)
                XCTAssertEqual(send.lines, ["10 messages sent and accepted"])
                let receive = try amqp(["receive", url, "--count", "10", "--user", "bob", "--password", "env:BOB_PASSWORD",
                                        "--sasl-mechanisms", "SCRAM-SHA-256", "--backend", backend], environment: ["BOB_PASSWORD": "builder"])
                XCTAssertEqual(receive.status, 0, receive.stderr)
                XCTAssertEqual(receive.lines, ["10 messages received"])
                // The password from stdin when the URL names the user without one.
                let piped = try amqp(["send", "amqp://alice@127.0.0.1:\(port)/piped", "--backend", backend], stdin: "wonderland\n")
                XCTAssertEqual(piped.lines, ["1 messages sent and accepted"], piped.stderr)
            }
            let connected = log.split(separator: "\n").filter { $0.contains("client connected") }
            XCTAssertEqual(connected.count, 3, log)
            XCTAssertTrue(connected[0].contains("amqp.identity=alice") && connected[0].contains("amqp.sasl.mechanism=SCRAM-SHA-512"), "\(connected)")
            XCTAssertTrue(connected[1].contains("amqp.identity=bob") && connected[1].contains("amqp.sasl.mechanism=SCRAM-SHA-256"), "\(connected)")
            XCTAssertTrue(connected[2].contains("amqp.identity=alice"), "\(connected)")
            XCTAssertFalse(log.contains("wonderland") || log.contains("builder"), "never a password: \(log)")
        }
    }

    func testAWrongPasswordFailsInOneLineAndTheBrokerGoesOn() throws {
        let users = try usersFile()
        for backend in TestBackends.names {
            let log = try withBroker(["--users", users, "--log-level", "warning"], backend: backend) { port in
                let queue = "amqp://bob:builder@127.0.0.1:\(port)/wrong-\(backend)"
                // A receiver connected before, and through, the failures.
                let receiver = try BuiltProgram("amqp", ["receive", queue, "--count", "3", "--backend", backend])
                usleep(300_000)
                let wrong = try amqp(["send", "amqp://alice:Wonderland@127.0.0.1:\(port)/wrong-\(backend)", "--backend", backend])
                XCTAssertNotEqual(wrong.status, 0)
                XCTAssertEqual(wrong.lines, [])
                XCTAssertEqual(wrong.stderr, "amqp: amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512)\n")
                let unknown = try amqp(["send", "amqp://mallory:x@127.0.0.1:\(port)/wrong-\(backend)", "--sasl-mechanisms", "SCRAM-SHA-256",
                                        "--backend", backend])
                XCTAssertEqual(unknown.stderr, "amqp: amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256)\n",
                               "an unknown user fails exactly as a wrong password")
                let send = try amqp(["send", queue, "--count", "3", "--backend", backend])
                XCTAssertEqual(send.lines, ["3 messages sent and accepted"], send.stderr)
                let received = receiver.finish()
                XCTAssertEqual(received.status, 0, received.stderr)
                XCTAssertEqual(received.lines, ["3 messages received"])
            }
            XCTAssertTrue(log.contains("amqp.description=SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512): the proof of \"alice\" does not verify: a wrong password"), log)
            XCTAssertTrue(log.contains("amqp.description=SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256): unknown user \"mallory\""), log)
            XCTAssertFalse(log.contains("Wonderland"), "never a password: \(log)")
        }
    }

    func testPlainIsRefusedInTheClearUnlessAllowed() throws {
        let users = try usersFile()
        try withBroker(["--users", users]) { port in
            let r = try amqp(["send", "amqp://alice:wonderland@127.0.0.1:\(port)/plain", "--sasl-mechanisms", "PLAIN", "--backend", "epoll"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "amqp: amqp:unauthorized-access: no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [PLAIN]\n")
        }
        let log = try withBroker(["--users", users, "--allow-plain-without-tls", "--log-level", "info"]) { port in
            let r = try amqp(["send", "amqp://alice:wonderland@127.0.0.1:\(port)/plain", "--sasl-mechanisms", "PLAIN", "--backend", "epoll"])
            XCTAssertEqual(r.lines, ["1 messages sent and accepted"], r.stderr)
        }
        XCTAssertTrue(log.contains("amqp.identity=alice") && log.contains("amqp.sasl.mechanism=PLAIN"), log)
    }

    func testAnonymousIsRefusedWithUsersUnlessAllowed() throws {
        let users = try usersFile()
        try withBroker(["--users", users]) { port in
            let r = try amqp(["send", "amqp://127.0.0.1:\(port)/anonymous", "--backend", "epoll"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "amqp: amqp:unauthorized-access: no common SASL mechanism: the server offers [SCRAM-SHA-512 SCRAM-SHA-256], we have [ANONYMOUS]\n")
            // Proton C's arrow offers ANONYMOUS too: refused, it fails.
            let proton = try ProtonArrow.Running(["connection-mode=client", "operation=send", "host=127.0.0.1", "port=\(port)", "path=anonymous", "count=1"])
            XCTAssertNotEqual(proton.finish().status, 0)
        }
        try withBroker(["--users", users, "--allow-anonymous"]) { port in
            let r = try amqp(["send", "amqp://127.0.0.1:\(port)/anonymous", "--backend", "epoll"])
            XCTAssertEqual(r.lines, ["1 messages sent and accepted"], r.stderr)
            let alice = try amqp(["receive", "amqp://alice:wonderland@127.0.0.1:\(port)/anonymous", "--backend", "epoll"])
            XCTAssertEqual(alice.lines, ["1 messages received"], alice.stderr)
        }
        // Without --users, anonymous as before.
        try withBroker([]) { port in
            let proton = try ProtonArrow.Running(["connection-mode=client", "operation=send", "host=127.0.0.1", "port=\(port)", "path=open", "count=5"])
            XCTAssertEqual(proton.finish().status, 0)
        }
    }

    func testOptionsThatCannotWorkFailInOneLineAtStart() throws {
        let users = try usersFile()
        let missing = directory + "/absent"
        let cases: [([String], String)] = [
            (["broker", "--mechanisms", "SCRAM-SHA-256,CRAM-MD5"],
             "amqp: --mechanisms: unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)"),
            (["broker", "--mechanisms", "SCRAM-SHA-256"], "amqp: SASL mechanism SCRAM-SHA-256 needs users (a credential store, or a users file)"),
            (["broker", "--users", missing], "amqp: users file \(missing): cannot open: No such file or directory"),
            (["broker", "--allow-plain-without-tls"], "amqp: --allow-plain-without-tls: PLAIN is not offered (it needs --users)"),
            (["broker", "--users", users, "--mechanisms", "SCRAM-SHA-256", "--allow-plain-without-tls"],
             "amqp: --allow-plain-without-tls: PLAIN is not offered (it needs --users)"),
            (["broker", "--tls-key", "k.pem"], "amqp: --tls-key, --tls-key-password, --tls-ca and --require-client-cert need --tls-cert"),
            (["broker", "--tls-cert", "c.pem"], "amqp: --tls-cert needs --tls-key"),
            (["broker", "--log-level", "loud"], "amqp: unknown --log-level 'loud' (trace, debug, info, notice, warning, error or critical)"),
            (["send", "amqp://a:b@127.0.0.1/q", "--sasl-mechanisms", "CRAM-MD5"],
             "amqp: invalid SASL options: unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)"),
            (["send", "amqp://127.0.0.1/q", "--sasl-mechanisms", "SCRAM-SHA-512"], "amqp: invalid SASL options: SASL mechanism SCRAM-SHA-512 needs a username"),
            (["receive", "amqp://a@127.0.0.1/q", "--user", "b"], "amqp: give the user in the URL or with --user, not both"),
            (["receive", "amqp://127.0.0.1/q", "--password", "env:X"], "amqp: --password needs a user (in the URL or with --user)"),
            (["send", "amqp://127.0.0.1/q", "--user", "a", "--password", "secret"],
             "amqp: --password takes env:NAME, file:PATH, stdin or pass:TEXT, not the password itself"),
            (["send", "amqp://127.0.0.1/q", "--tls-ca", "ca.pem"], "amqp: TLS options (--tls-…) need an amqps:// URL, not 'amqp://127.0.0.1:5672/q'"),
            (["send", "amqps://127.0.0.1/q", "--tls-cert", "c.pem"], "amqp: --tls-cert and --tls-key go together"),
            (["arrow", "operation=send", "count=1", "tls-ca=ca.pem"], "amqp: TLS options (tls-…=) need an amqps:// URL, not 'amqp://127.0.0.1:5672/q'"),
            (["arrow", "operation=send", "count=1", "sasl-mechanisms=CRAM-MD5"],
             "amqp: invalid SASL options: unknown SASL mechanism \"CRAM-MD5\" (known: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, EXTERNAL, ANONYMOUS)"),
        ]
        for (arguments, expected) in cases {
            let r = try amqp(arguments)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertEqual(r.lines, [], "\(arguments)")
            let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("amqp: warning: ") }
            XCTAssertEqual(errors, [Substring(expected)], "\(arguments)")
        }
    }
}

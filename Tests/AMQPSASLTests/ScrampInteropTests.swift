import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
@testable import AMQPSASL
import Foundation
import XCTest

/// SCRAM against an independent implementation, scramp (PyPI), in both roles: our driver on one
/// side (a ``ScriptedPeer`` carries the SASL frames), `scramp_peer.py` on the other, the messages
/// crossing its stdin and stdout.
///
/// scramp comes from `Scripts/scramp-venv.sh` (a venv under `.build-venv-scramp/`), or from the
/// interpreter `AMQP_SCRAMP_PYTHON` names. Without it the tests skip, unless `AMQP_REQUIRE_PROTON=1`
/// (as CI sets), when they fail.
final class ScrampInteropTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("scramp_peer.py").path

    /// The python with scramp, or why there is none.
    static let python: Result<String, ScrampUnavailable> = {
        if let chosen = ProcessInfo.processInfo.environment["AMQP_SCRAMP_PYTHON"] { return .success(chosen) }
        let (status, output) = run("/bin/bash", [root.appendingPathComponent("Scripts/scramp-venv.sh").path])
        guard status == 0, let path = output.split(separator: "\n").last.map(String.init), !path.isEmpty else {
            return .failure(ScrampUnavailable(description: "Scripts/scramp-venv.sh could not install scramp: \(output.suffix(400))"))
        }
        return .success(path)
    }()

    struct ScrampUnavailable: Error, CustomStringConvertible { let description: String }

    /// The python, or nil having skipped (or failed, under AMQP_REQUIRE_PROTON=1).
    private func requireScramp() throws -> String? {
        switch Self.python {
        case .success(let path): return path
        case .failure(let why):
            let message = "scramp (PyPI) is needed for the SCRAM interop tests: \(why)"
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" {
                XCTFail(message + " (AMQP_REQUIRE_PROTON=1, so this fails instead of skipping)")
                return nil
            }
            throw XCTSkip(message)
        }
    }

    static func run(_ executable: String, _ arguments: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// scramp_peer.py running in one role.
    final class Peer {
        let process = Process()
        let input = Pipe(), output = Pipe()
        var buffer: [UInt8] = []

        init(python: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [ScrampInteropTests.script] + arguments
            process.standardInput = input
            process.standardOutput = output
            try process.run()
        }

        func send(_ message: [UInt8]) {
            input.fileHandleForWriting.write(Data((Data(message).base64EncodedString() + "\n").utf8))
        }

        func line() -> String? {
            while true {
                if let i = buffer.firstIndex(of: 0x0A) {
                    defer { buffer.removeFirst(i + 1) }
                    return String(decoding: buffer[..<i], as: UTF8.self)
                }
                let more = output.fileHandleForReading.availableData
                if more.isEmpty { return nil }
                buffer += more
            }
        }

        /// The next SCRAM message, or nil when scramp finished instead (its status line is kept).
        func receive() -> [UInt8]? {
            guard let l = line() else { return nil }
            if l == "ok" || l.hasPrefix("error: ") { pendingStatus = l; return nil }
            return Data(base64Encoded: l).map { Array($0) }
        }

        private var pendingStatus: String?

        /// scramp's last line ("ok" or "error: ..."), once it exits.
        func status() -> String {
            try? input.fileHandleForWriting.close()
            let s = pendingStatus ?? line() ?? "(no status)"
            process.waitUntilExit()
            return s
        }
    }

    // MARK: our client, scramp's server

    /// Runs our client driver with `mechanism` against scramp's server knowing `username` with
    /// `serverPassword`; `tamper` may change scramp's server-final before our client sees it.
    private func ourClient(_ hash: SCRAMHash, username: String, password: String, serverUsername: String? = nil,
                           serverPassword: String, tamper: (([UInt8]) -> [UInt8])? = nil)
        throws -> (peer: ScriptedPeer, scramp: String)? {
        guard let python = try requireScramp() else { return nil }
        let scramp = try Peer(python: python, ["server", hash.rawValue, serverUsername ?? username, serverPassword])
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = SASLClientConfiguration(mechanisms: [.scram(hash, username: username, password: password)])
        let peer = ScriptedPeer(driverMode: .client, configuration: c)
        peer.driver.connection.open()
        XCTAssertEqual(peer.read(), [.header(.sasl)])
        peer.write(header: .sasl)
        peer.write(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["PLAIN", hash.mechanism, "ANONYMOUS"])))
        guard case .saslInit(let i)? = peer.readPerformatives().first, let first = i.initialResponse else {
            XCTFail("no sasl-init")
            return nil
        }
        XCTAssertEqual(i.mechanism, hash.mechanism)
        scramp.send(Array(first))
        guard let serverFirst = scramp.receive() else { return (peer, scramp.status()) }
        peer.write(.saslChallenge(SASLChallenge(challenge: Binary(serverFirst))))
        guard case .saslResponse(let r)? = peer.readPerformatives().first else {
            XCTFail("no sasl-response: \(peer.transportErrors)")
            return nil
        }
        scramp.send(Array(r.response))
        let serverFinal = scramp.receive()
        let status = scramp.status()
        if status == "ok", let serverFinal {
            peer.write(.saslOutcome(SASLOutcome(code: .ok, additionalData: Binary(tamper?(serverFinal) ?? serverFinal))))
            peer.write(header: .amqp)
        } else {
            peer.write(.saslOutcome(SASLOutcome(code: .auth)))
        }
        return (peer, status)
    }

    func testOurClientAgainstScrampServer() throws {
        for hash in SCRAMHash.allCases {
            guard let (peer, status) = try ourClient(hash, username: "user", password: "pencil", serverPassword: "pencil") else { return }
            XCTAssertEqual(status, "ok", "\(hash)")
            XCTAssertEqual(peer.transportErrors, [], "\(hash)")
            XCTAssertEqual(peer.driver.saslOutcome, .ok)
            XCTAssertEqual(peer.readNames(), ["open"], "the AMQP layer is up: our held open goes out")
        }
    }

    func testOurClientEscapesAndPreparesLikeScramp() throws {
        // A name with , and = (sent as =2C and =3D), and a password with a soft hyphen, which
        // SASLprep removes on both sides.
        guard let (peer, status) = try ourClient(.sha256, username: "us,er=1", password: "pen\u{AD}cil",
                                                 serverPassword: "pencil") else { return }
        XCTAssertEqual(status, "ok")
        XCTAssertEqual(peer.transportErrors, [])
        guard let (peer2, status2) = try ourClient(.sha512, username: "caf\u{E9}", password: "p\u{E4}ss\u{A0}word",
                                                   serverPassword: "p\u{E4}ss word") else { return }
        XCTAssertEqual(status2, "ok")
        XCTAssertEqual(peer2.transportErrors, [])
    }

    func testOurClientWithAWrongPassword() throws {
        guard let (peer, status) = try ourClient(.sha256, username: "user", password: "pencil2", serverPassword: "pencil") else { return }
        XCTAssertTrue(status.hasPrefix("error: "), status)
        XCTAssertEqual(peer.transportErrors.map(\.description), ["SASL authentication failed: outcome auth (mechanism SCRAM-SHA-256)"])
        XCTAssertTrue(peer.driver.isFinished)
    }

    func testOurClientRefusesATamperedServerFinal() throws {
        guard let (peer, status) = try ourClient(.sha512, username: "user", password: "pencil", serverPassword: "pencil",
                                                 tamper: { f in var f = f; f[4] = f[4] == 0x41 ? 0x42 : 0x41; return f }) else { return }
        XCTAssertEqual(status, "ok", "scramp's side verified us")
        XCTAssertEqual(peer.transportErrors.map(\.description),
                       ["SASL SCRAM-SHA-512: the server's signature does not verify: it does not know our credential, or someone stands between us"])
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertNil(peer.driver.connection.remoteOpen)
        XCTAssertFalse(peer.readNames().contains("open"), "no AMQP frame after a failed exchange")
    }

    // MARK: scramp's client, our server

    /// Runs scramp's client as `username` with `password` against our server driver, whose users
    /// are `usersFile`; returns our driver and scramp's status.
    private func scrampClient(_ hash: SCRAMHash, username: String, password: String,
                              usersFile: String) throws -> (peer: ScriptedPeer, scramp: String)? {
        guard let python = try requireScramp() else { return nil }
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try SASLServerOptions(credentials: SASLUsersFile(parsing: usersFile)).configuration()
        let peer = ScriptedPeer(driverMode: .server, configuration: s)
        let scramp = try Peer(python: python, ["client", hash.rawValue, username, password])
        peer.write(header: .sasl)
        XCTAssertEqual(peer.read(), [.header(.sasl), .frame(channel: 0, performative: .saslMechanisms(SASLMechanisms(
            saslServerMechanisms: ["SCRAM-SHA-512", "SCRAM-SHA-256"])), payload: [])])
        guard let first = scramp.receive() else { return (peer, scramp.status()) }
        peer.write(.saslInit(SASLInit(mechanism: hash.mechanism, initialResponse: Binary(first))))
        guard case .saslChallenge(let c)? = peer.readPerformatives().first else {
            XCTFail("no challenge: \(peer.transportErrors)")
            return nil
        }
        scramp.send(Array(c.challenge))
        guard let final = scramp.receive() else { return (peer, scramp.status()) }
        peer.write(.saslResponse(SASLResponse(response: Binary(final))))
        guard case .saslOutcome(let o)? = peer.readPerformatives().first else {
            XCTFail("no outcome")
            return nil
        }
        if o.code == .ok, let data = o.additionalData { scramp.send(Array(data)) }
        return (peer, scramp.status())
    }

    /// A users-file line made by scramp (its own salt and key derivation).
    private func scrampLine(_ hash: SCRAMHash, username: String, password: String) throws -> String? {
        guard let python = try requireScramp() else { return nil }
        let (status, output) = Self.run(python, [Self.script, "credential", hash.rawValue, password])
        XCTAssertEqual(status, 0, output)
        return SASLUsersFile.escape(username) + ":" + hash.rawValue + ":" + output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testScrampClientAgainstOurServer() throws {
        for hash in SCRAMHash.allCases {
            guard let line = try scrampLine(hash, username: "user", password: "pencil"),
                  let (peer, status) = try scrampClient(hash, username: "user", password: "pencil", usersFile: line) else { return }
            XCTAssertEqual(status, "ok", "scramp verified our server's signature (\(hash))")
            XCTAssertEqual(peer.transportErrors, [])
            XCTAssertEqual(peer.driver.authenticatedIdentity, "user")
            XCTAssertEqual(peer.driver.saslMechanism, hash.mechanism)
        }
    }

    func testScrampClientWithOurEntries() throws {
        // Credentials made by SASLUsersFile.entries, used by scramp's client.
        let file = try SASLUsersFile.entries(username: "us,er=1", password: "pencil").joined(separator: "\n")
        for hash in SCRAMHash.allCases {
            guard let (peer, status) = try scrampClient(hash, username: "us,er=1", password: "pen\u{AD}cil", usersFile: file) else { return }
            XCTAssertEqual(status, "ok", "\(hash)")
            XCTAssertEqual(peer.driver.authenticatedIdentity, "us,er=1")
        }
    }

    func testScrampClientWithAWrongPasswordOrUnknownUser() throws {
        guard let line = try scrampLine(.sha256, username: "user", password: "pencil") else { return }
        for (user, password) in [("user", "Pencil"), ("nobody", "pencil")] {
            guard let (peer, status) = try scrampClient(.sha256, username: user, password: password, usersFile: line) else { return }
            XCTAssertTrue(status.hasPrefix("error: "), "scramp never got a server-final: \(status)")
            XCTAssertEqual(peer.driver.saslOutcome, .auth, user)
            XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.unauthorizedAccess])
            XCTAssertNil(peer.driver.authenticatedIdentity)
        }
    }
}

import AMQPCodec
@testable import AMQPEngine
import XCTest

final class SASLTests: XCTestCase {
    private func pair(client: SASLClientConfiguration?, server: SASLServerConfiguration = .anonymous) -> DriverPair {
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = client
        c.hostname = "broker.example"
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = server
        return DriverPair(client: c, server: s)
    }

    private func errors(_ events: [AMQPEvent]) -> [AMQPError] {
        events.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }
    }

    /// After authentication the AMQP layer must carry messages as usual.
    private func assertMessageFlows(_ pair: DriverPair, file: StaticString = #filePath, line: UInt = #line) {
        let (sender, _) = pair.openLinkPair(credit: 10)
        sender.send(Message(value: "after sasl"))
        pair.pump()
        let got = pair.deliveries(pair.serverEvents).filter { !$0.isPartial }
        XCTAssertEqual(got.count, 1, file: file, line: line)
        XCTAssertEqual(try got.first?.message().body, .value("after sasl"), file: file, line: line)
    }

    func testAnonymousAgainstDefaultServer() {
        let p = pair(client: .anonymous)
        assertMessageFlows(p)
        XCTAssertEqual(p.server.saslMechanism, "ANONYMOUS")
        XCTAssertEqual(p.server.authenticatedIdentity, "anonymous")
        XCTAssertEqual(p.client.saslOutcome, .ok)
        XCTAssertEqual(p.client.connection.remoteState, .active)
    }

    func testPlainAccepted() {
        let seen = LockedBox<PlainCredentials?>(nil)
        let p = pair(client: SASLClientConfiguration(mechanisms: [.plain(username: "alice", password: "s3cret", authzid: "admin")]),
                     server: .plain { seen.value = $0; return $0.username == "alice" && $0.password == "s3cret" })
        assertMessageFlows(p)
        XCTAssertEqual(seen.value, PlainCredentials(authzid: "admin", username: "alice", password: "s3cret"))
        XCTAssertEqual(p.server.authenticatedIdentity, "alice")
        XCTAssertEqual(p.client.saslMechanism, "PLAIN")
    }

    func testPlainRejectedClosesBothSidesWithReason() {
        let p = pair(client: .plain(username: "alice", password: "wrong"), server: .plain { $0.password == "s3cret" })
        p.client.connection.open()       // queued behind SASL; must never reach the wire
        p.client.connection.session().begin()
        p.pump()
        XCTAssertEqual(p.client.saslOutcome, .auth)
        XCTAssertEqual(p.server.saslOutcome, .auth)
        let clientError = errors(p.clientEvents).first
        XCTAssertEqual(clientError?.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertTrue(clientError?.description?.contains("outcome auth") ?? false, "\(String(describing: clientError))")
        XCTAssertEqual(errors(p.serverEvents).first?.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertNil(p.server.connection.remoteOpen, "no AMQP frame may pass a failed SASL exchange")
        XCTAssertTrue(p.client.isFinished)
        XCTAssertTrue(p.server.isFinished)
    }

    func testEveryFailureOutcomeCodeReachesTheClient() {
        for code in SASLCode.allCases where code != .ok {
            let server = SASLServerConfiguration(mechanisms: ["ANONYMOUS"]) { FixedAuthenticator(step: .failure(code)) }
            let p = pair(client: .anonymous, server: server)
            p.pump()
            XCTAssertEqual(p.client.saslOutcome, code)
            XCTAssertTrue(errors(p.clientEvents).first?.description?.contains("outcome \(code.name)") ?? false, "\(code)")
            XCTAssertTrue(p.client.isFinished && p.server.isFinished, "\(code)")
        }
    }

    func testExternal() {
        let server = SASLServerConfiguration(mechanisms: ["EXTERNAL"]) {
            ExternalAuthenticator()
        }
        let p = pair(client: SASLClientConfiguration(mechanisms: [.plain(username: "u", password: "p"), .external(authzid: "cn=client")]),
                     server: server)
        assertMessageFlows(p)
        XCTAssertEqual(p.client.saslMechanism, "EXTERNAL", "the first of ours that the server offers wins")
        XCTAssertEqual(p.server.authenticatedIdentity, "cn=client")
    }

    func testChallengeResponse() {
        let client = SASLClientConfiguration(mechanisms: [.custom(name: "X-ECHO", initialResponse: [1], respond: { $0 + [2] })])
        let server = SASLServerConfiguration(mechanisms: ["X-ECHO"]) { EchoAuthenticator() }
        let p = pair(client: client, server: server)
        p.chunk = 3   // headers and frames split across reads
        assertMessageFlows(p)
        XCTAssertEqual(p.server.authenticatedIdentity, "echo")
    }

    func testBuiltinMechanismRefusesAChallenge() {
        let server = SASLServerConfiguration(mechanisms: ["PLAIN"]) { FixedAuthenticator(step: .challenge([7])) }
        let p = pair(client: .plain(username: "u", password: "p"), server: server)
        p.pump()
        XCTAssertEqual(errors(p.clientEvents).first?.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertTrue(p.client.isFinished)
    }

    func testNoCommonMechanism() {
        let p = pair(client: .plain(username: "u", password: "p"), server: .anonymous)
        p.pump()
        let e = errors(p.clientEvents).first
        XCTAssertEqual(e?.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertTrue(e?.description?.contains("no common SASL mechanism") ?? false)
        XCTAssertTrue(p.client.isFinished)
    }

    func testServerRequiringSASLRefusesPlainAMQP() {
        let p = pair(client: nil, server: .plain { _ in true })
        p.client.connection.open()
        p.pump()
        // §5.3.1: the server answers with the SASL header and closes; no AMQP frame is exchanged.
        XCTAssertEqual(errors(p.serverEvents).map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertEqual(errors(p.clientEvents).map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertEqual(errors(p.clientEvents).first?.description, "the server requires SASL: it answered our AMQP header with the SASL header")
        XCTAssertEqual(p.server.connection.remoteState, .uninitialized, "the server read no open")
        XCTAssertTrue(p.client.isFinished)
        XCTAssertTrue(p.server.isFinished)
    }

    func testClientWithoutSASLAgainstSASLOnlyPeerFailsClearly() {
        // The server answers a SASL header; a client that did not ask for SASL cannot go on.
        let c = ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: "c"))
        c.read(ProtocolHeader.sasl.bytes)
        var events: [AMQPEvent] = []
        while let e = c.nextEvent() { events.append(e) }
        XCTAssertEqual(errors(events).map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertEqual(errors(events).first?.description, "the server requires SASL: it answered our AMQP header with the SASL header")
        XCTAssertTrue(c.isTailClosed)
    }

    func testAMQPFrameDuringSASLIsAFramingError() {
        let s = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "s"))
        s.read(ProtocolHeader.sasl.bytes + Frame(channel: 0, .open(Open(containerID: "x"))).encoded)
        var events: [AMQPEvent] = []
        while let e = s.nextEvent() { events.append(e) }
        XCTAssertEqual(errors(events).first?.condition, ErrorCondition.framingError)
        XCTAssertEqual(Array(s.pendingOutput.prefix(8)), ProtocolHeader.sasl.bytes)
    }

    func testPlainParsing() {
        XCTAssertEqual(BuiltinAuthenticator.parsePlain(Array("\u{0}bob\u{0}pw".utf8)), PlainCredentials(authzid: nil, username: "bob", password: "pw"))
        XCTAssertNil(BuiltinAuthenticator.parsePlain(Array("bob".utf8)))
        XCTAssertNil(BuiltinAuthenticator.parsePlain(Array("\u{0}\u{0}pw".utf8)), "empty username")
        XCTAssertNil(BuiltinAuthenticator.parsePlain([0, 0xff, 0, 0x41]), "invalid UTF-8")
    }
}

private struct FixedAuthenticator: SASLAuthenticator {
    let step: SASLStep
    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep { step }
}

private struct ExternalAuthenticator: SASLAuthenticator {
    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep {
        guard mechanism == "EXTERNAL", let id = initialResponse.flatMap({ String(validating: $0, as: UTF8.self) }) else { return .failure(.auth) }
        return .success(identity: id)
    }
}

/// Sends one challenge and expects the client to echo it with a 2 appended.
private final class EchoAuthenticator: SASLAuthenticator {
    func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep {
        initialResponse == [1] && hostname == "broker.example" ? .challenge([9]) : .failure(.auth)
    }
    func respond(_ response: [UInt8]) -> SASLStep {
        response == [9, 2] ? .success(identity: "echo") : .failure(.auth)
    }
}

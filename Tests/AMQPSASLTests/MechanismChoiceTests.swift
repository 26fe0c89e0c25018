import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
@testable import AMQPSASL
import XCTest

/// The client picks the strongest mechanism both sides offer, whatever order either lists them in:
/// SCRAM-SHA-512 > SCRAM-SHA-256 > PLAIN = EXTERNAL > ANONYMOUS, equals in the client's order.
final class MechanismChoiceTests: XCTestCase {
    private let all: [SASLClientMechanism] = [
        .anonymous(), .plain(username: "u", password: "p"), .external(),
        .scramSHA256(username: "u", password: "p"), .scramSHA512(username: "u", password: "p"),
    ]

    private func chosen(_ ours: [SASLClientMechanism], offered: [Symbol]) -> Symbol? {
        SASLClientConfiguration(mechanisms: ours).choose(offered: offered)?.name
    }

    func testStrengths() {
        XCTAssertEqual(["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "EXTERNAL", "ANONYMOUS", "X-OTHER", "scram-sha-512"]
                        .map { SASLClientMechanism.strength(of: Symbol($0)) }, [50, 40, 20, 20, 0, 20, 50])
        XCTAssertEqual(SASLMechanismName.allCases.map(\.strength), [50, 40, 20, 20, 0])
    }

    func testStrongestBothOffer() {
        let everything: [Symbol] = ["ANONYMOUS", "PLAIN", "EXTERNAL", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        XCTAssertEqual(chosen(all, offered: everything), "SCRAM-SHA-512")
        XCTAssertEqual(chosen(all.reversed(), offered: everything.reversed()), "SCRAM-SHA-512")
        XCTAssertEqual(chosen(all, offered: ["ANONYMOUS", "PLAIN", "SCRAM-SHA-256"]), "SCRAM-SHA-256")
        XCTAssertEqual(chosen(all, offered: ["ANONYMOUS", "PLAIN"]), "PLAIN")
        XCTAssertEqual(chosen(all, offered: ["ANONYMOUS"]), "ANONYMOUS")
        XCTAssertNil(chosen(all, offered: ["GSSAPI"]))
        XCTAssertNil(chosen([], offered: everything))
        // Only what we configured: a client with PLAIN and ANONYMOUS never picks SCRAM.
        XCTAssertEqual(chosen([.anonymous(), .plain(username: "u", password: "p")], offered: everything), "PLAIN")
        // Between equals (PLAIN, EXTERNAL), the first we listed.
        XCTAssertEqual(chosen([.external(), .plain(username: "u", password: "p")], offered: everything), "EXTERNAL")
        XCTAssertEqual(chosen([.plain(username: "u", password: "p"), .external()], offered: everything), "PLAIN")
    }

    func testOverTheWire() throws {
        // The server lists ANONYMOUS first; the client lists ANONYMOUS first; SCRAM-SHA-512 wins.
        let users = try SASLUsersFile(parsing: SASLUsersFile.entries(username: "u", password: "p").joined(separator: "\n"))
        var options = SASLServerOptions(mechanisms: [.anonymous, .plain, .scramSHA256, .scramSHA512], credentials: users)
        options.allowPlainWithoutTLS = true
        var s = DriverConfiguration(containerID: "server")
        s.saslServer = try options.configuration()
        var c = DriverConfiguration(containerID: "client")
        c.saslClient = SASLClientConfiguration(mechanisms: all)
        let p = DriverPair(client: c, server: s)
        p.client.connection.open()
        p.pump()
        XCTAssertNil(p.firstTransportError)
        XCTAssertEqual(p.client.saslMechanism, "SCRAM-SHA-512")
        XCTAssertEqual(p.server.authenticatedIdentity, "u")
    }

    func testClientConfigurationByName() throws {
        let c = try SASLClientConfiguration(mechanismNames: ["anonymous", "PLAIN,scram-sha-256"], username: "u", password: "p")
        XCTAssertEqual(c.mechanisms.map(\.name), ["ANONYMOUS", "PLAIN", "SCRAM-SHA-256"])
        XCTAssertEqual(c.choose(offered: ["ANONYMOUS", "PLAIN", "SCRAM-SHA-256"])?.name, "SCRAM-SHA-256")
        XCTAssertThrowsError(try SASLClientConfiguration(mechanismNames: ["PLAIN", "DIGEST-MD5"], username: "u", password: "p")) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .unknownMechanism("DIGEST-MD5"))
        }
        XCTAssertThrowsError(try SASLClientConfiguration(mechanismNames: ["SCRAM-SHA-512"], username: nil, password: nil)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .missingUsername("SCRAM-SHA-512"))
        }
        XCTAssertThrowsError(try SASLClientConfiguration(mechanismNames: [""], username: nil, password: nil)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .noMechanism)
        }
        XCTAssertEqual(try SASLClientConfiguration(mechanismNames: ["EXTERNAL", "ANONYMOUS"], username: nil, password: nil)
                        .mechanisms.map(\.name), ["EXTERNAL", "ANONYMOUS"])
        XCTAssertEqual(SASLClientConfiguration.password(username: "u", password: "p").mechanisms.map(\.name),
                       ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
    }
}

import AMQPEngine
@testable import AMQPSASL
import XCTest

/// SCRAM against published vectors: RFC 7677 §3's full SCRAM-SHA-256 exchange (user "user",
/// password "pencil"), and the same exchange over SHA-512, whose values were made by scramp 1.5.0
/// (PyPI; its SHA-256 run reproduces RFC 7677's to the byte) with the RFC's nonces and salt.
final class SCRAMVectorTests: XCTestCase {
    struct Vector {
        let hash: SCRAMHash
        let clientFirst, serverFirst, clientFinal, serverFinal: String
        let storedKey, serverKey: String
    }

    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let salt = "W22ZaJ0SNY7soEsUEjb6gQ=="

    static let sha256 = Vector(
        hash: .sha256,
        clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        storedKey: "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        serverKey: "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")

    static let sha512 = Vector(
        hash: .sha512,
        clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
        serverFinal: "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
        storedKey: "6AAub3065EYRmyFpM2RNwqK+eGnrkYuEWbXn19LsEmBqzu8QaCXNc1FwpnX9NhH2hK/60dzj9DoO5DvVkOHbvg==",
        serverKey: "jZHbYjC1aHh0/hKbxyBuGFjDrgjgKTT1esA7awWiKcRZ0o/0b1yWEebBeSVkkCFewf91nLDfKF24mvD5nmE6rA==")

    static func credential(_ v: Vector) throws -> SCRAMCredential {
        try SCRAMCredential(password: "pencil", hash: v.hash, salt: Base64.decode(salt)!, iterations: 4096)
    }

    func testCredentialFromPassword() throws {
        for v in [Self.sha256, Self.sha512] {
            let c = try Self.credential(v)
            XCTAssertEqual(Base64.encode(c.storedKey), v.storedKey, "\(v.hash)")
            XCTAssertEqual(Base64.encode(c.serverKey), v.serverKey, "\(v.hash)")
            XCTAssertTrue(c.verifies(password: "pencil"))
            XCTAssertFalse(c.verifies(password: "pencil "))
            XCTAssertFalse(c.verifies(password: ""))
        }
    }

    func testClientProducesTheVector() throws {
        for v in [Self.sha256, Self.sha512] {
            let client = SCRAMClientExchange(hash: v.hash, username: "user", password: "pencil", nonce: Self.clientNonce)
            XCTAssertEqual(try client.initialResponse().map { String(decoding: $0, as: UTF8.self) }, v.clientFirst)
            let final = try client.respond(to: Array(v.serverFirst.utf8))
            XCTAssertEqual(String(decoding: final, as: UTF8.self), v.clientFinal, "\(v.hash)")
            XCTAssertNoThrow(try client.verifyOutcome(Array(v.serverFinal.utf8)))
        }
    }

    func testServerProducesTheVector() throws {
        for v in [Self.sha256, Self.sha512] {
            let store = try SASLUsersFile(parsing: SASLUsersFile.line(username: "user", credential: Self.credential(v)))
            let server = SCRAMServerExchange(hash: v.hash, store: store, nonce: Self.serverNonce)
            XCTAssertEqual(String(decoding: try server.receiveClientFirst(Array(v.clientFirst.utf8)), as: UTF8.self), v.serverFirst)
            let (identity, final) = try server.receiveClientFinal(Array(v.clientFinal.utf8))
            XCTAssertEqual(identity, "user")
            XCTAssertEqual(String(decoding: final, as: UTF8.self), v.serverFinal, "\(v.hash)")
        }
    }

    func testClientRefusesAWrongServerSignature() throws {
        let v = Self.sha256
        let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.initialResponse()
        _ = try client.respond(to: Array(v.serverFirst.utf8))
        // The SHA-512 exchange's signature, cut to 32 bytes: well-formed, wrong.
        let wrong = "v=" + Base64.encode(Array(Base64.decode(Self.sha512.serverFinal.dropFirst(2))!.prefix(32)))
        XCTAssertThrowsError(try client.verifyOutcome(Array(wrong.utf8))) {
            XCTAssertEqual(($0 as? SASLMechanismError)?.description,
                           "the server's signature does not verify: it does not know our credential, or someone stands between us")
        }
    }

    func testClientRefusesAMissingOrErrorServerFinal() throws {
        for data: [UInt8]? in [nil, [], Array("e=invalid-proof".utf8), Array("v=not base64".utf8), Array("x".utf8)] {
            let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
            _ = try client.initialResponse()
            _ = try client.respond(to: Array(Self.sha256.serverFirst.utf8))
            XCTAssertThrowsError(try client.verifyOutcome(data), "\(String(describing: data))")
        }
    }

    func testClientAcceptsServerFinalAsAChallenge() throws {
        let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.initialResponse()
        _ = try client.respond(to: Array(Self.sha256.serverFirst.utf8))
        XCTAssertEqual(try client.respond(to: Array(Self.sha256.serverFinal.utf8)), [])
        XCTAssertNoThrow(try client.verifyOutcome(nil))
    }

    func testClientRefusesBadServerFirst() throws {
        let n = Self.clientNonce
        let cases: [(String, SCRAMError.Kind)] = [
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", .iterationCount),      // under RFC 7677's 4096
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001", .iterationCount),
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", .malformed),
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096", .malformed),
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", .malformed),
            ("r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1234567890123", .malformed),
            ("r=\(n),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .nonceMismatch),           // no server part
            ("r=other\(n),s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .nonceMismatch),
            ("r=\(n)xyz,s=not*base64,i=4096", .malformed),
            ("r=\(n)xyz,s=,i=4096", .malformed),
            ("r=\(n)xyz,i=4096", .malformed),
            ("s=W22ZaJ0SNY7soEsUEjb6gQ==,r=\(n)xyz,i=4096", .malformed),
            ("m=ext,r=\(n)xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .extensionNotSupported),
            ("e=unknown-user", .serverRefused),
            ("", .malformed),
            ("r=\(n)xyz,,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .malformed),
        ]
        for (message, kind) in cases {
            let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: n)
            let bare = "n=user,r=\(n)"
            _ = try client.clientFirst()
            XCTAssertThrowsError(try client.clientFinal(serverFirst: Array(message.utf8), bare: bare, nonce: n,
                                                        password: Array("pencil".utf8)), message) {
                XCTAssertEqual(($0 as? SCRAMError)?.kind, kind, "\(message): \($0)")
            }
        }
        // Not UTF-8.
        let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: n)
        _ = try client.initialResponse()
        XCTAssertThrowsError(try client.respond(to: [0x72, 0x3D, 0xFF]))
        XCTAssertThrowsError(try client.respond(to: Array(Self.sha256.serverFirst.utf8)), "failed exchanges stay failed")
    }

    func testClientAcceptsExtensionsAfterTheRequiredAttributes() throws {
        let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.initialResponse()
        XCTAssertNoThrow(try client.respond(to: Array((Self.sha256.serverFirst + ",x=future").utf8)))
    }

    func testClientEscapesTheUsername() throws {
        let client = SCRAMClientExchange(hash: .sha256, username: "a,b=c", password: "p", nonce: "abc")
        XCTAssertEqual(try client.initialResponse().map { String(decoding: $0, as: UTF8.self) }, "n,,n=a=2Cb=3Dc,r=abc")
    }

    func testClientRefusesWhatSASLprepRefuses() {
        let client = SCRAMClientExchange(hash: .sha256, username: "us\u{7}er", password: "p")
        XCTAssertThrowsError(try client.initialResponse()) {
            XCTAssertEqual(($0 as? SASLMechanismError)?.description,
                           "the username or password: SASLprep: U+0007 is prohibited (RFC 4013 §2.3)")
        }
        XCTAssertThrowsError(try SCRAMClientExchange(hash: .sha256, username: "", password: "p").initialResponse())
    }

    func testFreshNoncePerExchange() throws {
        let mechanism = SASLClientMechanism.scramSHA256(username: "user", password: "pencil")
        guard case .exchange(let name, let start) = mechanism else { return XCTFail("\(mechanism)") }
        XCTAssertEqual(name, "SCRAM-SHA-256")
        let a = try start().initialResponse().map { String(decoding: $0, as: UTF8.self) } ?? ""
        let b = try start().initialResponse().map { String(decoding: $0, as: UTF8.self) } ?? ""
        XCTAssertTrue(a.hasPrefix("n,,n=user,r="))
        XCTAssertEqual(a.count, "n,,n=user,r=".count + 32, "24 random bytes in base64")
        XCTAssertNotEqual(a, b)
    }

    func testMessagesOutOfTurn() throws {
        let client = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
        XCTAssertThrowsError(try client.verifyOutcome(Array(Self.sha256.serverFinal.utf8)), "an outcome before anything")
        let c2 = SCRAMClientExchange(hash: .sha256, username: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try c2.initialResponse()
        XCTAssertThrowsError(try c2.verifyOutcome(Array(Self.sha256.serverFinal.utf8)), "an outcome before the challenge")
    }
}

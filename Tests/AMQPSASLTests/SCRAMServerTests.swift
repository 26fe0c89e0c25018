import AMQPEngine
@testable import AMQPSASL
import XCTest

/// The SCRAM server refuses every malformed, replayed or tampered message with a clear reason,
/// and never reveals whether a user exists.
final class SCRAMServerTests: XCTestCase {
    typealias V = SCRAMVectorTests

    private func store(_ hashes: [SCRAMHash] = [.sha256, .sha512]) throws -> SASLUsersFile {
        try SASLUsersFile(parsing: hashes.map { SASLUsersFile.line(username: "user", credential: try SCRAMCredential(
            password: "pencil", hash: $0, salt: Base64.decode(V.salt)!, iterations: 4096)) }.joined(separator: "\n"))
    }

    private func server(_ hash: SCRAMHash = .sha256, nonce: String? = V.serverNonce) throws -> SCRAMServerExchange {
        SCRAMServerExchange(hash: hash, store: try store(), nonce: nonce)
    }

    private func assertRefused(_ kind: SCRAMError.Kind, _ body: () throws -> Void, _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) {
            XCTAssertEqual(($0 as? SCRAMError)?.kind, kind, "\(what): \($0)", file: file, line: line)
        }
    }

    func testMalformedClientFirstMessages() throws {
        let cases: [(String, SCRAMError.Kind)] = [
            ("", .malformed),
            ("n", .malformed),
            ("n,", .malformed),
            ("x,,n=user,r=abc", .malformed),
            ("p=tls-unique,,n=user,r=abc", .channelBindingNotSupported),
            ("p=tls-server-end-point,,n=user,r=abc", .channelBindingNotSupported),
            ("n,,r=abc,n=user", .malformed),
            ("n,,n=user", .malformed),
            ("n,,n=,r=abc", .malformed),
            ("n,,n=us=2Xer,r=abc", .malformed),           // = not followed by 2C or 3D
            ("n,,n=user=,r=abc", .malformed),
            ("n,,n=user,r=", .malformed),
            ("n,,n=user,r=a b", .malformed),               // a nonce is printable ASCII, no space
            ("n,,n=user,r=\u{e9}", .malformed),
            ("n,,m=ext,n=user,r=abc", .extensionNotSupported),
            ("n,,n=user,r=abc,", .malformed),
            ("n,,n=user,,r=abc", .malformed),
            ("n,,n=us\u{7}er,r=abc", .invalidString),     // SASLprep: a control character
            ("n,x,n=user,r=abc", .malformed),              // an authzid is a=...
            ("n,a=other,n=user,r=abc", .authorizationNotSupported),
            ("n,a=us=ZZer,n=user,r=abc", .malformed),
            ("n,,=user,r=abc", .malformed),
            ("n,,nn=user,r=abc", .malformed),
            ("n,,n=user,\u{301}r=abc", .malformed),      // a comma and a combining mark still separate
            ("n,,n=us=\u{301}2Cer,r=abc", .malformed),    // and an = so followed is not an escape
            ("n\u{301},,n=user,r=abc", .malformed),
        ]
        for (message, kind) in cases {
            let s = try server()
            assertRefused(kind, { _ = try s.receiveClientFirst(Array(message.utf8)) }, message)
        }
        assertRefused(.malformed, { _ = try self.server().receiveClientFirst([0x6E, 0x2C, 0x2C, 0xC3]) }, "not UTF-8")
        assertRefused(.malformed, { _ = try self.server().receiveClientFirst(Array("n,,n=user\u{0},r=abc".utf8)) }, "NUL")
    }

    func testAcceptedClientFirstVariants() throws {
        // y: the client could bind but thinks we cannot (RFC 5802 §6); an authzid naming the user
        // itself; extensions after the nonce.
        for first in ["y,,n=user,r=abc", "n,a=user,n=user,r=abc", "n,,n=user,r=abc,x=ext"] {
            let s = try server()
            XCTAssertEqual(String(decoding: try s.receiveClientFirst(Array(first.utf8)), as: UTF8.self),
                           "r=abc\(V.serverNonce),s=\(V.salt),i=4096", first)
        }
    }

    func testYFlagRoundTrip() throws {
        // With y, the channel binding repeats "y,," (base64 eSws).
        let s = try server()
        let serverFirst = String(decoding: try s.receiveClientFirst(Array("y,,n=user,r=abc".utf8)), as: UTF8.self)
        let final = try clientFinal(serverFirst: serverFirst, bare: "n=user,r=abc", nonce: "abc", binding: "eSws")
        XCTAssertEqual(try s.receiveClientFinal(Array(final.utf8)).identity, "user")
    }

    /// client-final-message as a correct client would send it, with `binding` as c=.
    private func clientFinal(serverFirst: String, bare: String, nonce: String, password: String = "pencil",
                             binding: String = "biws", hash: SCRAMHash = .sha256) throws -> String {
        let full = String(serverFirst.split(separator: ",")[0].dropFirst(2))
        let keys = try SCRAMKeys(hash: hash, password: Array(password.utf8), salt: Base64.decode(V.salt)!, iterations: 4096)
        let withoutProof = "c=\(binding),r=\(full)"
        let auth = Array("\(bare),\(serverFirst),\(withoutProof)".utf8)
        let proof = zip(keys.clientKey, try hash.hmac(key: keys.storedKey, auth)).map { $0 ^ $1 }
        return "\(withoutProof),p=\(Base64.encode(proof))"
    }

    func testMalformedOrTamperedClientFinalMessages() throws {
        let good = V.sha256.clientFinal
        let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        let flipped = Base64.encode(Base64.decode(proof)!.enumerated().map { $0.offset == 0 ? $0.element ^ 1 : $0.element })
        let cases: [(String, SCRAMError.Kind)] = [
            ("", .malformed),
            ("c=biws,r=\(nonce)", .malformed),                                  // no proof
            ("c=biws,r=\(nonce),p=", .malformed),
            ("c=biws,r=\(nonce),p=not base64!", .malformed),
            ("c=biws,r=\(nonce),p=AAAA", .malformed),                            // a proof of 3 bytes
            ("r=\(nonce),c=biws,p=\(proof)", .malformed),
            ("c=biws,p=\(proof)", .malformed),
            ("c=b!ws,r=\(nonce),p=\(proof)", .malformed),
            ("c=eSws,r=\(nonce),p=\(proof)", .channelBindingMismatch),            // "y,," for our "n,,"
            ("c=cD10bHMtdW5pcXVlLCw=,r=\(nonce),p=\(proof)", .channelBindingMismatch),
            ("c=biws,r=\(nonce)x,p=\(proof)", .nonceMismatch),
            ("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=\(proof)", .nonceMismatch),
            ("c=biws,r=\(nonce),p=\(flipped)", .invalidProof),                    // one bit of the proof
            ("c=biws,r=\(nonce),x=added,p=\(proof)", .invalidProof),              // the signed text changed
            ("m=x,r=\(nonce),p=\(proof)", .extensionNotSupported),
        ]
        for (message, kind) in cases {
            let s = try server()
            _ = try s.receiveClientFirst(Array(V.sha256.clientFirst.utf8))
            assertRefused(kind, { _ = try s.receiveClientFinal(Array(message.utf8)) }, message)
        }
        // The vector itself passes, and only once.
        let s = try server()
        _ = try s.receiveClientFirst(Array(V.sha256.clientFirst.utf8))
        XCTAssertEqual(try s.receiveClientFinal(Array(good.utf8)).identity, "user")
        assertRefused(.unexpectedMessage, { _ = try s.receiveClientFinal(Array(good.utf8)) }, "the final again")
        assertRefused(.unexpectedMessage, { _ = try s.receiveClientFirst(Array(V.sha256.clientFirst.utf8)) }, "a first again")
    }

    func testNonceComparedByteForByte() throws {
        // "K" and U+212A KELVIN SIGN are canonically equivalent, so String's == takes one for the other.
        let s = try server(nonce: "K")
        _ = try s.receiveClientFirst(Array("n,,n=user,r=abc".utf8))
        assertRefused(.nonceMismatch, { _ = try s.receiveClientFinal(Array("c=biws,r=abc\u{212A},p=\(Base64.encode([UInt8](repeating: 0, count: 32)))".utf8)) },
                      "KELVIN SIGN")
    }

    func testFinalBeforeFirstIsRefused() throws {
        let s = try server()
        assertRefused(.unexpectedMessage, { _ = try s.receiveClientFinal(Array(V.sha256.clientFinal.utf8)) }, "final first")
    }

    func testReplayedFinalMessageIsRefused() throws {
        // A recorded exchange's client-final, replayed against a new exchange: the server's nonce
        // is fresh, so the nonce no longer matches.
        let s = try server(nonce: nil)
        let serverFirst = String(decoding: try s.receiveClientFirst(Array(V.sha256.clientFirst.utf8)), as: UTF8.self)
        XCTAssertTrue(serverFirst.hasPrefix("r=\(V.clientNonce)"))
        XCTAssertFalse(serverFirst.hasPrefix("r=\(V.clientNonce)\(V.serverNonce)"))
        assertRefused(.nonceMismatch, { _ = try s.receiveClientFinal(Array(V.sha256.clientFinal.utf8)) }, "replay")
    }

    func testWrongPassword() throws {
        let s = try server()
        let serverFirst = String(decoding: try s.receiveClientFirst(Array("n,,n=user,r=abc".utf8)), as: UTF8.self)
        let final = try clientFinal(serverFirst: serverFirst, bare: "n=user,r=abc", nonce: "abc", password: "pencil2")
        XCTAssertThrowsError(try s.receiveClientFinal(Array(final.utf8))) {
            XCTAssertEqual(($0 as? SCRAMError)?.kind, .invalidProof)
            XCTAssertEqual(($0 as? SCRAMError)?.description, "the proof of \"user\" does not verify: a wrong password")
        }
    }

    func testUnknownUserLooksLikeAKnownOne() throws {
        // The same shape of server-first (salt length, iterations) as a real user, the same salt
        // for the same name every time, a different one for another name; fails at the end.
        let a1 = try server(nonce: "S").receiveClientFirst(Array("n,,n=mallory,r=abc".utf8))
        let a2 = try server(nonce: "S").receiveClientFirst(Array("n,,n=mallory,r=abc".utf8))
        let b = try server(nonce: "S").receiveClientFirst(Array("n,,n=trudy,r=abc".utf8))
        let real = try server(nonce: "S").receiveClientFirst(Array("n,,n=user,r=abc".utf8))
        XCTAssertEqual(a1, a2)
        XCTAssertNotEqual(a1, b)
        let fields = { (m: [UInt8]) in String(decoding: m, as: UTF8.self).split(separator: ",").map(String.init) }
        XCTAssertEqual(fields(a1)[2], "i=4096")
        XCTAssertEqual(fields(a1)[1].count, fields(real)[1].count, "a decoy salt is as long as a real one")
        XCTAssertNotEqual(fields(a1)[1], fields(real)[1])

        let s = try server()
        let serverFirst = String(decoding: try s.receiveClientFirst(Array("n,,n=mallory,r=abc".utf8)), as: UTF8.self)
        let final = try clientFinal(serverFirst: serverFirst, bare: "n=mallory,r=abc", nonce: "abc")
        XCTAssertThrowsError(try s.receiveClientFinal(Array(final.utf8))) {
            XCTAssertEqual(($0 as? SCRAMError)?.kind, .invalidProof)
            XCTAssertEqual(($0 as? SCRAMError)?.description, "unknown user \"mallory\"")
        }
    }

    func testUserWithoutACredentialOfThisHashIsUnknown() throws {
        let s = SCRAMServerExchange(hash: .sha512, store: try store([.sha256]), nonce: "S")
        _ = try s.receiveClientFirst(Array("n,,n=user,r=abc".utf8))
        assertRefused(.invalidProof, { _ = try s.receiveClientFinal(Array("c=biws,r=abcS,p=\(Base64.encode([UInt8](repeating: 1, count: 64)))".utf8)) },
                      "no SHA-512 credential")
    }

    func testEscapedUsername() throws {
        let line = SASLUsersFile.line(username: "a,b=c", credential: try SCRAMCredential(password: "pencil", hash: .sha256,
                                                                                          salt: Base64.decode(V.salt)!))
        let s = SCRAMServerExchange(hash: .sha256, store: try SASLUsersFile(parsing: line), nonce: "S")
        let serverFirst = String(decoding: try s.receiveClientFirst(Array("n,,n=a=2Cb=3Dc,r=abc".utf8)), as: UTF8.self)
        let final = try clientFinal(serverFirst: serverFirst, bare: "n=a=2Cb=3Dc,r=abc", nonce: "abc")
        XCTAssertEqual(try s.receiveClientFinal(Array(final.utf8)).identity, "a,b=c")
    }

    func testMessageGrammarHelpers() {
        XCTAssertEqual(SCRAMMessage.escape("=,x"), "=3D=2Cx")
        XCTAssertEqual(SCRAMMessage.unescape("=3D=2Cx"), "=,x")
        XCTAssertNil(SCRAMMessage.unescape("=2"))
        XCTAssertNil(SCRAMMessage.unescape("=2c"), "upper case only (RFC 5802 §5.1)")
        XCTAssertEqual(SCRAMMessage.iterationCount("4096"), 4096)
        XCTAssertNil(SCRAMMessage.iterationCount("+4096"))
        XCTAssertNil(SCRAMMessage.iterationCount(""))
        XCTAssertTrue(SCRAMMessage.isValidNonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"))
        XCTAssertFalse(SCRAMMessage.isValidNonce("a,b"))
    }

    func testBase64() {
        XCTAssertEqual(Base64.encode([]), "")
        XCTAssertEqual(Base64.encode(Array("f".utf8)), "Zg==")
        XCTAssertEqual(Base64.encode(Array("fo".utf8)), "Zm8=")
        XCTAssertEqual(Base64.encode(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(Base64.decode("Zm9vYmE="), Array("fooba".utf8))
        XCTAssertEqual(Base64.decode(""), [])
        for bad in ["Zg=", "Zg", "Zh==", "Zm9=", "Z===", "=Zg=", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm9*"] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
        var bytes: [UInt8] = []
        for i in 0..<300 {
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
            bytes.append(UInt8(truncatingIfNeeded: i &* 97))
        }
    }
}

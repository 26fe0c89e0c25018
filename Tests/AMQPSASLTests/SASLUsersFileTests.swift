import AMQPEngine
@testable import AMQPSASL
import Foundation
import XCTest

/// The broker's users file: the format, its errors with line numbers, and making entries.
final class SASLUsersFileTests: XCTestCase {
    typealias V = SCRAMVectorTests

    /// RFC 7677's user, in the file's format, byte for byte.
    static let userLine = "user:SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

    func testLineOfTheRFCCredential() throws {
        let credential = try SCRAMCredential(password: "pencil", hash: .sha256, salt: Base64.decode(V.salt)!)
        XCTAssertEqual(SASLUsersFile.line(username: "user", credential: credential), Self.userLine)
        let file = try SASLUsersFile(parsing: Self.userLine)
        XCTAssertEqual(file.scramCredential(for: "user", hash: .sha256), credential)
        XCTAssertNil(file.scramCredential(for: "user", hash: .sha512))
        XCTAssertNil(file.scramCredential(for: "User", hash: .sha256))
        XCTAssertTrue(file.verifyPlain(username: "user", password: "pencil"))
        XCTAssertFalse(file.verifyPlain(username: "user", password: "Pencil"))
        XCTAssertFalse(file.verifyPlain(username: "nobody", password: "pencil"))
    }

    func testEntriesFromAPassword() throws {
        let lines = try SASLUsersFile.entries(username: "alice", password: "wonderland")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("alice:SCRAM-SHA-512:4096:"))
        XCTAssertTrue(lines[1].hasPrefix("alice:SCRAM-SHA-256:4096:"))
        for line in lines {
            XCTAssertFalse(line.contains("wonderland"), "never the password")
            let fields = line.split(separator: ":")
            XCTAssertEqual(fields.count, 6)
            XCTAssertEqual(Base64.decode(fields[3])?.count, 16, "a 16-byte salt")
        }
        XCTAssertNotEqual(try SASLUsersFile.entries(username: "alice", password: "wonderland"), lines, "a new salt each time")
        let file = try SASLUsersFile(parsing: "# users\n\n" + lines.joined(separator: "\r\n") + "\n")
        XCTAssertEqual(file.usernames, ["alice"])
        for hash in SCRAMHash.allCases {
            XCTAssertEqual(file.scramCredential(for: "alice", hash: hash)?.verifies(password: "wonderland"), true)
        }
        XCTAssertTrue(file.verifyPlain(username: "alice", password: "wonderland"))
        XCTAssertEqual(try SASLUsersFile.entries(username: "bob", password: "x", hashes: [.sha256], iterations: 5000).map {
            $0.split(separator: ":")[2] }, ["5000"])
    }

    func testEntryErrors() {
        XCTAssertThrowsError(try SASLUsersFile.entries(username: "alice", password: "x", iterations: 4095)) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .usersFile)
        }
        XCTAssertThrowsError(try SASLUsersFile.entries(username: "", password: "x")) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .invalidString)
        }
        XCTAssertThrowsError(try SASLUsersFile.entries(username: "al\u{7}ice", password: "x"))
        XCTAssertThrowsError(try SASLUsersFile.entries(username: "alice", password: "x\u{0}")) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .invalidString)
        }
    }

    func testUsernamesAreEscaped() throws {
        let lines = try SASLUsersFile.entries(username: "a:b%c#d", password: "p", hashes: [.sha256])
        XCTAssertTrue(lines[0].hasPrefix("a%3Ab%25c%23d:SCRAM-SHA-256:"), lines[0])
        let file = try SASLUsersFile(parsing: lines[0])
        XCTAssertEqual(file.usernames, ["a:b%c#d"])
        XCTAssertNotNil(file.scramCredential(for: "a:b%c#d", hash: .sha256))
        XCTAssertEqual(SASLUsersFile.unescape("x%0a%0D"), "x\n\r")
        XCTAssertNil(SASLUsersFile.unescape("x%0"))
        XCTAssertNil(SASLUsersFile.unescape("x%zz"))
        XCTAssertNil(SASLUsersFile.unescape("%FF"), "not UTF-8")
        // SASLprep maps the name as SCRAM clients do: a soft hyphen disappears.
        XCTAssertEqual(try SASLUsersFile(parsing: try SASLUsersFile.entries(username: "jo\u{AD}e", password: "p", hashes: [.sha256])[0]).usernames, ["joe"])
    }

    func testParseErrorsNameTheLine() {
        let good = Self.userLine
        let fields = good.split(separator: ":").map(String.init)
        func with(_ i: Int, _ value: String) -> String {
            var f = fields
            f[i] = value
            return f.joined(separator: ":")
        }
        let cases: [(String, String)] = [
            ("user:SCRAM-SHA-256:4096", "3 fields, not 6 (username:mechanism:iterations:salt:stored-key:server-key)"),
            (good + ":extra", "7 fields, not 6 (username:mechanism:iterations:salt:stored-key:server-key)"),
            (with(0, ""), "the username is empty, or has a % not followed by two hex digits, or is not UTF-8"),
            (with(0, "a%4"), "the username is empty, or has a % not followed by two hex digits, or is not UTF-8"),
            (with(0, "a\u{7}b"), "the username: SASLprep: U+0007 is prohibited (RFC 4013 §2.3)"),
            (with(1, "SCRAM-SHA-1"), "unknown mechanism \"SCRAM-SHA-1\" (SCRAM-SHA-512 or SCRAM-SHA-256)"),
            (with(1, "PLAIN"), "unknown mechanism \"PLAIN\" (SCRAM-SHA-512 or SCRAM-SHA-256)"),
            (with(2, "4095"), "the iteration count \"4095\" is not a number from 4096 to 10000000"),
            (with(2, "many"), "the iteration count \"many\" is not a number from 4096 to 10000000"),
            (with(3, "***"), "the salt is not base64"),
            (with(3, ""), "the salt is not base64"),
            (with(4, "AAAA"), "the stored key is not 32 bytes of base64"),
            (with(5, fields[4] + "A"), "the server key is not 32 bytes of base64"),
            (good + "\n" + good, "a second SCRAM-SHA-256 line for user"),
        ]
        for (text, why) in cases {
            let lineNumber = text.split(separator: "\n").count + 2
            XCTAssertThrowsError(try SASLUsersFile(parsing: "# header\n\n" + text)) {
                XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .usersFile)
                XCTAssertEqual("\($0)", "users file, line \(lineNumber): \(why)")
            }
        }
        XCTAssertNoThrow(try SASLUsersFile(parsing: ""))
        XCTAssertNoThrow(try SASLUsersFile(parsing: "# only a comment\n   \n"))
    }

    func testReadsAFile() throws {
        let path = NSTemporaryDirectory() + "amqp-users-\(getpid())"
        defer { unlink(path) }
        let lines = try SASLUsersFile.entries(username: "alice", password: "wonderland") + [Self.userLine]
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let file = try SASLUsersFile(contentsOfFile: path)
        XCTAssertEqual(file.usernames, ["alice", "user"])
        XCTAssertThrowsError(try SASLUsersFile(contentsOfFile: path + ".missing")) {
            XCTAssertEqual(($0 as? SASLConfigurationError)?.kind, .usersFile)
            XCTAssertEqual("\($0)", "users file \(path).missing: cannot open: No such file or directory")
        }
        try "x:y".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SASLUsersFile(contentsOfFile: path)) {
            XCTAssertEqual("\($0)", "\(path): users file, line 1: 2 fields, not 6 (username:mechanism:iterations:salt:stored-key:server-key)")
        }
    }

    func testDecoysStayTheSameForTheSameFile() throws {
        let text = try SASLUsersFile.entries(username: "alice", password: "w", iterations: 8192).joined(separator: "\n")
        let a = try SASLUsersFile(parsing: text), b = try SASLUsersFile(parsing: text)
        XCTAssertEqual(a.decoy(for: "mallory", hash: .sha256).salt, b.decoy(for: "mallory", hash: .sha256).salt, "the same across restarts")
        XCTAssertNotEqual(a.decoy(for: "mallory", hash: .sha256).salt, a.decoy(for: "trudy", hash: .sha256).salt)
        XCTAssertNotEqual(a.decoy(for: "mallory", hash: .sha256).salt, a.decoy(for: "mallory", hash: .sha512).salt)
        XCTAssertEqual(a.decoy(for: "mallory", hash: .sha512).iterations, 8192, "the count the file's users have")
        XCTAssertEqual(a.decoy(for: "mallory", hash: .sha256).salt.count, 16)
    }
}

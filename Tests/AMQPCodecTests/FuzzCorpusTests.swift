import SharedFixtures
import XCTest
@testable import AMQPCodec

/// Every input from Proton's message-decode fuzzing decodes to a message or throws; none traps.
/// (A trap would kill the test process, so reaching the assertions is the test.)
final class FuzzCorpusTests: XCTestCase {
    func run(_ dir: String) throws -> (decoded: Int, rejected: Int) {
        let url = try SharedFixtures.require("test-vectors/fuzz-message-decode/\(dir)")
        var decoded = 0, rejected = 0
        for file in try SharedFixtures.files(in: url) {
            let bytes = try SharedFixtures.bytes(file)
            do {
                let m = try Message(decoding: bytes)
                decoded += 1
                // What decodes must re-encode to something that decodes the same way.
                let encoded = m.encoded
                XCTAssertEqual(encoded.count, m.encodedSize, file.lastPathComponent)
                let again = try Message(decoding: encoded)
                XCTAssertEqual(again.encoded, encoded, file.lastPathComponent)
            } catch let e {
                rejected += 1
                XCTAssertFalse(e.description.isEmpty)
                XCTAssertLessThanOrEqual(e.offset, bytes.count, "\(file.lastPathComponent): \(e)")
            }
            // The same bytes as a stream of plain values must also decode or throw.
            var d = AMQPDecoder(bytes)
            while !d.isAtEnd {
                do { _ = try d.decodeValue() } catch { break }
            }
        }
        return (decoded, rejected)
    }

    func testCorpus() throws {
        let (decoded, rejected) = try run("corpus")
        // The corpus is mostly noise that Proton's fuzzer reached new code with; what matters is
        // that each input was handled, one way or the other.
        XCTAssertEqual(decoded + rejected, 312)
    }

    func testCrashInputs() throws {
        let (decoded, rejected) = try run("crash")
        XCTAssertEqual(decoded + rejected, 6)
    }
}

import SharedFixtures
import XCTest
@testable import AMQPCodec

/// Every input from Proton's message-decode fuzzing decodes to a message or throws; none traps.
/// Beyond not trapping, the outcome of each input is pinned: which decode (and re-encode to the
/// same bytes) and which are refused, with what error, so a decoder that starts accepting garbage
/// or refusing valid messages fails here.
final class FuzzCorpusTests: XCTestCase {
    /// The outcome of decoding one input: "decoded" or "<condition>: <kind> at <offset>".
    func outcomes(_ dir: String) throws -> [String: String] {
        let url = try SharedFixtures.require("test-vectors/fuzz-message-decode/\(dir)")
        var outcomes: [String: String] = [:]
        for file in try SharedFixtures.files(in: url) {
            let name = file.lastPathComponent
            let bytes = try SharedFixtures.bytes(file)
            do {
                let m = try Message(decoding: bytes)
                outcomes[name] = "decoded"
                // What decodes must re-encode to something that decodes the same way.
                let encoded = m.encoded
                XCTAssertEqual(encoded.count, m.encodedSize, name)
                let again = try Message(decoding: encoded)
                XCTAssertEqual(again.encoded, encoded, name)
            } catch let e {
                outcomes[name] = "\(e.condition): \(e.kind) at \(e.offset)"
                XCTAssertLessThanOrEqual(e.offset, bytes.count, "\(name): \(e)")
            }
            // The same bytes as a stream of plain values must also decode or throw.
            var d = AMQPDecoder(bytes)
            while !d.isAtEnd {
                do { _ = try d.decodeValue() } catch { break }
            }
        }
        return outcomes
    }

    func testCorpus() throws {
        let outcomes = try outcomes("corpus")
        XCTAssertEqual(outcomes.count, 312, "the corpus's inputs (../shared/README.md)")
        // The corpus is noise that Proton's fuzzer reached new code with: none of it decodes as a
        // message here, each for one of two reasons.
        var byError: [String: Int] = [:]
        for outcome in outcomes.values {
            // The condition, the kind and what it expected; not what was found, nor where.
            byError[String(outcome.split(separator: ", found:").first ?? ""), default: 0] += 1
        }
        XCTAssertEqual(byError, [
            "amqp:decode-error: unexpectedType(expected: \"descriptor (ulong or symbol)\"": 200,
            "amqp:decode-error: unexpectedType(expected: \"message section\"": 112,
        ])
    }

    func testCrashInputs() throws {
        let outcomes = try outcomes("crash")
        let section = "amqp:decode-error: unexpectedType(expected: \"message section\", found: \"array\") at 0"
        XCTAssertEqual(outcomes, [
            "5311329584807936": section,
            "5633695940083712": section,
            "5920119225057280": section,
            "6289534089166848": "amqp:decode-error: unexpectedType(expected: \"descriptor (ulong or symbol)\", found: \"described\") at 1",
            "crash-da39a3ee5e6b4b0d3255bfef95601890afd80709": "decoded",   // the empty input: a message with no sections
            "minimized-from-ac1dd1edf2357b0e4782088fa2bf80fdde832a43": section,
        ])
    }
}

import AMQPCodec
@testable import AMQPEngine
import SharedFixtures
import XCTest

/// Every input from Proton's connection-driver fuzzing, fed to a server-mode driver, ends with the
/// driver finished, with no trap, no hang and bounded output; and the way each ends is pinned: the
/// transport errors the driver reports while reading it, then after read-close.
final class DriverFuzzCorpusTests: XCTestCase {
    /// How a test hands an input to the driver.
    enum Reading {
        /// One `read` of the whole input.
        case whole
        /// `read(_: UnsafeRawBufferPointer)` of `n` bytes at a time, answering between reads.
        case inPlace(pieces: Int)
    }

    /// Per input: "<conditions while reading> | <conditions after read-close>".
    func outcomes(_ sub: String, reading: Reading = .whole) throws -> [String: String] {
        let dir = try SharedFixtures.require("test-vectors/fuzz-connection-driver/\(sub)")
        var outcomes: [String: String] = [:]
        for file in try SharedFixtures.files(in: dir) {
            let name = file.lastPathComponent
            let bytes = try SharedFixtures.bytes(file)
            let driver = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "fuzz"))
            var events = 0
            var errors: [String] = []
            func drain() {
                // Answer like a simple server: open what the peer opens, so more of the engine runs.
                while let e = driver.nextEvent() {
                    events += 1
                    switch e {
                    case .connectionRemoteOpen(let c): c.open()
                    case .sessionRemoteBegin(let s): s.begin()
                    case .linkRemoteOpen(let l): l.attach(); if l.role == .receiver { l.flow(credit: 10) }
                    case .delivery(let d): if !d.isPartial { d.accept() }
                    case .transportError(let error): errors.append(error.condition.rawValue)
                    default: break
                    }
                    if events >= 1_000_000 { return XCTFail("\(name): runaway events") }
                }
            }
            switch reading {
            case .whole:
                driver.read(bytes)
                drain()
            case .inPlace(let pieces):
                bytes.withUnsafeBytes { all in
                    var at = 0
                    while at < all.count && !driver.isTailClosed {
                        let n = min(pieces, all.count - at)
                        driver.read(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]))
                        drain()
                        at += n
                    }
                }
            }
            let whileReading = errors
            errors = []
            // Output is bounded by what the input asked for.
            XCTAssertLessThan(driver.pendingOutput.count, 16 * bytes.count + 4096, name)
            driver.writeDone(driver.pendingOutput.count)
            driver.readClose()
            drain()
            driver.writeDone(driver.pendingOutput.count)
            XCTAssertTrue(driver.isFinished, "\(name) did not finish after read-close")
            outcomes[name] = "\(whileReading.joined(separator: " ")) | \(errors.joined(separator: " "))"
        }
        return outcomes
    }

    /// Frames before a malformed one are taken before the framing error, so how the input is
    /// split into reads, and whether they are copied or decoded in place, changes nothing.
    func testOutcomesDoNotDependOnHowTheInputIsSplit() throws {
        for sub in ["corpus", "crash"] {
            let whole = try outcomes(sub)
            for pieces in [1, 7, 100, 4096] {
                let split = try outcomes(sub, reading: .inPlace(pieces: pieces))
                let differing = whole.keys.filter { whole[$0] != split[$0] }.sorted()
                XCTAssertEqual(differing, [], "\(sub) in pieces of \(pieces): \(differing.prefix(3).map { "\($0): \(whole[$0]!) against \(split[$0] ?? "-")" })")
            }
        }
    }

    func testCorpus() throws {
        let outcomes = try outcomes("corpus")
        XCTAssertEqual(outcomes.count, 505, "the corpus's inputs (../shared/README.md)")
        var counts: [String: Int] = [:]
        for outcome in outcomes.values { counts[outcome, default: 0] += 1 }
        // Most inputs carry a performative that does not decode, or one for a session or link
        // that does not exist; what breaks the framing counts only after every frame before it
        // (testOutcomesDoNotDependOnHowTheInputIsSplit). A few end without a close, which
        // read-close reports as connection-forced.
        XCTAssertEqual(counts, [
            "amqp:decode-error | ": 275,
            "amqp:not-found | ": 135,
            "amqp:connection:framing-error | ": 37,
            "amqp:not-implemented | ": 21,
            "amqp:invalid-field | ": 18,
            " | amqp:connection:forced": 18,
            "amqp:resource-limit-exceeded | ": 1,
        ])
    }

    /// The inputs that once crashed or leaked in Proton: each is refused with a protocol error
    /// while being read.
    func testCrashInputs() throws {
        let outcomes = try outcomes("crash")
        XCTAssertEqual(outcomes, [
            "5092805675319296": "amqp:decode-error | ",
            "5118747114209280": "amqp:illegal-state | ",
            "5209948879650816": "amqp:decode-error | ",
            "5691758789263360": "amqp:illegal-state | ",
            "5876966427525120": "amqp:decode-error | ",
            "5938290925502464": "amqp:illegal-state | ",
            "5972719047802880": "amqp:not-implemented | ",
            "6028258679193600": "amqp:decode-error | ",
            "6237435934539776": "amqp:illegal-state | ",
            "6266408911503360": "amqp:decode-error | ",
            "6301141305393152": "amqp:invalid-field | ",
            "6709525558394880": "amqp:decode-error | ",
            "crafted_from_minimized-from-ac1dd1edf2357b0e4782088fa2bf80fdde832a43": "amqp:not-found | ",
            "crash-04747e43010d2356171000758c07324ed284f38e": "amqp:decode-error | ",
            "crash-20240918": "amqp:decode-error | ",
            "crash-2742f06be9488858351814016c9987513ceec8b9": "amqp:decode-error | ",
            "crash-27e1553c53ea537b2af330ba3fbe69977f3dcc62": "amqp:decode-error | ",
            "crash-29d7bb9da4aed27c6caec297fad33cf880e36a2d": "amqp:decode-error | ",
            "crash-335cfb1ba6db42c8fa846ed78031489ee29f585a": "amqp:decode-error | ",
            "crash-383737d1ae7cb9e2d4b95cc70ba1424192c510b0": "amqp:decode-error | ",
            "crash-3bd47a6ef995c3753f3f64b613be1f493bc14a36": "amqp:decode-error | ",
            "crash-3ef8525af51bb7baf21094946b4264f96b7911a6": "amqp:connection:framing-error | ",
            "crash-423d0960fb9e5de8f38648d01496c2b6cc714b5f": "amqp:decode-error | ",
            "crash-48480935ddef21d91e40721dc817d0cc1dd362b8": "amqp:not-found | ",
            "crash-56e7d0e231b042433fb3e3d2fdb0a6c84d6d3230": "amqp:not-found | ",
            "crash-8ebe83e102fb91d923086dfc0b7e9d25503108ec": "amqp:decode-error | ",
            "crash-9baa46d068fe1f141f7ca902ff551148b3a67415": "amqp:not-found | ",
            "crash-bcc6e7efc2aef15b87941f7b8f094a5f85e3693f": "amqp:not-found | ",
            "crash-c5f02e16faba556f15f25ddb154ba0fa518d7a65": "amqp:decode-error | ",
            "crash-cacbe90ba41be2fb116697da7a90bfd716812c7b": "amqp:not-found | ",
            "crash-d16ad8ed5bb14a44fd9aaf065b7a0039fe76b045": "amqp:not-found | ",
            "crash-db6080532aff930b4fe2a5b10d4e2755602713dc": "amqp:not-found | ",
            "crash-f4746d4091c93455f5956220b4cac5f564f839b0": "amqp:decode-error | ",
            "leak-5052013914750976": "amqp:decode-error | ",
            "leak-5289430926098432": "amqp:decode-error | ",
            "leak-5289430926098432-1": "amqp:invalid-field | ",
            "leak-ccbdfccb91be2e40cebeafb39e6dd9e1ad8edb01": "amqp:decode-error | ",
            "leak-f1c681da874efe3b168d6bd00e1de53c5a3823ea": "amqp:not-found | ",
            "minimized-from-9a77cc2e90542c5aa1e55a86d2c9920febb0ad68": "amqp:decode-error | ",
        ])
    }
}

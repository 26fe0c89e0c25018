import AMQPCodec
@testable import AMQPEngine
import SharedFixtures
import XCTest

/// Every input from Proton's connection-driver fuzzing, fed to a server-mode driver, ends with the
/// driver finished (or waiting for more input), with no trap, no hang and bounded memory.
final class DriverFuzzCorpusTests: XCTestCase {
    func run(_ sub: String) throws -> (finished: Int, waiting: Int) {
        let dir = try SharedFixtures.require("test-vectors/fuzz-connection-driver/\(sub)")
        var finished = 0, waiting = 0
        for file in try SharedFixtures.files(in: dir) {
            let bytes = try SharedFixtures.bytes(file)
            let driver = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "fuzz"))
            var events = 0
            // Answer like a simple server: open what the peer opens, so more of the engine runs.
            driver.read(bytes)
            while let e = driver.nextEvent() {
                events += 1
                switch e {
                case .connectionRemoteOpen(let c): c.open()
                case .sessionRemoteBegin(let s): s.begin()
                case .linkRemoteOpen(let l): l.attach(); if l.role == .receiver { l.flow(credit: 10) }
                case .delivery(let d): if !d.isPartial { d.accept() }
                default: break
                }
                XCTAssertLessThan(events, 1_000_000, "\(file.lastPathComponent): runaway events")
            }
            // Output is bounded by what the input asked for.
            XCTAssertLessThan(driver.pendingOutput.count, 16 * bytes.count + 4096, file.lastPathComponent)
            driver.writeDone(driver.pendingOutput.count)
            driver.readClose()
            while driver.nextEvent() != nil {}
            driver.writeDone(driver.pendingOutput.count)
            if driver.isFinished { finished += 1 } else { waiting += 1 }
            XCTAssertTrue(driver.isFinished, "\(file.lastPathComponent) did not finish after read-close")
        }
        return (finished, waiting)
    }

    func testCorpus() throws {
        let (finished, waiting) = try run("corpus")
        XCTAssertEqual(finished + waiting, 505)
    }

    func testCrashInputs() throws {
        let (finished, waiting) = try run("crash")
        XCTAssertEqual(finished + waiting, 39)
    }
}

import Foundation
import SharedFixtures
import XCTest

/// Qpid Proton Python sends messages of every AMQP type and section, with bodies larger than a
/// frame, through `amqp broker` and receives them unchanged (proton_zoo.py), on each backend.
/// Scripts/test.sh runs it against Debian's Proton 0.37 and again against 0.40 from PyPI.
final class BrokerZooTests: XCTestCase {
    func testEveryTypeAndSectionArrivesUnchanged() throws {
        if let why = ProtonPython.unavailable {
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { return XCTFail(why) }
            throw XCTSkip(why)
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("proton_zoo.py").path
        for backend in TestBackends.names {
            let port = ProtonArrow.freePort()
            let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
            defer { broker.terminate() }
            XCTAssertTrue(ProtonArrow.waitForListener(port: port))
            let python = Process()
            let out = Pipe()
            python.executableURL = URL(fileURLWithPath: ProtonPython.path)
            python.arguments = [script, "amqp://127.0.0.1:\(port)"]
            python.standardOutput = out
            python.standardError = out
            try python.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            XCTAssertEqual(python.terminationStatus, 0, "\(backend): \(text)")
            XCTAssertEqual(text.split(separator: "\n").last, "ok 29 messages", "\(backend): \(text)")
            broker.terminate()
            XCTAssertEqual(broker.finish().status, 0)
        }
    }
}

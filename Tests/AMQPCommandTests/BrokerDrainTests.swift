import Foundation
import SharedFixtures
import XCTest

/// Issue 22, finding 3: a receiver that drains (a JMS `receiveNoWait`) gets what the queue holds.
/// Before the fix the engine answered the drain before the broker's handler was asked, so it got
/// nothing, every time. Qpid Proton Python is the client; `amqp broker` runs on each backend.
final class BrokerDrainTests: XCTestCase {
    func testADrainingReceiverGetsWhatTheQueueHolds() throws {
        if let why = ProtonPython.unavailable {
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { return XCTFail(why) }
            throw XCTSkip(why)
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("proton_drain.py").path
        for backend in TestBackends.names {
            let port = ProtonArrow.freePort()
            let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
            defer { broker.terminate() }
            XCTAssertTrue(ProtonArrow.waitForListener(port: port))
            let python = Process()
            let out = Pipe()
            python.executableURL = URL(fileURLWithPath: ProtonPython.path)
            python.arguments = [script, "amqp://127.0.0.1:\(port)", "jms", "5"]
            python.standardOutput = out
            python.standardError = out
            try python.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            XCTAssertEqual(python.terminationStatus, 0, "\(backend): \(text)")
            XCTAssertEqual(text.split(separator: "\n").last, "drained 5 of 5", "\(backend): \(text)")
            broker.terminate()
            XCTAssertEqual(broker.finish().status, 0)
        }
    }
}

import Foundation
import SharedFixtures
import XCTest

/// Runs a Proton Python script (beside this file) against `amqp broker` on each backend and checks
/// its exit status and last line; fails or skips as the environment says when Proton is missing.
func assertProtonScriptThroughBroker(_ name: String, arguments: (UInt16) -> [String], lastLine: String,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
    if let why = ProtonPython.unavailable {
        if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { return XCTFail(why, file: file, line: line) }
        throw XCTSkip(why)
    }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(name).path
    for backend in TestBackends.names {
        let port = ProtonArrow.freePort()
        let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
        defer { broker.terminate() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), file: file, line: line)
        let python = Process()
        let out = Pipe()
        python.executableURL = URL(fileURLWithPath: ProtonPython.path)
        python.arguments = [script] + arguments(port)
        python.standardOutput = out
        python.standardError = out
        try python.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        XCTAssertEqual(python.terminationStatus, 0, "\(backend): \(text)", file: file, line: line)
        XCTAssertEqual(text.split(separator: "\n").last.map(String.init), lastLine, "\(backend): \(text)", file: file, line: line)
        broker.terminate()
        XCTAssertEqual(broker.finish().status, 0, file: file, line: line)
    }
}

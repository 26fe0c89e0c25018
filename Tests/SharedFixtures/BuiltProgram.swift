import Foundation
import XCTest

/// An executable of this package, built beside the test bundle by `swift build --build-tests`, run
/// as a user runs it, with `stdin` as its standard input when given (else the test's). `finish()`
/// waits (killing it after `timeout`) and returns its status, stdout lines and stderr.
public final class BuiltProgram {
    public let process = Process()
    private let out = Pipe(), err = Pipe()
    private let stdout = ProtonArrow.OutputCollector(), stderr = ProtonArrow.OutputCollector()

    public init(_ name: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let binary = dir.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            // CI (AMQP_REQUIRE_SHARED=1) must never pass by skipping.
            let why = "\(binary.path) is not built (swift build --build-tests builds it)"
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_SHARED"] == "1" { throw ArrowUnavailable(description: why) }
            throw XCTSkip(why)
        }
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = out
        process.standardError = err
        let input = stdin.map { _ in Pipe() }
        if let input { process.standardInput = input }
        try process.run()
        if let input, let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        let (o, e) = (out.fileHandleForReading, err.fileHandleForReading)
        let (so, se) = (stdout, stderr)
        Thread { so.finish(o.readDataToEndOfFile()) }.start()
        Thread { se.finish(e.readDataToEndOfFile()) }.start()
    }

    public func finish(timeout: TimeInterval = 60) -> (status: Int32, lines: [String], stderr: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { process.terminate() }
        let o = stdout.wait(), e = stderr.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self).split(separator: "\n").map(String.init),
                String(decoding: e, as: UTF8.self))
    }

    /// SIGTERM.
    public func terminate() { if process.isRunning { process.terminate() } }
}

import Foundation
import SharedFixtures
import XCTest

/// `broker_peer.py` (Qpid Proton Python) run as a separate process: a client of the broker that a
/// test can kill. Its stdout is read as it comes, so lines printed before a kill are kept.
final class ProtonPeer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("broker_peer.py").path

    let process = Process()
    private let pipe = Pipe()
    private let output = ProtonArrow.OutputCollector()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: ProtonPython.path)
        process.arguments = [Self.script] + arguments
        process.standardOutput = pipe
        try process.run()
        let (handle, collector) = (pipe.fileHandleForReading, output)
        Thread { collector.finish(handle.readDataToEndOfFile()) }.start()
    }

    /// Waits for the process to end (SIGKILL after `timeout`); its status and stdout lines.
    func finish(timeout: Duration = .seconds(30)) -> (status: Int32, lines: [String]) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning { kill() }
        let data = output.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    /// SIGKILL: the process dies at once and the kernel cuts its socket.
    func kill() { if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) } }

    /// The messages a receiving mode printed.
    static func received(_ lines: [String]) -> [Received] {
        lines.compactMap { l in
            let f = l.split(separator: " ")
            guard f.count == 3, let count = UInt32(f[1]) else { return nil }
            return Received(id: String(f[0]), deliveryCount: count, firstAcquirer: f[2] == "1")
        }
    }
}

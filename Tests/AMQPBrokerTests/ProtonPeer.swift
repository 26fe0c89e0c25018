import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// `broker_peer.py` (Qpid Proton Python) run as a separate process: a client of the broker that a
/// test can kill. Its stdout is read as it comes, so lines printed before a kill are kept.
final class ProtonPeer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("broker_peer.py").path

    let process = Process()
    private let pipe = Pipe()
    /// What it printed so far, and whether its stdout has ended.
    private let output = LockedValue<(data: Data, ended: Bool)>((Data(), false))

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: ProtonPython.path)
        process.arguments = [Self.script] + arguments
        process.standardOutput = pipe
        try process.run()
        let (handle, output) = (pipe.fileHandleForReading, output)
        Thread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                output.withLock { $0.data.append(chunk) }
            }
            output.withLock { $0.ended = true }
        }.start()
    }

    /// The complete lines printed so far.
    var lines: [String] {
        let text = String(decoding: output.withLock { $0.data }, as: UTF8.self)
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return complete.split(separator: "\n").map(String.init)
    }

    /// Waits for the process to end (SIGKILL after `timeout`); its status and stdout lines.
    func finish(timeout: Duration = .seconds(30)) -> (status: Int32, lines: [String]) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning { kill() }
        eventually { output.withLock { $0.ended } }
        process.waitUntilExit()
        return (process.terminationStatus, lines)
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

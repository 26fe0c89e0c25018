import Foundation

/// A peer program run for one test: its output lines collected, killed at the end.
/// @unchecked Sendable, and what makes it safe: `process` is set in init and only read after;
/// `lines` and `partial` are touched only with `lock` held.
final class Peer: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
    private let name: String

    /// Starts `executable` with `arguments`; stdout and stderr are both collected as lines.
    init(_ executable: String, _ arguments: [String], name: String) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.append(data)
        }
        try process.run()
    }

    private func append(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        partial.append(data)
        while let nl = partial.firstIndex(of: 0x0A) {
            lines.append(String(decoding: partial[partial.startIndex..<nl], as: UTF8.self))
            partial = Data(partial[partial.index(after: nl)...])
        }
    }

    /// Every complete line so far.
    var output: [String] { lock.lock(); defer { lock.unlock() }; return lines }

    /// Waits until a line starting with `prefix` appears; throws if the peer exits or time runs out.
    func waitForLine(startingWith prefix: String, timeout: Duration = .seconds(20)) async throws {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if output.contains(where: { $0.hasPrefix(prefix) }) { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PeerError("\(name) printed no line starting with '\(prefix)'; it said: \(output.suffix(5))")
    }

    /// Waits for the peer to exit by itself and returns its status; kills it after `timeout`.
    func waitForExit(timeout: Duration = .seconds(120)) async throws -> Int32 {
        let end = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            stop()
            throw PeerError("\(name) did not exit within \(timeout); it said: \(output.suffix(5))")
        }
        process.waitUntilExit()
        try await Task.sleep(for: .milliseconds(50))  // the last output
        return process.terminationStatus
    }

    /// Kills the peer (SIGKILL: Proton Python's container does not stop on SIGTERM) and reaps it.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

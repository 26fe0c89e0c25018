import Foundation
import XCTest

/// Qpid Proton C's quiver arrow (`../shared/tools/proton-c-arrow.c`), compiled once per test run
/// and run as a peer process.
public struct ArrowUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

public enum ProtonArrow {
    /// The compiled arrow, or a skip naming what is missing (a failure under AMQP_REQUIRE_SHARED=1).
    public static func binary() throws -> String {
        _ = try SharedFixtures.require("tools/proton-c-arrow.c")
        guard let built = compiled else {
            throw ArrowUnavailable(description: "gcc could not build proton-c-arrow (is libqpid-proton11-dev installed? Scripts/install-deps.sh installs it)")
        }
        return built
    }

    // Built once, lazily and thread-safely (a static let), the first time a test asks.
    private static let compiled: String? = {
        guard let source = SharedFixtures.directory?.appendingPathComponent("tools/proton-c-arrow.c") else { return nil }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("messaging-tests-proton-c-arrow-\(getpid())").path
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O2", "-o", out, source.path, "-lqpid-proton"]
        guard (try? gcc.run()) != nil else { return nil }
        gcc.waitUntilExit()
        return gcc.terminationStatus == 0 ? out : nil
    }()

    /// A running arrow; `finish()` waits for it and returns its exit status and stdout lines.
    public final class Running {
        public let process = Process()
        private let pipe = Pipe()
        public init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: try ProtonArrow.binary())
            process.arguments = arguments
            process.standardOutput = pipe
            try process.run()
        }
        public func finish() -> (status: Int32, lines: [String]) {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            return (process.terminationStatus, text.split(separator: "\n").map(String.init))
        }
        public func kill() { if process.isRunning { process.terminate() } }
    }

    /// A TCP port nobody listens on now.
    public static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// Waits until something listens on 127.0.0.1:`port` (read from /proc/net/tcp, without
    /// connecting, so the peer sees no probe); false after `timeout`.
    public static func waitForListener(port: UInt16, timeout: Duration = .seconds(10)) -> Bool {
        let needle = String(format: ":%04X 00000000:0000 0A", port)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8), table.contains(needle) { return true }
            usleep(20_000)
        }
        return false
    }
}

import Foundation
import XCTest

/// Why the Proton C arrow cannot be used (gcc or Proton's headers missing).
public struct ArrowUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The project's Qpid Proton C quiver arrow (`Benchmarks/ProtonC/proton-c-arrow.c`), compiled once
/// per test run and run as a peer process.
public enum ProtonArrow {
    /// The arrow's source, found from this file: it is part of the checkout, so no test needs
    /// anything beside it.
    public static let source = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Benchmarks/ProtonC/proton-c-arrow.c")

    /// The compiled arrow; throws (a failure, not a skip) when it cannot be built: gcc and Proton
    /// C's headers are installed by the test script, so a missing one is a broken setup.
    public static func binary() throws -> String {
        switch compiled {
        case .success(let path): return path
        case .failure(let error): throw error
        }
    }

    // Built once, lazily and thread-safely (a static let), the first time a test asks.
    private static let compiled: Result<String, ArrowUnavailable> = {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("messaging-tests-proton-c-arrow-\(getpid())").path
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O2", "-o", out, source.path, "-lqpid-proton"]
        let unavailable = ArrowUnavailable(description: "gcc could not build \(source.path) (is libqpid-proton11-dev installed? Scripts/install-deps.sh installs it)")
        guard (try? gcc.run()) != nil else { return .failure(unavailable) }
        gcc.waitUntilExit()
        return gcc.terminationStatus == 0 ? .success(out) : .failure(unavailable)
    }()

    /// A running arrow; `finish()` waits for it and returns its exit status and stdout lines.
    public final class Running {
        public let process = Process()
        private let pipe = Pipe()
        // Read as it comes, so a chatty arrow never blocks on a full pipe (64 KiB is about 3,000
        // lines); `finish()` waits for the reader to see the end.
        private let output = OutputCollector()
        public init(_ arguments: [String]) throws {
            // Line-buffered (stdbuf, coreutils), so a line printed is a line we read even if the
            // arrow is killed: tests kill it mid-stream.
            let binary = try ProtonArrow.binary()
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/stdbuf") {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/stdbuf")
                process.arguments = ["-oL", binary] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = arguments
            }
            process.standardOutput = pipe
            try process.run()
            let handle = pipe.fileHandleForReading
            let collector = output
            Thread { collector.finish(handle.readDataToEndOfFile()) }.start()
        }
        public func finish() -> (status: Int32, lines: [String]) {
            let data = output.wait()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            return (process.terminationStatus, text.split(separator: "\n").map(String.init))
        }
        public func kill() { if process.isRunning { process.terminate() } }
    }

    /// The whole output of a process, once its pipe closed.
    public final class OutputCollector: Sendable {
        private let condition = NSCondition()
        private let data = LockedData()
        public init() {}
        public func finish(_ d: Data) {
            condition.lock()
            data.set(d)
            condition.broadcast()
            condition.unlock()
        }
        public func wait() -> Data {
            condition.lock()
            defer { condition.unlock() }
            while !data.isSet { condition.wait() }
            return data.value
        }
    }

    /// @unchecked Sendable: every access holds the collector's NSCondition.
    final class LockedData: @unchecked Sendable {
        private(set) var value = Data()
        private(set) var isSet = false
        func set(_ d: Data) { value = d; isSet = true }
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

/// Qpid Proton C's broker example (Debian's `libqpid-proton11-dev-examples`), compiled once per
/// test run.
public enum ProtonBrokerExample {
    static let source = "/usr/share/proton/examples/c/broker.c"

    /// The compiled broker; a skip when the examples are not installed (a failure under
    /// AMQP_REQUIRE_PROTON=1, as Scripts/test.sh sets, so CI cannot pass by skipping).
    public static func binary() throws -> String {
        guard FileManager.default.fileExists(atPath: source) else {
            let why = "\(source) is absent (Scripts/install-deps.sh installs libqpid-proton11-dev-examples)"
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { throw ArrowUnavailable(description: why) }
            throw XCTSkip(why)
        }
        guard let built = compiled else { throw ArrowUnavailable(description: "gcc could not build \(source)") }
        return built
    }

    private static let compiled: String? = {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("proton-broker-example-\(getpid())").path
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O2", "-I/usr/share/proton/examples/c", "-o", out, source, "-lqpid-proton", "-lpthread"]
        guard (try? gcc.run()) != nil else { return nil }
        gcc.waitUntilExit()
        return gcc.terminationStatus == 0 ? out : nil
    }()
}

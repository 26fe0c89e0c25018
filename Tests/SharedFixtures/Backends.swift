import Foundation

/// The proactor backends a test runs on: epoll always; io_uring where it works, or always under
/// `AMQP_REQUIRE_URING=1` (as `.ci/run` sets), so CI never leaves it out. Where it is left out the
/// reason is printed once.
public enum TestBackends {
    /// Backend names as the `amqp` command's `--backend` takes them.
    public static var names: [String] { ioURingRuns ? ["epoll", "io_uring"] : ["epoll"] }

    /// Whether io_uring tests run here.
    public static var ioURingRuns: Bool { required || usable }

    static let required = ProcessInfo.processInfo.environment["AMQP_REQUIRE_URING"] == "1"

    /// Whether an io_uring ring can be set up: the sysctl allows it and the kernel and seccomp
    /// profile let io_uring_setup(2) through (probed with python3, which can make the raw call).
    static let usable: Bool = {
        if let disabled = try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8),
           disabled.trimmingCharacters(in: .whitespacesAndNewlines) != "0" {
            print("io_uring is disabled here (/proc/sys/kernel/io_uring_disabled): its test cases are left out")
            return false
        }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        probe.arguments = ["-c", """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            params = ctypes.create_string_buffer(120)
            fd = libc.syscall(425, 4, params)
            if fd < 0: raise SystemExit(ctypes.get_errno())
            os.close(fd)
            """]
        guard (try? probe.run()) != nil else { return true }
        probe.waitUntilExit()
        if probe.terminationStatus != 0 {
            print("io_uring_setup fails here (errno \(probe.terminationStatus)): its test cases are left out")
        }
        return probe.terminationStatus == 0
    }()
}

import Foundation
import XCTest

/// Locates `../shared` beside the checkout (or `$AMQP_SHARED_DIR`) for every test target.
///
/// When it is absent, tests skip with a message naming what they needed, so a user's clone still
/// passes; with `AMQP_REQUIRE_SHARED=1` (as `.ci/run` sets) they fail instead, so CI can never pass
/// by skipping.
public enum SharedFixtures {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public static var directory: URL? {
        if let env = ProcessInfo.processInfo.environment["AMQP_SHARED_DIR"] {
            return URL(fileURLWithPath: env)
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: shared.path) ? shared : nil
    }

    /// The URL of `path` inside the shared directory, or a skip (a failure under
    /// `AMQP_REQUIRE_SHARED=1`) naming what is missing.
    public static func require(_ path: String) throws -> URL {
        let url = directory?.appendingPathComponent(path)
        if let url, FileManager.default.fileExists(atPath: url.path) { return url }
        let why = "\(url?.path ?? "../shared/" + path) is absent (set AMQP_SHARED_DIR to point at shared/)"
        if ProcessInfo.processInfo.environment["AMQP_REQUIRE_SHARED"] == "1" { throw Missing(description: why) }
        throw XCTSkip(why)
    }

    public static func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    /// The regular files in `url`, sorted by name.
    public static func files(in url: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { !$0.hasDirectoryPath }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

/// The Python with Qpid Proton's binding that the differential and interop tests run as a peer:
/// `$AMQP_PROTON_PYTHON`, else the system one (Debian: `python3-qpid-proton`, Proton 0.37). The
/// `python3` on PATH may be another one. `Scripts/test.sh` runs the Proton tests a second time with
/// `AMQP_PROTON_PYTHON` naming a venv with Proton 0.40 from PyPI (see `Scripts/proton-venv.sh`), so
/// both the packaged and a current Proton are peers.
public enum ProtonPython {
    /// The interpreter: `$AMQP_PROTON_PYTHON` when set and not empty, else `/usr/bin/python3`.
    public static let path = chosen ?? "/usr/bin/python3"
    private static let chosen = ProcessInfo.processInfo.environment["AMQP_PROTON_PYTHON"]
        .flatMap { $0.isEmpty ? nil : $0 }

    /// Why Proton cannot be used, or nil when it can; probed once per test run. When it can, its
    /// version is printed once, so a log tells which Proton the tests ran against.
    public static let unavailable: String? = {
        guard FileManager.default.isExecutableFile(atPath: path) else { return "\(path) does not exist" }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: path)
        probe.arguments = ["-c", "import proton; print('.'.join(map(str, proton.VERSION)))"]
        let output = Pipe()
        probe.standardOutput = output
        probe.standardError = FileHandle.nullDevice
        do { try probe.run() } catch { return "cannot run \(path): \(error)" }
        let version = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { return "\(path) cannot import proton" }
        print("Qpid Proton \(version.trimmingCharacters(in: .whitespacesAndNewlines)) (Python binding) under \(path)"
              + " is the peer of the Proton tests")
        return nil
    }()

    /// True when Proton is there. Otherwise skips, or fails under `AMQP_REQUIRE_PROTON=1` (as CI
    /// sets), so CI can never pass by skipping; `what` names the test for the message.
    public static func require(for what: String) throws -> Bool {
        guard let reason = unavailable else { return true }
        let fix = chosen == nil
            ? "apt-get install python3-qpid-proton"
            : "named by AMQP_PROTON_PYTHON; Scripts/proton-venv.sh builds Proton 0.40's venv"
        let message = "Qpid Proton's Python binding under \(path) is needed for \(what) (\(fix)): \(reason)"
        if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" {
            XCTFail(message + " (AMQP_REQUIRE_PROTON=1, so this fails instead of skipping)")
            return false
        }
        throw XCTSkip(message)
    }
}

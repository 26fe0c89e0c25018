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

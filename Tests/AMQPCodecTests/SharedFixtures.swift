import Foundation
import XCTest

/// Locates `../shared` beside the checkout (or `$AMQP_SHARED_DIR`). Tests that need it skip with a
/// clear message when it is absent, so a user's clone still passes.
enum SharedFixtures {
    static var directory: URL? {
        if let env = ProcessInfo.processInfo.environment["AMQP_SHARED_DIR"] {
            return URL(fileURLWithPath: env)
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: shared.path) ? shared : nil
    }

    /// The shared directory's `path`, or an XCTSkip naming what is missing.
    static func require(_ path: String) throws -> URL {
        guard let dir = directory else {
            throw XCTSkip("../shared is absent (set AMQP_SHARED_DIR to run this test): needs \(path)")
        }
        let url = dir.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(url.path) is absent")
        }
        return url
    }

    static func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    static func files(in url: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { !$0.hasDirectoryPath }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}


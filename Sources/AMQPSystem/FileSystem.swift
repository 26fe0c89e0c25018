#if canImport(Glibc)
import Glibc
#endif

/// Files, directories and shell commands, for tools and test fixtures (certificates made with
/// the `openssl` command, say): one thin wrapper per C library call, as the rest of AMQPSystem.
///
/// Threading: every function is safe from any thread; the files are the caller's to share.
public enum FileSystem {
    /// Makes a new directory with a unique name from `template`, whose last six characters must
    /// be `XXXXXX` (mkdtemp(3)); returns its path.
    public static func makeTemporaryDirectory(template: String) throws(Errno) -> String {
        var bytes = Array(template.utf8CString)
        // mkdtemp replaces the X's of the NUL-terminated template in place, within its length.
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw Errno(rawValue: errno) }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `text` to the file at `path`, replacing it (fopen(3), fputs(3)).
    public static func write(_ text: String, to path: String) throws(Errno) {
        guard let file = fopen(path, "w") else { throw Errno(rawValue: errno) }
        defer { fclose(file) }
        guard fputs(text, file) >= 0 else { throw Errno(rawValue: errno) }
    }

    /// The file at `path` as UTF-8 text (invalid bytes replaced); nil when it cannot be read.
    public static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        while true {
            let c = fgetc(file)
            if c == EOF { break }
            bytes.append(UInt8(truncatingIfNeeded: c))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs `command` with `/bin/sh -c` and waits for it (system(3)); returns its exit status, or
    /// -1 when it could not be run.
    public static func runShell(_ command: String) -> Int32 {
        let status = system(command)
        guard status != -1 else { return -1 }
        // The wait status: the exit code in bits 8-15 when the shell exited normally.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Calls `body` when the process exits normally (atexit(3)): for cleaning up files a fixture
    /// made for the whole run.
    public static func atExit(_ body: @escaping @convention(c) () -> Void) {
        _ = atexit(body)
    }
}

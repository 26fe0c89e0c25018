#if canImport(Glibc)
import Glibc
#endif

/// Passwords for the command, from where the user says, never from argv unless asked for
/// explicitly (`pass:`): a password on the command line is visible to every user of the machine
/// (`ps`), and is kept in shell histories.
enum Secrets {
    /// What a password option takes, for help texts and errors.
    static let sources = "env:NAME, file:PATH, stdin or pass:TEXT"

    /// The password `source` names: `env:NAME` (an environment variable), `file:PATH` (the
    /// file's first line), `stdin` (the first line of standard input) or `pass:TEXT` (the text
    /// itself, as OpenSSL's `-passin` takes it: visible to other users).
    /// - Parameter option: the option's name, for errors.
    static func read(_ source: String, option: String) throws(CommandFailure) -> String {
        if source.hasPrefix("env:") {
            let name = String(source.dropFirst(4))
            guard let value = getenv(name) else { throw CommandFailure("\(option): the environment variable \(name) is not set") }
            return String(cString: value)
        }
        if source.hasPrefix("file:") {
            let path = String(source.dropFirst(5))
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CommandFailure("\(option): cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            return line(from: fd) ?? ""
        }
        if source == "stdin" { return line(from: 0) ?? "" }
        if source.hasPrefix("pass:") { return String(source.dropFirst(5)) }
        throw CommandFailure("\(option) takes \(sources), not the password itself")
    }

    /// Asks for a password on the terminal with echo off; nil when standard input is not a
    /// terminal.
    static func prompt(_ text: String) -> String? {
        guard isatty(0) == 1 else { return nil }
        printError(text)
        var saved = termios()
        let canHide = tcgetattr(0, &saved) == 0
        if canHide {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSAFLUSH, &quiet)
        }
        let answer = line(from: 0)
        if canHide { tcsetattr(0, TCSAFLUSH, &saved) }
        printError("\n")
        return answer ?? ""
    }

    /// The password for `user` when none was given: `AMQP_PASSWORD`, else a prompt on a terminal,
    /// else the first line of standard input (empty at its end).
    static func passwordFor(_ user: String) -> String {
        if let value = getenv("AMQP_PASSWORD") { return String(cString: value) }
        if let typed = prompt("Password for \(user): ") { return typed }
        return line(from: 0) ?? ""
    }

    /// One line of the file `fd` without its line end, read a byte at a time so that nothing
    /// after it is consumed; nil at the end of the file.
    static func line(from fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes.isEmpty ? nil : decode(bytes) }
            if byte == 10 { return decode(bytes) }
            bytes.append(byte)
        }
    }

    /// `text` on stderr, unbuffered.
    static func printError(_ text: String) {
        let bytes = Array(text.utf8)
        var at = 0
        while at < bytes.count {
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + at, $0.count - at) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            at += n
        }
    }

    private static func decode(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.last == 13 ? bytes.dropLast() : bytes[...], as: UTF8.self)
    }

    /// A warning on stderr, one line.
    static func warn(_ text: String) {
        printError("amqp: warning: \(text)\n")
    }
}

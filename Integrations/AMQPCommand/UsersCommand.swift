import ArgumentParser
import AMQPSASL
#if canImport(Glibc)
import Glibc
#endif

/// `amqp users`: the broker's users file (`amqp broker --users FILE`), salted SCRAM credentials
/// made with `SASLUsersFile`, never a password.
struct UsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Edit a users file for `amqp broker --users` (salted SCRAM credentials, never a password).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a user, or change a user's password. The password is read from a prompt on a terminal, else from the first line of stdin.")

        @Argument(help: "The users file; made (readable by its owner only) if absent.") var file: String
        @Argument(help: "The user's name.") var user: String
        @Option(help: ArgumentHelp("Where the password comes from instead: \(Secrets.sources).", valueName: "source"))
        var password: String?
        @Option(help: ArgumentHelp("The SCRAM mechanisms to store a credential for (PLAIN uses either).", valueName: "list"))
        var mechanisms = "SCRAM-SHA-512,SCRAM-SHA-256"
        @Option(help: "PBKDF2 iterations (4096 to 10,000,000).") var iterations = 4096

        func run() throws {
            var hashes: [SCRAMHash] = []
            do {
                for m in try SASLMechanismName.list([mechanisms]) {
                    guard let h = m.scramHash else { throw CommandFailure("--mechanisms: a users file holds SCRAM credentials only, not \(m)") }
                    hashes.append(h)
                }
            } catch let e as SASLConfigurationError {
                throw CommandFailure("--mechanisms: \(e.description)")
            }
            let secret: String
            if let source = password {
                secret = try Secrets.read(source, option: "--password")
            } else if let typed = Secrets.prompt("Password for \(user): ") {
                guard Secrets.prompt("Again: ") == typed else { throw CommandFailure("the passwords do not match") }
                secret = typed
            } else {
                secret = Secrets.line(from: 0) ?? ""
            }
            guard !secret.isEmpty else { throw CommandFailure("the password is empty") }
            let entries: [String]
            do {
                entries = try SASLUsersFile.entries(username: user, password: secret, hashes: hashes, iterations: iterations)
            } catch {
                throw CommandFailure(error.description)
            }
            var file = try UsersFile(path: self.file)
            let replaced = file.remove(user: try UsersFile.name(of: entries[0]))
            file.lines += entries
            try file.write()
            let what = hashes.map(\.rawValue).joined(separator: ", ")
            print(replaced ? "changed the password of \(user) in \(self.file) (\(what))" : "added \(user) to \(self.file) (\(what))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a user.")
        @Argument(help: "The users file.") var file: String
        @Argument(help: "The user's name.") var user: String

        func run() throws {
            var file = try UsersFile(path: self.file, mustExist: true)
            let prepared = (try? SASLprep.prepare(user, for: .query)) ?? user
            guard file.remove(user: prepared) else { throw CommandFailure("no user \(user) in \(self.file)") }
            try file.write()
            print("removed \(user) from \(self.file)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users, one per line.")
        @Argument(help: "The users file.") var file: String

        func run() throws {
            do {
                for name in try SASLUsersFile(contentsOfFile: file).usernames { print(name) }
            } catch {
                throw CommandFailure(error.description)
            }
        }
    }
}

/// A users file as lines, edited in memory and written back in one step (a new file renamed over
/// the old one), with its permissions kept (0600 for a new one).
struct UsersFile {
    let path: String
    var lines: [String]
    private var mode: mode_t = 0o600

    /// Reads the file at `path` (none yet: a header only), refusing one that does not parse.
    init(path: String, mustExist: Bool = false) throws(CommandFailure) {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            guard errno == ENOENT, !mustExist else { throw CommandFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
            lines = ["# swift-amqp users file (amqp users add): username:mechanism:iterations:salt:stored-key:server-key"]
            return
        }
        mode = info.st_mode & 0o777
        do {
            _ = try SASLUsersFile(contentsOfFile: path)
        } catch {
            throw CommandFailure("\(error.description) (not changed)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var lines: [String] = []
        while let line = Secrets.line(from: fd) { lines.append(line) }
        self.lines = lines
    }

    /// The user a users-file line is for, as the file stores it (prepared with SASLprep).
    static func name(of line: String) throws(CommandFailure) -> String {
        guard let name = (try? SASLUsersFile(parsing: line))?.usernames.first else { throw CommandFailure("internal error: an entry that does not parse") }
        return name
    }

    /// Removes `user`'s lines; returns whether there were any.
    mutating func remove(user: String) -> Bool {
        let before = lines.count
        lines.removeAll { line in
            guard !line.hasPrefix("#"), !line.allSatisfy({ $0 == " " || $0 == "\t" }) else { return false }
            return (try? SASLUsersFile(parsing: line))?.usernames.first == user
        }
        return lines.count != before
    }

    /// Writes the lines to a new file beside the old one, then renames it over the old one.
    func write() throws(CommandFailure) {
        let temporary = "\(path).new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CommandFailure("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        fchmod(fd, mode)   // exactly, whatever the umask
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let why = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw CommandFailure("cannot write \(temporary): \(why)")
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0, rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw CommandFailure("cannot write \(path): \(why)")
        }
    }
}

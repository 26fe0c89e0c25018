import Glibc

/// The broker's users: a text file of salted SCRAM credentials, never a password.
///
/// One credential per line, six fields separated by colons:
///
/// ```
/// # swift-amqp users file
/// # username:mechanism:iterations:salt:stored-key:server-key
/// alice:SCRAM-SHA-512:4096:QSXCR+Q6sek8bf92:<88 base64 characters>:<88 base64 characters>
/// alice:SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=
/// ```
///
/// - `username`: prepared with SASLprep; `%`, `:`, `#` and control characters are written `%XX`
///   (the hex of each UTF-8 byte), so `a:b` is `a%3Ab`.
/// - `mechanism`: `SCRAM-SHA-512` or `SCRAM-SHA-256`. A user may have one line of each; a client
///   can use SCRAM only with a mechanism the user has, and PLAIN is checked against the
///   SCRAM-SHA-512 line, else the SCRAM-SHA-256 one.
/// - `iterations`: PBKDF2's count, 4096 to 10,000,000.
/// - `salt`, `stored-key`, `server-key`: base64 (RFC 4648, padded); the keys are as long as the
///   hash (32 or 64 bytes). StoredKey and ServerKey are RFC 5802's: neither gives the password
///   back, but a stolen file lets an attacker guess passwords offline, so keep it readable by the
///   broker only.
/// - Blank lines and lines starting with `#` are ignored. A line that does not parse, an unknown
///   mechanism or a user's mechanism given twice is an error, with its line number.
///
/// ``entries(username:password:hashes:iterations:)`` makes the lines for a password (`amqp users
/// add` calls it).
///
/// Threading: a value; `Sendable`. Made once, then read from every connection's thread.
public struct SASLUsersFile: SASLCredentialStore {
    private struct Key: Hashable {
        let username: String
        let hash: SCRAMHash
    }

    private let credentials: [Key: SCRAMCredential]
    private let decoySecret: [UInt8]
    private let decoyIterations: [SCRAMHash: Int]

    /// The users in the file, sorted.
    public var usernames: [String] { Array(Set(credentials.keys.map(\.username))).sorted() }

    /// The users of a file's `text`.
    /// - Throws: ``SASLConfigurationError`` of kind `.usersFile`, naming the line, when a line does
    ///   not parse.
    public init(parsing text: String) throws(SASLConfigurationError) {
        var credentials: [Key: SCRAMCredential] = [:]
        var lineNumber = 0
        // Lines and fields split by Unicode scalar: "\r\n" is one Character, and so is ":" followed
        // by a combining mark.
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.last == "\r" ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.first == "#" { continue }
            func fail(_ why: String) -> SASLConfigurationError {
                SASLConfigurationError(.usersFile, "users file, line \(lineNumber): \(why)")
            }
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map { Substring($0) }
            guard fields.count == 6 else {
                throw fail("\(fields.count) fields, not 6 (username:mechanism:iterations:salt:stored-key:server-key)")
            }
            guard let name = Self.unescape(fields[0]), !name.isEmpty else {
                throw fail("the username is empty, or has a % not followed by two hex digits, or is not UTF-8")
            }
            let username: String
            do {
                username = try SASLprep.prepare(name, for: .query)
            } catch {
                throw fail("the username: \(error)")
            }
            guard let hash = SCRAMHash(rawValue: String(fields[1])) else {
                throw fail("unknown mechanism \"\(fields[1])\" (SCRAM-SHA-512 or SCRAM-SHA-256)")
            }
            guard let iterations = SCRAMMessage.iterationCount(fields[2]),
                  (SCRAMCredential.minimumIterations...SCRAMCredential.maximumIterations).contains(iterations) else {
                throw fail("the iteration count \"\(fields[2])\" is not a number from \(SCRAMCredential.minimumIterations) to \(SCRAMCredential.maximumIterations)")
            }
            guard let salt = Base64.decode(fields[3]), !salt.isEmpty else { throw fail("the salt is not base64") }
            guard let storedKey = Base64.decode(fields[4]), storedKey.count == hash.digestLength else {
                throw fail("the stored key is not \(hash.digestLength) bytes of base64")
            }
            guard let serverKey = Base64.decode(fields[5]), serverKey.count == hash.digestLength else {
                throw fail("the server key is not \(hash.digestLength) bytes of base64")
            }
            let key = Key(username: username, hash: hash)
            guard credentials[key] == nil else { throw fail("a second \(hash) line for \(username)") }
            credentials[key] = SCRAMCredential(hash: hash, salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
        }
        self.credentials = credentials
        // Decoys for unknown users: salts keyed by the file itself, so they stay the same across
        // restarts while the file does; the count most of its users have.
        decoySecret = (try? SCRAMHash.sha512.hash(Array("swift-amqp users-file decoy\n".utf8) + Array(text.utf8))) ?? processDecoySecret
        var counts: [SCRAMHash: [Int: Int]] = [:]
        for (key, c) in credentials { counts[key.hash, default: [:]][c.iterations, default: 0] += 1 }
        decoyIterations = counts.mapValues { byCount in
            byCount.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? SCRAMCredential.defaultIterations
        }
    }

    /// The users of the file at `path`.
    /// - Throws: ``SASLConfigurationError`` of kind `.usersFile` when it cannot be read or a line
    ///   does not parse.
    public init(contentsOfFile path: String) throws(SASLConfigurationError) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw SASLConfigurationError(.usersFile, "users file \(path): \(error.description)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SASLConfigurationError(.usersFile, "users file \(path): not UTF-8")
        }
        do {
            try self.init(parsing: text)
        } catch {
            throw SASLConfigurationError(.usersFile, "\(path): \(error.description)")
        }
    }

    /// The credential of `username` for `hash`, or nil.
    public func scramCredential(for username: String, hash: SCRAMHash) -> SCRAMCredential? {
        credentials[Key(username: username, hash: hash)]
    }

    /// A salt derived from the name and the file, and the iteration count most users of the file have.
    public func decoy(for username: String, hash: SCRAMHash) -> (salt: [UInt8], iterations: Int) {
        (decoySalt(secret: decoySecret, username: username, hash: hash), decoyIterations[hash] ?? SCRAMCredential.defaultIterations)
    }

    // MARK: making entries

    /// The users-file line for `username` with `credential`.
    public static func line(username: String, credential: SCRAMCredential) -> String {
        [escape(username), credential.hash.rawValue, String(credential.iterations), Base64.encode(credential.salt),
         Base64.encode(credential.storedKey), Base64.encode(credential.serverKey)].joined(separator: ":")
    }

    /// The users-file lines for `username` with `password`: one per hash in `hashes` (SCRAM-SHA-512
    /// and SCRAM-SHA-256 by default, so clients of either and PLAIN work), each with its own random
    /// salt. The username and password are prepared with SASLprep; the password is not kept.
    /// - Throws: ``SASLConfigurationError`` of kind `.invalidString` when SASLprep refuses the
    ///   username or password, `.usersFile` for an iteration count out of range or OpenSSL failing.
    public static func entries(username: String, password: String, hashes: [SCRAMHash] = [.sha512, .sha256],
                               iterations: Int = SCRAMCredential.defaultIterations) throws(SASLConfigurationError) -> [String] {
        let user: String
        do {
            user = try SASLprep.prepare(username, for: .query)
        } catch {
            throw SASLConfigurationError(.invalidString, "the username: \(error)")
        }
        guard !user.isEmpty else { throw SASLConfigurationError(.invalidString, "the username is empty") }
        var lines: [String] = []
        for hash in hashes {
            do {
                lines.append(line(username: user, credential: try SCRAMCredential(password: password, hash: hash, iterations: iterations)))
            } catch {
                throw SASLConfigurationError(error.kind == .invalidString ? .invalidString : .usersFile, error.description)
            }
        }
        return lines
    }

    /// `name` with `%`, `:`, `#` and control characters written as `%XX`.
    static func escape(_ name: String) -> String {
        var out: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for b in name.utf8 {
            if b == UInt8(ascii: "%") || b == UInt8(ascii: ":") || b == UInt8(ascii: "#") || b < 0x20 || b == 0x7F {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `field` with each `%XX` decoded; nil when a `%` is not followed by two hex digits or the
    /// result is not UTF-8.
    static func unescape(_ field: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = field.utf8[...]
        while let b = bytes.popFirst() {
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            guard let h = bytes.popFirst().flatMap(hexValue), let l = bytes.popFirst().flatMap(hexValue) else { return nil }
            out.append(h << 4 | l)
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

/// An error reading a file: the call and errno's text.
struct FileError: Error {
    let description: String
}

/// The bytes of the file at `path` (at most 64 MiB: a users file is small).
func readFile(_ path: String) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(description: "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        // `chunk` holds chunk.count bytes, the most read(2) writes; the pointer lives for the call.
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(description: "cannot read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { return out }
        out += chunk[..<n]
        if out.count > 64 << 20 { throw FileError(description: "larger than 64 MiB") }
    }
}

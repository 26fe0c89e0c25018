import Foundation
import SharedFixtures
import XCTest

/// A throwaway public key infrastructure made with the `openssl` command at test time, in a
/// temporary directory removed when the test process exits: a CA, another CA nobody trusts, and
/// certificates for every case the tests need.
struct TestPKI: Sendable {
    let directory: String

    /// The CA every "good" certificate comes from.
    var caFile: String { path("ca.pem") }
    /// A CA that signed nothing the tests trust: a client trusting only it meets an unknown CA.
    var otherCAFile: String { path("other-ca.pem") }
    /// localhost and 127.0.0.1, from the CA.
    var serverCert: String { path("server.pem") }
    var serverKey: String { path("server.key") }
    /// other.example only, from the CA.
    var wrongNameCert: String { path("wrongname.pem") }
    var wrongNameKey: String { path("wrongname.key") }
    /// localhost, from the CA, valid 1-2 January 2020 only.
    var expiredCert: String { path("expired.pem") }
    var expiredKey: String { path("expired.key") }
    /// localhost, from the CA, valid from 2099 only.
    var futureCert: String { path("future.pem") }
    var futureKey: String { path("future.key") }
    /// localhost and 1,500 more names, from the CA: over 30 KB, so the server's first flight does
    /// not fit a 17 KiB ring and the handshake must wait for room.
    var bigCert: String { path("big.pem") }
    var bigKey: String { path("big.key") }
    /// Subject O=AMQP Tests, CN=amqp-client, from the CA.
    var clientCert: String { path("client.pem") }
    var clientKey: String { path("client.key") }
    /// The same key, encrypted with AES-256 under ``clientKeyPassword`` (PKCS#8).
    var clientKeyEncrypted: String { path("client-encrypted.key") }
    let clientKeyPassword = "s3cret pass"
    /// A client certificate from the other CA.
    var strangerCert: String { path("stranger.pem") }
    var strangerKey: String { path("stranger.key") }
    /// The expected RFC 2253 subject of ``clientCert``.
    let clientSubject = "CN=amqp-client,O=AMQP Tests"

    func path(_ name: String) -> String { directory + "/" + name }

    /// The PKI, made once per test process; nil (and the reason) when `openssl` cannot run.
    static let shared: Result<TestPKI, PKIError> = {
        do {
            let pki = try TestPKI.make()
            atexit {
                if case .success(let pki) = TestPKI.shared {
                    try? FileManager.default.removeItem(atPath: pki.directory)
                }
            }
            return .success(pki)
        } catch let error as PKIError {
            return .failure(error)
        } catch {
            return .failure(PKIError(message: "\(error)"))
        }
    }()

    /// The shared PKI, or a skip with the reason.
    static func get() throws -> TestPKI {
        switch shared {
        case .success(let pki): return pki
        case .failure(let error): throw Prerequisite.missing("no test certificates (the openssl command is needed): \(error.message)")
        }
    }

    struct PKIError: Error, Sendable { var message: String }

    private static func make() throws -> TestPKI {
        let directory = NSTemporaryDirectory() + "amqptls-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pki = TestPKI(directory: directory)
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw PKIError(message: "openssl \(arguments.joined(separator: " ")): "
                               + String(decoding: output, as: UTF8.self))
            }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        func makeCA(_ name: String, _ subject: String) throws {
            try openssl(["req", "-x509"] + ec + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "3650",
                         "-subj", subject,
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        func makeLeaf(_ name: String, subject: String, san: String?, ca: String) throws {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            var extensions = "basicConstraints=CA:FALSE\n"
            if let san { extensions += "subjectAltName=\(san)\n" }
            try extensions.write(toFile: pki.path("\(name).ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                         "-CAcreateserial", "-out", "\(name).pem", "-days", "365", "-sha256", "-extfile", "\(name).ext"])
        }
        /// A leaf with fixed dates, through `openssl ca` (OpenSSL 3.0's `x509` has no -not_before).
        func makeDatedLeaf(_ name: String, start: String, end: String) throws {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=localhost",
                         "-addext", "subjectAltName=DNS:localhost"])
            try FileManager.default.createDirectory(atPath: pki.path("db-\(name)"), withIntermediateDirectories: true)
            try "".write(toFile: pki.path("db-\(name)/index.txt"), atomically: true, encoding: .utf8)
            try "01\n".write(toFile: pki.path("db-\(name)/serial"), atomically: true, encoding: .utf8)
            let config = """
                [ ca ]
                default_ca = test
                [ test ]
                dir = .
                database = db-\(name)/index.txt
                serial = db-\(name)/serial
                new_certs_dir = db-\(name)
                certificate = ca.pem
                private_key = ca.key
                default_md = sha256
                policy = anything
                unique_subject = no
                copy_extensions = copy
                [ anything ]
                commonName = supplied

                """
            try config.write(toFile: pki.path("\(name).cnf"), atomically: true, encoding: .utf8)
            try openssl(["ca", "-batch", "-config", "\(name).cnf", "-in", "\(name).csr", "-out", "\(name).pem",
                         "-startdate", start, "-enddate", end, "-notext"])
        }
        try makeCA("ca", "/CN=AMQP Test CA")
        try makeCA("other-ca", "/CN=Nobody's CA")
        try makeLeaf("server", subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1", ca: "ca")
        try makeLeaf("wrongname", subject: "/CN=other.example", san: "DNS:other.example", ca: "ca")
        try makeLeaf("big", subject: "/CN=localhost",
                     san: (["DNS:localhost"] + (0..<1500).map { "DNS:host-\($0).amqp.example" }).joined(separator: ","), ca: "ca")
        try makeLeaf("client", subject: "/O=AMQP Tests/CN=amqp-client", san: nil, ca: "ca")
        try makeLeaf("stranger", subject: "/CN=stranger", san: nil, ca: "other-ca")
        try makeDatedLeaf("expired", start: "20200101000000Z", end: "20200102000000Z")
        try makeDatedLeaf("future", start: "20990101000000Z", end: "20991231000000Z")
        try openssl(["pkcs8", "-topk8", "-in", "client.key", "-out", "client-encrypted.key",
                     "-v2", "aes-256-cbc", "-passout", "pass:\(pki.clientKeyPassword)"])
        return pki
    }
}

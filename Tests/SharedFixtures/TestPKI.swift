import Foundation
import XCTest

/// A throwaway public key infrastructure made with the `openssl` command at test time, in a
/// temporary directory removed when the test process exits, for the TLS tests of the container,
/// the broker and the `amqp` command: a CA, another CA nobody trusts, and the certificates those
/// tests need. (AMQPTLSTests has its own, with the dated and oversized certificates its session
/// tests need; this one holds what every connection-level test shares.)
public struct TestPKI: Sendable {
    /// The directory holding the files.
    public let directory: String

    /// The CA every "good" certificate comes from.
    public var caFile: String { path("ca.pem") }
    /// A CA that signed nothing the tests trust: a client trusting only it meets an unknown CA.
    public var otherCAFile: String { path("other-ca.pem") }
    /// localhost and 127.0.0.1, from the CA.
    public var serverCert: String { path("server.pem") }
    public var serverKey: String { path("server.key") }
    /// other.example only, from the CA.
    public var wrongNameCert: String { path("wrongname.pem") }
    public var wrongNameKey: String { path("wrongname.key") }
    /// Subject O=AMQP Tests, CN=amqp-client, from the CA.
    public var clientCert: String { path("client.pem") }
    public var clientKey: String { path("client.key") }
    /// The same key, encrypted with AES-256 under ``clientKeyPassword`` (PKCS#8).
    public var clientKeyEncrypted: String { path("client-encrypted.key") }
    public let clientKeyPassword = "s3cret pass"
    /// A client certificate from the other CA.
    public var strangerCert: String { path("stranger.pem") }
    public var strangerKey: String { path("stranger.key") }
    /// The RFC 2253 subject of ``clientCert``, as SASL EXTERNAL reports it.
    public let clientSubject = "CN=amqp-client,O=AMQP Tests"

    /// The file `name` in ``directory``.
    public func path(_ name: String) -> String { directory + "/" + name }

    /// The PKI, made once per test process; the reason when `openssl` cannot run.
    public static let shared: Result<TestPKI, PKIError> = {
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

    /// The shared PKI, or a skip with the reason (a failure under `AMQP_REQUIRE_SHARED=1`, as CI
    /// sets, so CI never passes by skipping).
    public static func get() throws -> TestPKI {
        switch shared {
        case .success(let pki): return pki
        case .failure(let error):
            let why = "no test certificates (the openssl command is needed): \(error.message)"
            throw Prerequisite.missing(why, requiredBy: ["AMQP_REQUIRE_PROTON", "AMQP_REQUIRE_SHARED"])
        }
    }

    /// Why the PKI could not be made.
    public struct PKIError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private static func make() throws -> TestPKI {
        let directory = NSTemporaryDirectory() + "amqp-pki-\(getpid())-\(UInt32.random(in: 0 ... .max))"
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
                throw PKIError(message: "openssl \(arguments.joined(separator: " ")): " + String(decoding: output, as: UTF8.self))
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
        try makeCA("ca", "/CN=AMQP Test CA")
        try makeCA("other-ca", "/CN=Nobody's CA")
        try makeLeaf("server", subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1", ca: "ca")
        try makeLeaf("wrongname", subject: "/CN=other.example", san: "DNS:other.example", ca: "ca")
        try makeLeaf("client", subject: "/O=AMQP Tests/CN=amqp-client", san: nil, ca: "ca")
        try makeLeaf("stranger", subject: "/CN=stranger", san: nil, ca: "other-ca")
        try openssl(["pkcs8", "-topk8", "-in", "client.key", "-out", "client-encrypted.key",
                     "-v2", "aes-256-cbc", "-passout", "pass:\(pki.clientKeyPassword)"])
        return pki
    }
}

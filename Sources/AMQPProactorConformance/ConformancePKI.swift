import AMQPSystem

/// A throwaway public key infrastructure for the TLS scenarios, made with the `openssl` command in
/// a temporary directory the first time a TLS scenario runs, and removed when the process exits:
/// a CA, a server certificate for `localhost` and `127.0.0.1`, a client certificate, and a CA
/// nobody trusts (for the unknown-CA scenario). EC P-256 keys, as `Tests/AMQPTLSTests` makes them.
///
/// Threading: a value; Sendable. ``shared`` is made once, on first use, from any thread.
public struct ConformancePKI: Sendable {
    /// The directory holding the files.
    public let directory: String

    /// The CA every certificate here comes from.
    public var caFile: String { path("ca.pem") }
    /// A CA that signed nothing here: a client trusting only it meets an unknown CA.
    public var otherCAFile: String { path("other-ca.pem") }
    /// For `localhost` and `127.0.0.1`, from ``caFile``.
    public var serverCertificate: String { path("server.pem") }
    /// The key of ``serverCertificate``.
    public var serverKey: String { path("server.key") }
    /// Subject `O=AMQP Tests, CN=amqp-client`, from ``caFile``.
    public var clientCertificate: String { path("client.pem") }
    /// The key of ``clientCertificate``.
    public var clientKey: String { path("client.key") }
    /// The RFC 2253 subject of ``clientCertificate``, as a server's SASL layer sees it.
    public let clientSubject = "CN=amqp-client,O=AMQP Tests"

    /// The path of `name` in ``directory``.
    public func path(_ name: String) -> String { directory + "/" + name }

    /// Why the certificates could not be made.
    ///
    /// Threading: a value; Sendable.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The command that failed and what it said.
        public var description: String
    }

    /// The PKI of this process, made on first use; a failure when the `openssl` command cannot
    /// make it (it is not installed, say).
    public static let shared: Result<ConformancePKI, Failure> = {
        let made = Result { () throws(Failure) in try make() }
        if case .success = made { FileSystem.atExit { ConformancePKI.removeShared() } }
        return made
    }()

    private static func removeShared() {
        guard case .success(let pki) = shared else { return }
        _ = FileSystem.runShell("rm -rf '\(pki.directory)'")
    }

    private static func make() throws(Failure) -> ConformancePKI {
        let directory: String
        do throws(Errno) {
            directory = try FileSystem.makeTemporaryDirectory(template: "/tmp/amqp-conformance-pki-XXXXXX")
        } catch {
            throw Failure(description: "cannot make a temporary directory: \(error)")
        }
        let pki = ConformancePKI(directory: directory)
        try pki.run(ca("ca", "/CN=AMQP Conformance CA"))
        try pki.run(ca("other-ca", "/CN=Untrusted Conformance CA"))
        try pki.leaf("server", subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1")
        try pki.leaf("client", subject: "/O=AMQP Tests/CN=amqp-client", san: nil)
        return pki
    }

    private static let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

    private static func ca(_ name: String, _ subject: String) -> String {
        "openssl req -x509 \(ec) -keyout \(name).key -out \(name).pem -days 3650 -subj '\(subject)'"
            + " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    }

    private func leaf(_ name: String, subject: String, san: String?) throws(Failure) {
        try write("basicConstraints=CA:FALSE\n" + (san.map { "subjectAltName=\($0)\n" } ?? ""), to: "\(name).ext")
        try run("openssl req \(Self.ec) -keyout \(name).key -out \(name).csr -subj '\(subject)'")
        try run("openssl x509 -req -in \(name).csr -CA ca.pem -CAkey ca.key -CAcreateserial -out \(name).pem"
                + " -days 365 -sha256 -extfile \(name).ext")
    }

    /// Runs a shell command in the directory; its errors are kept for the failure.
    private func run(_ command: String) throws(Failure) {
        let status = FileSystem.runShell("cd '\(directory)' && \(command) >/dev/null 2>openssl.log")
        guard status == 0 else {
            throw Failure(description: "\(command): exit status \(status): \(read("openssl.log"))")
        }
    }

    private func write(_ text: String, to name: String) throws(Failure) {
        do throws(Errno) {
            try FileSystem.write(text, to: path(name))
        } catch {
            throw Failure(description: "cannot write \(path(name)): \(error)")
        }
    }

    private func read(_ name: String) -> String { FileSystem.readText(path(name)) ?? "" }
}

import ArgumentParser
import AMQPMessaging
import AMQPSASL
import AMQPTLS
#if canImport(Glibc)
import Glibc
#endif

/// TLS and SASL as the command's options give them, turned into the container's options: the
/// same for `send`, `receive` and `arrow` (whose `key=value` options fill it too).
struct SecuritySettings: Sendable {
    var tlsCA: String?
    var tlsCert: String?
    var tlsKey: String?
    /// A password source (``Secrets/read(_:option:)``) for an encrypted key.
    var tlsKeyPassword: String?
    var tlsNoVerify = false
    var tlsNoVerifyHostname = false
    var tlsServerName: String?
    var saslMechanisms: String?
    var user: String?
    /// A password source for the user's password.
    var password: String?
    /// Whether options are `key=value` (the arrow: `tls-ca=`) rather than flags (`--tls-ca`).
    var keyValue = false

    /// How an option is named in errors.
    func spelling(_ name: String) -> String { keyValue ? "\(name)=" : "--\(name)" }

    /// Whether any TLS option was given.
    var anyTLS: Bool {
        tlsCA != nil || tlsCert != nil || tlsKey != nil || tlsKeyPassword != nil || tlsNoVerify || tlsNoVerifyHostname || tlsServerName != nil
    }

    /// Options for a connection to `url`: TLS for amqps, SASL from the URL or the user options.
    /// Warns on stderr when verification is turned off.
    func client(url text: String) throws -> ConnectionOptions {
        let url: MessagingURL
        do { url = try MessagingURL(text) } catch { throw CommandFailure("\(error)") }
        var options = ConnectionOptions()
        if url.scheme == "amqps" {
            var tls = TLSConfiguration.client()
            if let ca = tlsCA { tls.trustRoots = Self.trustRoots(ca) }
            try certificate(into: &tls)
            tls.serverName = tlsServerName
            if tlsNoVerify {
                tls.verifyPeer = false
                Secrets.warn("\(spelling("tls-no-verify")): the server's certificate is not checked: anyone between us and the server can read and change the connection")
            } else if tlsNoVerifyHostname {
                tls.verifyHostname = false
                Secrets.warn("\(spelling("tls-no-verify-hostname")): the server's certificate may be for any name: anyone with a certificate from a trusted CA can read and change the connection")
            }
            options.tls = tls
        } else if anyTLS {
            throw CommandFailure("TLS options (\(spelling("tls-…"))) need an amqps:// URL, not '\(url)'")
        }
        if let names = saslMechanisms { options.saslMechanisms = [names] }
        if user != nil && url.user != nil { throw CommandFailure("give the user in the URL or with \(spelling("user")), not both") }
        if password != nil && url.password != nil {
            throw CommandFailure("give the password in the URL or with \(spelling("password")), not both")
        }
        if let who = user ?? url.user {
            options.user = who
            if url.password == nil {
                options.password = try password.map { source throws(CommandFailure) in try Secrets.read(source, option: spelling("password")) }
                    ?? Secrets.passwordFor(who)
            }
        } else if password != nil {
            throw CommandFailure("\(spelling("password")) needs a user (in the URL or with \(spelling("user")))")
        }
        return options
    }

    /// Options for a listener on `url` (`receive --listen`, a server arrow): a TLS certificate for
    /// amqps, and client certificates verified against ``tlsCA`` when given.
    func listener(url text: String) throws -> ConnectionOptions {
        let url: MessagingURL
        do { url = try MessagingURL(text) } catch { throw CommandFailure("\(error)") }
        var options = ConnectionOptions()
        guard url.scheme == "amqps" else {
            if anyTLS { throw CommandFailure("TLS options (\(spelling("tls-…"))) need an amqps:// URL, not '\(url)'") }
            return options
        }
        guard tlsCert != nil else { throw CommandFailure("listening on amqps:// needs \(spelling("tls-cert")) and \(spelling("tls-key"))") }
        if tlsNoVerify || tlsNoVerifyHostname || tlsServerName != nil {
            throw CommandFailure("\(spelling("tls-no-verify")), \(spelling("tls-no-verify-hostname")) and \(spelling("tls-server-name")) are for clients")
        }
        var tls = TLSConfiguration(role: .server)
        try certificate(into: &tls)
        if let ca = tlsCA {
            tls.trustRoots = Self.trustRoots(ca)
            tls.clientCertificates = .optional
        }
        options.tls = tls
        options.saslServer = SASLServerOptions(mechanisms: [.external], credentials: nil, allowAnonymous: true)
        return options
    }

    /// Our certificate and key, both or neither, and the key's password.
    func certificate(into tls: inout TLSConfiguration) throws(CommandFailure) {
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw CommandFailure("\(spelling("tls-cert")) and \(spelling("tls-key")) go together")
        }
        tls.certificateChainFile = tlsCert
        tls.privateKeyFile = tlsKey
        if let source = tlsKeyPassword {
            guard tlsKey != nil else { throw CommandFailure("\(spelling("tls-key-password")) needs \(spelling("tls-key"))") }
            tls.privateKeyPassword = try Secrets.read(source, option: spelling("tls-key-password"))
        }
    }

    /// A CA file, or a directory of them (hashed, as `openssl rehash` makes).
    static func trustRoots(_ path: String) -> TLSConfiguration.TrustRoots {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR ? .directory(path) : .file(path)
    }
}

/// The client options of `send` and `receive`.
struct ClientSecurityOptions: ParsableArguments {
    @Option(name: .customLong("tls-ca"), help: ArgumentHelp("CA certificates (a PEM file, or a hashed directory) to verify the server with; default: the system's.", valueName: "file"))
    var tlsCA: String?
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Our certificate chain (PEM), for servers that ask for one (SASL EXTERNAL); with --listen, the server's.", valueName: "file"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-cert (PEM).", valueName: "file"))
    var tlsKey: String?
    @Option(name: .customLong("tls-key-password"), help: ArgumentHelp("The password of an encrypted --tls-key: \(Secrets.sources).", valueName: "source"))
    var tlsKeyPassword: String?
    @Flag(name: .customLong("tls-no-verify"), help: "Do not verify the server's certificate (tests only: anyone in between can read and change the connection).")
    var tlsNoVerify = false
    @Flag(name: .customLong("tls-no-verify-hostname"), help: "Do not check that the certificate is for the server's name (tests only).")
    var tlsNoVerifyHostname = false
    @Option(name: .customLong("tls-server-name"), help: ArgumentHelp("The name to send (SNI) and check the certificate against; default: the URL's host.", valueName: "name"))
    var tlsServerName: String?
    @Option(name: .customLong("sasl-mechanisms"), help: ArgumentHelp("SASL mechanisms we may use, the strongest the server offers being chosen (SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,EXTERNAL,ANONYMOUS).", valueName: "list"))
    var saslMechanisms: String?
    @Option(help: ArgumentHelp("The user to authenticate as (or give it in the URL).", valueName: "name"))
    var user: String?
    @Option(help: ArgumentHelp("Where the password comes from: \(Secrets.sources); default: AMQP_PASSWORD, else a prompt on a terminal, else the first line of stdin.", valueName: "source"))
    var password: String?

    var settings: SecuritySettings {
        SecuritySettings(tlsCA: tlsCA, tlsCert: tlsCert, tlsKey: tlsKey, tlsKeyPassword: tlsKeyPassword, tlsNoVerify: tlsNoVerify,
                         tlsNoVerifyHostname: tlsNoVerifyHostname, tlsServerName: tlsServerName, saslMechanisms: saslMechanisms,
                         user: user, password: password)
    }
}

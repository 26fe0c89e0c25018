import ArgumentParser
import AMQPBroker
import AMQPMessaging
import AMQPSASL
import AMQPSystem
import AMQPTLS
import Logging
#if canImport(Glibc)
import Glibc
#endif

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "broker",
                                                    abstract: "Run the multithreaded broker until SIGINT or SIGTERM.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free one); default 5672, or 5671 with TLS.") var port: Int?
    @Option(help: "Threads serving connections.") var threads = 4
    @Option(help: "Messages a queue holds at most, delivered and unsettled included.") var queueLimit = 10_000
    @Option(help: "Bytes a queue holds before its producers get no more credit.") var queueByteLimit = 64 << 20
    @Option(help: "Credit a producer holds at most.") var creditWindow = 100
    @Option(help: "Largest message a producer may send, in bytes (0: no limit).") var maxMessageSize = 0
    @Option(help: "Seconds a client has to open its connection before it is dropped.") var openTimeout = 2.0
    @Option(help: "Log level on stderr: trace, debug, info (each client that connects, and who it is), notice, warning, error or critical.")
    var logLevel = "error"
    @OptionGroup var backend: BackendOption
    @OptionGroup(title: "TLS and SASL") var security: BrokerSecurityOptions

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw CommandFailure("unknown --log-level '\(logLevel)' (trace, debug, info, notice, warning, error or critical)")
        }
        let tls = try security.tls()
        let port = self.port ?? (tls == nil ? 5672 : 5671)
        guard (0...65535).contains(port) else { throw CommandFailure("--port must be 0 to 65535") }
        guard threads > 0 else { throw CommandFailure("--threads must be at least 1") }
        guard openTimeout > 0 else { throw CommandFailure("--open-timeout must be positive") }
        guard queueLimit > 0, queueByteLimit > 0 else { throw CommandFailure("--queue-limit and --queue-byte-limit must be at least 1") }
        guard (1...Int(UInt32.max)).contains(creditWindow) else { throw CommandFailure("--credit-window must be 1 to \(UInt32.max)") }
        guard maxMessageSize >= 0 else { throw CommandFailure("--max-message-size must be 0 or more") }
        let signals = TerminationSignals.block()

        var options = ConnectionOptions()
        options.tls = tls
        options.saslServer = try security.sasl(tls: tls != nil)
        let container = try backend.container(id: "amqp-broker", logLevel: level)
        let broker = Broker(queueLimit: queueLimit, queueByteLimit: queueByteLimit, creditWindow: UInt32(creditWindow),
                            maxMessageSize: maxMessageSize > 0 ? UInt64(maxMessageSize) : nil)
        let bound: UInt16
        do {
            options.openTimeout = .milliseconds(Int(openTimeout * 1000))
            options.offeredCapabilities = Broker.offeredCapabilities
            let url = "\(tls == nil ? "amqp" : "amqps")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            let listener = try container.listen(url, options: options) { broker.handler() }
            guard let p = listener.port else { throw CommandFailure("cannot listen on \(host):\(port)") }
            bound = p
        } catch let e as CommandFailure {
            throw e
        } catch {
            throw CommandFailure("\(error)")
        }
        print("amqp broker listening on \(host):\(bound)\(tls == nil ? "" : " with TLS") (\(container.backendDescription))")
        fflush(nil)
        try signals.onSignal { container.stop() }
        try container.run(threads: threads)
        print("amqp broker stopped")
    }
}

/// The broker's TLS and SASL options.
struct BrokerSecurityOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("The broker's certificate chain (PEM, ours first): listen with TLS (amqps).", valueName: "file"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-cert (PEM).", valueName: "file"))
    var tlsKey: String?
    @Option(name: .customLong("tls-key-password"), help: ArgumentHelp("The password of an encrypted --tls-key: \(Secrets.sources).", valueName: "source"))
    var tlsKeyPassword: String?
    @Option(name: .customLong("tls-ca"), help: ArgumentHelp("CA certificates (PEM file or hashed directory) that client certificates must come from: clients may present one (SASL EXTERNAL).", valueName: "file"))
    var tlsCA: String?
    @Flag(name: .customLong("require-client-cert"), help: "Refuse TLS clients without a certificate from --tls-ca.")
    var requireClientCert = false
    @Option(help: ArgumentHelp("The users file (salted SCRAM credentials; `amqp users add` writes it): clients log in with SCRAM-SHA-512, SCRAM-SHA-256, or PLAIN over TLS; anonymous only with --allow-anonymous.", valueName: "file"))
    var users: String?
    @Flag(help: "Let clients in without a user (ANONYMOUS): the default without --users.")
    var allowAnonymous = false
    @Flag(help: "Accept PLAIN without TLS, where the password crosses the network in clear (trusted networks only).")
    var allowPlainWithoutTls = false
    @Option(help: ArgumentHelp("The SASL mechanisms to offer (SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,EXTERNAL,ANONYMOUS); default: all but ANONYMOUS with --users, EXTERNAL and ANONYMOUS without.", valueName: "list"))
    var mechanisms: String?

    /// The server's TLS configuration, or nil without --tls-cert.
    func tls() throws(CommandFailure) -> TLSConfiguration? {
        guard let cert = tlsCert else {
            if tlsKey != nil || tlsKeyPassword != nil || tlsCA != nil || requireClientCert {
                throw CommandFailure("--tls-key, --tls-key-password, --tls-ca and --require-client-cert need --tls-cert")
            }
            return nil
        }
        guard let key = tlsKey else { throw CommandFailure("--tls-cert needs --tls-key") }
        var tls = TLSConfiguration.server(certificateChainFile: cert, privateKeyFile: key)
        if let source = tlsKeyPassword { tls.privateKeyPassword = try Secrets.read(source, option: "--tls-key-password") }
        if let ca = tlsCA {
            tls.trustRoots = SecuritySettings.trustRoots(ca)
            tls.clientCertificates = requireClientCert ? .required : .optional
        } else if requireClientCert {
            throw CommandFailure("--require-client-cert needs --tls-ca (the CA client certificates must come from)")
        }
        return tls
    }

    /// How clients authenticate: with --users, its users (and ANONYMOUS only if allowed); without,
    /// ANONYMOUS (and EXTERNAL for client certificates), as before there were users.
    func sasl(tls: Bool) throws(CommandFailure) -> SASLServerOptions {
        var credentials: (any SASLCredentialStore)?
        if let path = users {
            do { credentials = try SASLUsersFile(contentsOfFile: path) } catch { throw CommandFailure(error.description) }
        }
        var options: SASLServerOptions
        if let list = mechanisms {
            do {
                options = try SASLServerOptions(mechanismNames: [list], credentials: credentials)
            } catch {
                throw CommandFailure("--mechanisms: \(error.description)")
            }
        } else if credentials != nil {
            options = SASLServerOptions(credentials: credentials)
        } else {
            options = SASLServerOptions(mechanisms: [.external, .anonymous], credentials: nil)
        }
        if allowAnonymous { options.allowAnonymous = true }
        if allowPlainWithoutTls {
            guard options.mechanisms.contains(.plain) else { throw CommandFailure("--allow-plain-without-tls: PLAIN is not offered (it needs --users)") }
            options.allowPlainWithoutTLS = true
        }
        do { _ = try options.configuration() } catch { throw CommandFailure(error.description) }
        return options
    }
}

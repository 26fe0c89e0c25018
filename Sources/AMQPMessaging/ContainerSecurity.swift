import AMQPEngine
import AMQPProactor
import AMQPSASL
import AMQPTLS

// TLS and SASL for the container's connections and listeners: checked once, when a connection or
// listener is made (so every configuration error is thrown by connect or listen, never met by a
// connection later), then applied to each driver. The one place a TLS layer meets the proactor
// is `proactorConnect` and `proactorAccept` below.

/// How one URL of a client connection is secured: its SASL configuration, and TLS when it is
/// `amqps://`.
struct ClientSecurity: Sendable {
    /// The client's SASL; nil: no SASL layer.
    var sasl: SASLClientConfiguration?
    /// The TLS context shared by the connection's `amqps://` URLs; nil for `amqp://`.
    var tls: TLSContext?
    /// The name sent for SNI and checked against the server's certificate.
    var serverName: String?

    /// Checks `options` for every URL of a connection (its own, then failover ones).
    /// - Returns: the security of each URL, in order.
    /// - Throws: ``MessagingError`` for TLS files that do not load, a server configuration, TLS
    ///   options without an `amqps://` URL, or SASL names that cannot work.
    static func make(_ options: ConnectionOptions, urls: [MessagingURL]) throws(MessagingError) -> [MessagingURL: ClientSecurity] {
        var tls: TLSContext?
        if urls.contains(where: \.isTLS) {
            let configuration = options.tls ?? .client()
            guard configuration.role == .client else {
                throw .invalidOptions("ConnectionOptions.tls is a server's configuration; a connection needs TLSConfiguration.client()")
            }
            do { tls = try TLSContext(configuration: configuration) } catch { throw .tls(error) }
            try TLSTransport.checkAvailable()
        } else if options.tls != nil {
            throw .invalidOptions("ConnectionOptions.tls is set, but '\(urls[0])' is not amqps://")
        }
        let clientCertificate = options.tls?.certificateChainFile != nil
        // Failover URLs without a user of their own use the connection's (Proton C++ does too).
        var shared = options
        if let user = urls[0].user {
            shared.user = user
            if let password = urls[0].password { shared.password = password }
        }
        var made: [MessagingURL: ClientSecurity] = [:]
        for url in urls {
            let sasl = try saslClient(url: url, options: shared, clientCertificate: url.isTLS && clientCertificate)
            made[url] = ClientSecurity(sasl: sasl, tls: url.isTLS ? tls : nil,
                                       serverName: url.isTLS ? (options.tls?.serverName ?? url.host) : nil)
        }
        return made
    }

    /// The client's SASL for `url`: ``ConnectionOptions/saslMechanisms`` when given, else the
    /// strongest of what a user and password, a client certificate, or neither allow.
    static func saslClient(url: MessagingURL, options: ConnectionOptions,
                           clientCertificate: Bool) throws(MessagingError) -> SASLClientConfiguration? {
        let user = url.user ?? options.user
        let password = url.password ?? options.password
        if let names = options.saslMechanisms {
            if names.isEmpty { return nil }
            do {
                return try SASLClientConfiguration(mechanismNames: names, username: user, password: password)
            } catch {
                throw .sasl(error)
            }
        }
        var mechanisms: [SASLClientMechanism] = []
        if let user { mechanisms += SASLClientConfiguration.password(username: user, password: password ?? "").mechanisms }
        if clientCertificate { mechanisms.append(.external()) }
        if user == nil { mechanisms.append(.anonymous()) }
        return SASLClientConfiguration(mechanisms: mechanisms)
    }
}

/// How a listener's connections are secured.
struct ListenerSecurity: Sendable {
    /// The engine's SASL server configuration, shared by every accepted connection.
    var sasl: SASLServerConfiguration
    /// The server's TLS context, for `amqps://` listeners.
    var tls: TLSContext?

    /// Checks a listener's options.
    /// - Throws: ``MessagingError`` for `amqps://` without a server certificate, TLS options on
    ///   `amqp://`, TLS files that do not load, or SASL options that cannot work.
    init(_ options: ConnectionOptions, url: MessagingURL) throws(MessagingError) {
        if url.isTLS {
            guard let configuration = options.tls else {
                throw .invalidOptions("listening on amqps:// needs a certificate: ConnectionOptions.tls = .server(certificateChainFile:privateKeyFile:)")
            }
            guard configuration.role == .server else {
                throw .invalidOptions("ConnectionOptions.tls is a client's configuration; a listener needs TLSConfiguration.server(...)")
            }
            do { tls = try TLSContext(configuration: configuration) } catch { throw .tls(error) }
            try TLSTransport.checkAvailable()
        } else if options.tls != nil {
            throw .invalidOptions("ConnectionOptions.tls is set, but '\(url)' is not amqps://")
        }
        do {
            sasl = try (options.saslServer ?? .anonymousOnly).configuration()
        } catch {
            throw .sasl(error)
        }
    }
}

extension MessagingURL {
    /// Whether the scheme is `amqps`.
    var isTLS: Bool { scheme == "amqps" }
}

extension Container {
    /// Connects a driver to `address`, through TLS when `security` has a context.
    func proactorConnect(to address: String, configuration: DriverConfiguration, security: ClientSecurity?) -> ProactorConnection {
        guard security?.tls == nil else { TLSTransport.unreachable() }
        return proactor.connect(to: address, configuration: configuration)
    }

    /// Accepts the listener's pending connection, through TLS when `security` has a context.
    func proactorAccept(_ listener: ProactorListener, configuration: DriverConfiguration,
                        security: ListenerSecurity) -> ProactorConnection? {
        guard security.tls == nil else { TLSTransport.unreachable() }
        return listener.accept(configuration: configuration)
    }
}

/// Until the proactor backends take a transport layer (`AMQPProactorTLS`, branch tls-proactor):
/// TLS options are checked (their files loaded), then refused.
enum TLSTransport {
    static func checkAvailable() throws(MessagingError) {
        throw .invalidOptions("TLS on the proactor backends is not in this build yet")
    }

    static func unreachable() -> Never { preconditionFailure("TLS without a transport layer") }
}

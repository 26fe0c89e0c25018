import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPProactorTLS
import AMQPSASL
import AMQPTLS
import Logging

// TLS and SASL for the container's connections and listeners: checked once, when a connection or
// listener is made (so every configuration error is thrown by connect or listen, never met by a
// connection later), then applied to each driver. The TLS layer (AMQPProactorTLS's TLSLayer)
// meets the proactor in one place: `proactorConnect` and `proactorAccept` below. On a server the
// layer tells the driver its transport (secure, and the client certificate's subject) before the
// driver reads a byte, which is what SASL's offer (PLAIN over TLS, EXTERNAL) goes by.

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
            let security = ClientSecurity(sasl: sasl, tls: url.isTLS ? tls : nil,
                                          serverName: url.isTLS ? (options.tls?.serverName ?? url.host) : nil)
            if let tls = security.tls {
                // A session is made once here, so what it refuses is refused now.
                do { _ = try TLSLayer(context: tls, serverName: security.serverName) } catch { throw .tls(error) }
            }
            made[url] = security
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
        guard let context = security?.tls else { return proactor.connect(to: address, configuration: configuration) }
        let layer: any TransportLayer
        do {
            layer = try TLSLayer(context: context, serverName: security?.serverName)
        } catch {
            // Checked in connect(), so only OpenSSL failing to make a session: the connection
            // fails with its reason, as a handshake failure would. Never in clear.
            layer = FailedLayer(error)
        }
        return proactor.connect(to: address, configuration: configuration, layer: layer)
    }

    /// Accepts the listener's pending connection, through TLS when `security` has a context;
    /// nil when it was refused.
    func proactorAccept(_ listener: ProactorListener, configuration: DriverConfiguration,
                        security: ListenerSecurity, logger: Logger) -> ProactorConnection? {
        guard let context = security.tls else { return listener.accept(configuration: configuration) }
        do {
            return listener.accept(configuration: configuration, layer: try TLSLayer(context: context))
        } catch {
            logger.warning("refused a connection: no TLS session", metadata: ["amqp.description": "\(error.description)"])
            listener.refuse()
            return nil
        }
    }
}

/// The layer of a client connection whose TLS session could not be made: it fails the driver's
/// transport with the reason as soon as the backend asks for output, so the connection ends as
/// a failed handshake does, and nothing is ever sent in clear.
///
/// Threading: used by the thread holding the connection's batch only, as every layer.
final class FailedLayer: TransportLayer {
    private let error: TLSError
    private var reported = false

    init(_ error: TLSError) { self.error = error }

    func readBuffer(driver: ConnectionDriver) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: nil, count: 0) }
    func readDone(_ count: Int, driver: ConnectionDriver) {}
    func read(_ bytes: UnsafeRawBufferPointer, driver: ConnectionDriver) {}
    func readClose(driver: ConnectionDriver) { fail(driver) }

    func output(driver: ConnectionDriver, early: Bool) -> UnsafeRawBufferPointer {
        if !early { fail(driver) }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    func writeDone(_ count: Int, driver: ConnectionDriver) {}
    func hasOutput(driver: ConnectionDriver) -> Bool { !reported }
    func wantsInput(driver: ConnectionDriver) -> Bool { false }

    private func fail(_ driver: ConnectionDriver) {
        guard !reported else { return }
        reported = true
        driver.failTransport(AMQPError(condition: Symbol(error.suggestedCondition), description: error.description))
        if !driver.isTailClosed { driver.readClose() }
        driver.writeClose()
    }
}

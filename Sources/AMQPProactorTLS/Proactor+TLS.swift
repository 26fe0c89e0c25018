import AMQPEngine
import AMQPProactor
import AMQPTLS

extension Proactor {
    /// Connects a new client connection to `address` over TLS: `Proactor.connect(to:configuration:layer:)`
    /// with a ``TLSLayer`` made from `context`.
    ///
    /// The server name sent for SNI and checked against the server's certificate is `serverName`,
    /// else the context's `TLSConfiguration.serverName`, else the address's host
    /// (`localhost` for an empty one). Failures of the handshake (an unknown CA, a wrong host
    /// name) end the connection with a transport error in its batch, as a refused connect does.
    /// - Parameters:
    ///   - address: `host:port`, as for `Proactor.connect(to:configuration:layer:)`.
    ///   - configuration: the driver's configuration.
    ///   - context: a client context (`TLSConfiguration.client(serverName:)`).
    ///   - serverName: the name to send and check, if not the address's host.
    /// - Returns: the connection.
    /// - Throws: `TLSError` of kind `configuration` when the session cannot be made
    ///   (a server context, or OpenSSL's failure); nothing was connected then.
    ///
    /// Threading: any thread, like every `Proactor` method.
    @discardableResult
    public func connect(to address: String, configuration: DriverConfiguration, tls context: TLSContext,
                        serverName: String? = nil) throws(TLSError) -> ProactorConnection {
        guard context.configuration.role == .client else {
            throw TLSError(kind: .configuration, reason: "a client connection needs a client context (TLSConfiguration.client)",
                           context: "cannot connect to \(address) over TLS")
        }
        let host = ProactorAddress(address).map { $0.host.isEmpty ? "localhost" : $0.host }
        let name = serverName ?? context.configuration.serverName ?? host
        let layer = try TLSLayer(context: context, serverName: name)
        return connect(to: address, configuration: configuration, layer: layer)
    }
}

extension ProactorListener {
    /// Accepts the connection of the current `ProactorEvent.listenerAccept(_:)` over
    /// TLS: `ProactorListener.accept(configuration:layer:)` with a ``TLSLayer`` made from `context`.
    /// - Parameters:
    ///   - configuration: the driver's configuration.
    ///   - context: a server context (`TLSConfiguration.server(certificateChainFile:privateKeyFile:privateKeyPassword:)`).
    ///   - allowPlaintext: also take plaintext AMQP clients on this port (``TLSLayer/init(context:serverName:allowPlaintext:)``).
    /// - Returns: the connection; nil when no accepted connection waits.
    /// - Throws: `TLSError` of kind `configuration` when the layer cannot be made (a
    ///   client context, or OpenSSL's failure); the connection is still waiting then: refuse it.
    ///
    /// Threading: in the listener's batch, like `ProactorListener.accept(configuration:)`.
    @discardableResult
    public func accept(configuration: DriverConfiguration, tls context: TLSContext,
                       allowPlaintext: Bool = false) throws(TLSError) -> ProactorConnection? {
        guard context.configuration.role == .server else {
            throw TLSError(kind: .configuration, reason: "a listener needs a server context (TLSConfiguration.server)",
                           context: "cannot accept a TLS connection")
        }
        return accept(configuration: configuration, layer: try TLSLayer(context: context, allowPlaintext: allowPlaintext))
    }
}

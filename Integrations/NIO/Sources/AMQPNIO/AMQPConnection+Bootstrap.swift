import AMQPCodec
import AMQPEngine
import Logging
import NIOCore
import NIOPosix
import NIOSSL

extension AMQPConnection {
    /// Connects to a parsed URL; see ``connect(to:configuration:eventLoopGroup:logger:)``.
    public static func connect(
        to url: AMQPURL,
        configuration: AMQPClientConfiguration = AMQPClientConfiguration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "amqp.nio")
    ) async throws(AMQPClientError) -> AMQPConnection {
        let logger = {
            var l = logger
            l[metadataKey: "amqp.url"] = "\(url)"
            return l
        }()
        let tls = try makeTLS(url: url, configuration: configuration)
        let driverConfiguration = configuration.driverConfiguration(for: url)
        let loop = eventLoopGroup.next()
        let box = NIOLoopBoundBox.makeEmptyBox(valueType: ConnectionCore.self, eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    let core = ConnectionCore(configuration: driverConfiguration, logger: logger,
                                              outputHighWaterMark: configuration.outputHighWaterMark,
                                              openCall: channel.eventLoop.makePromise())
                    try channel.pipeline.syncOperations.addHandler(core.handler)
                    box.value = core
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: url.host, port: url.port).get()
        } catch {
            throw AMQPClientError(.connectFailed, "cannot connect to \(url.host):\(url.port): \(error)")
        }
        // The peer's open, or why it did not come: TLS, SASL, a close, or the timeout.
        let opened = loop.submit { () -> (NIOLoopBound<ConnectionCore>, EventLoopFuture<Void>) in
            let core = box.value!
            let timeout = loop.assumeIsolated().scheduleTask(in: configuration.connectTimeout) {
                core.fail(AMQPClientError(.timedOut, "no open from \(url.host):\(url.port) within the connect timeout"))
                channel.close(promise: nil)
            }
            let open = core.opened
            open.whenComplete { _ in timeout.cancel() }
            return (NIOLoopBound(core, eventLoop: loop), open)
        }
        let (core, open) = try! await opened.get()  // the closure does not throw
        do {
            // Cancelling the task closes the channel, which fails the open.
            try await withTaskCancellationHandler { try await open.get() } onCancel: { channel.close(promise: nil) }
        } catch {
            channel.close(promise: nil)
            if Task.isCancelled { throw .cancelled }
            throw error as? AMQPClientError ?? AMQPClientError(.connectionClosed, "\(error)")
        }
        logger.debug("connected")
        return AMQPConnection(url: url, channel: channel, core: core, logger: logger, closeTimeout: configuration.closeTimeout)
    }

    private struct TLS: Sendable {
        let context: NIOSSLContext
        let serverName: String?
    }

    private static func makeTLS(url: AMQPURL, configuration: AMQPClientConfiguration) throws(AMQPClientError) -> TLS? {
        guard url.useTLS else { return nil }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration.tls)
        } catch {
            throw AMQPClientError(.tlsFailed, "invalid TLS configuration: \(error)")
        }
        let name = configuration.tlsServerName ?? url.host
        // SNI carries host names only; for an IP address NIOSSL checks the certificate's IP SANs.
        let isAddress = name.contains(":") || name.split(separator: ".").allSatisfy { UInt8($0) != nil }
        return TLS(context: context, serverName: isAddress ? nil : name)
    }

    /// The client error for what closed a channel: TLS failures get their own code and text.
    static func describeChannelError(_ error: any Error) -> AMQPClientError {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            return AMQPClientError(.tlsFailed, "TLS handshake failed: \(error)")
        }
        return AMQPClientError(.connectionClosed, "connection lost: \(error)")
    }
}

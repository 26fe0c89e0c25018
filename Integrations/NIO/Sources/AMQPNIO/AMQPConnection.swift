import AMQPCodec
import AMQPEngine
import Logging
import NIOCore
import NIOPosix

/// An AMQP 1.0 client connection on a SwiftNIO channel, with async/await calls.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(to: "amqps://broker.example/orders")
/// let sender = try await connection.openSender()
/// let outcome = try await sender.send(Message(value: .string("hello")))   // .accepted
/// try await connection.close()
/// ```
/// All engine objects stay on the channel's event loop; this handle is `Sendable` and may be
/// used from any task. Calls run on the loop and return when the peer answered. See Docs/NIO.md.
public final class AMQPConnection: Sendable {
    /// The URL connected to.
    public let url: AMQPURL
    let channel: any Channel
    let core: NIOLoopBound<ConnectionCore>
    let logger: Logger
    let closeTimeout: TimeAmount

    init(url: AMQPURL, channel: any Channel, core: NIOLoopBound<ConnectionCore>, logger: Logger, closeTimeout: TimeAmount) {
        self.url = url
        self.channel = channel
        self.core = core
        self.logger = logger
        self.closeTimeout = closeTimeout
    }

    /// Connects to `url` (`amqp[s]://[user[:password]@]host[:port][/address]`) and returns once
    /// the peer's open has arrived. TLS for `amqps`, verified as `configuration.tls` says.
    /// - Throws: ``AMQPClientError``: `.invalidURL`, `.connectFailed`, `.tlsFailed`,
    ///   `.transportFailed` (e.g. SASL refused), `.connectionClosed`, `.timedOut`.
    public static func connect(
        to url: String,
        configuration: AMQPClientConfiguration = AMQPClientConfiguration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "amqp.nio")
    ) async throws(AMQPClientError) -> AMQPConnection {
        try await connect(to: AMQPURL(url), configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// The peer's address from the URL the connection was made with, for links opened without one.
    public var defaultAddress: String? { url.address }

    /// Opens a sending link to `address` (the URL's address when nil) and returns once the peer
    /// attached it. `settled: true` sends at most once: `send` returns ``SendOutcome/settled``.
    public func openSender(address: String? = nil, name: String? = nil, settled: Bool = false) async throws(AMQPClientError) -> AMQPSender {
        let address = address ?? url.address
        let id = IDBox()
        try await call({ core, call in id.value = core.openSender(address: address, name: name, settled: settled, call: call) },
                       onCancel: { core, call in call.complete(.failure(.cancelled)) })
        return AMQPSender(connection: self, id: id.value!)
    }

    /// Opens a receiving link from `address` (the URL's address when nil). The peer may send at
    /// most `capacity` messages ahead of the application: credit is granted as the application
    /// takes messages, so the buffer never holds more.
    public func openReceiver(address: String? = nil, name: String? = nil, capacity: Int = 100) async throws(AMQPClientError) -> AMQPReceiver {
        let address = address ?? url.address
        let capacity = max(1, capacity)
        let id = IDBox()
        try await call({ core, call in id.value = core.openReceiver(address: address, name: name, capacity: capacity, call: call) },
                       onCancel: { core, call in call.complete(.failure(.cancelled)) })
        return AMQPReceiver(connection: self, id: id.value!)
    }

    /// Closes the connection (AMQP close, then the socket) and returns when the channel is closed.
    /// A peer that does not answer within the close timeout has its socket closed anyway.
    public func close() async throws(AMQPClientError) {
        startClose()
        do { try await channel.closeFuture.get() } catch { /* already closed: that is the goal */ }
    }

    /// Starts closing without waiting: sends close, and drops the socket after the close timeout.
    public func startClose() {
        let core = self.core, channel = self.channel, timeout = closeTimeout
        channel.eventLoop.execute {
            let c = core.value
            c.closeRequested = true
            c.driver.connection.close()
            c.handler.scheduleTurn()
            channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        }
    }

    /// Completes when the channel closes, whoever closed it.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Why the connection ended, once it has; nil while it is open, and after a close we asked
    /// for that the peer answered without an error.
    public func failure() async -> AMQPClientError? {
        try? await onLoop { core in
            guard let f = core.failure else { return nil }
            return core.closeRequested && f.code == .connectionClosed && f.remoteError == nil ? nil : f
        }
    }
}

/// Carries an id out of a loop callback. Written on the loop before the call completes and read
/// after the awaiting task resumes; the continuation's resume orders the two, which is what makes
/// the `@unchecked Sendable` safe.
final class IDBox: @unchecked Sendable {
    var value: UInt64?
}

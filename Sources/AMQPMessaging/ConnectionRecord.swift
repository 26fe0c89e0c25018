import AMQPCodec
import AMQPEngine
import Logging

/// What a container keeps for one connection, found again in each of its batches through the
/// driver's ``AMQPEngine/DriverConfiguration/context``.
///
/// @unchecked Sendable, and what makes it safe: `handler` and `messaging` are touched only while
/// a thread handles one of this connection's batches (and `handler` once before, when the record
/// is made, before the proactor knows the connection). The proactor never hands one connection's
/// batches to two threads at once, and its lock orders one batch's end before the next one's
/// start, so these fields are never accessed concurrently. The stress test in
/// `ContainerSequenceTests` checks it under the thread sanitizer.
final class ConnectionRecord: @unchecked Sendable {
    let workQueue: WorkQueue
    let url: MessagingURL?
    let isClient: Bool
    let openTimeout: Duration?
    let reconnect: ReconnectOptions?
    /// The URLs to try, own first (client connections).
    let urls: [MessagingURL]
    /// Reconnect attempts since the last successful open.
    @exclusivity(unchecked) var attempts = 0
    /// Which of `urls` the connection uses (or last tried).
    @exclusivity(unchecked) var urlIndex = 0

    /// The handler, until the first batch moves it into `messaging`.
    @exclusivity(unchecked) var handler: (any MessagingHandler)?
    @exclusivity(unchecked) var messaging: MessagingConnection?
    @exclusivity(unchecked) var finished = false

    /// The connection's logger, with its id and peer in the metadata.
    let logger: Logger

    init(workQueue: WorkQueue, url: MessagingURL?, isClient: Bool, options: ConnectionOptions, failover: [MessagingURL] = [],
         logger: Logger, handler: any MessagingHandler) {
        self.workQueue = workQueue
        self.logger = logger
        self.url = url
        self.isClient = isClient
        self.openTimeout = options.openTimeout
        self.reconnect = isClient ? options.reconnect : nil
        self.urls = (url.map { [$0] } ?? []) + failover
        self.handler = handler
    }
}

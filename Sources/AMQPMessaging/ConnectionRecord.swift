import AMQPCodec
import AMQPEngine
import Logging

/// What a container keeps for one connection, found again in each of its batches through the
/// driver's ``AMQPEngine/DriverConfiguration/context``.
///
/// @unchecked Sendable, and what makes it safe: `handler`, `messaging`, `reconnect` and `finished`
/// are touched only while a thread handles one of this connection's batches, or by the one party
/// that holds the record when no batch can come: its maker (before the proactor knows the
/// connection), and between the connections of a reconnect the timer that makes the next one or,
/// when the container stops, ends the record (`Container.reconnecting` hands the record to
/// exactly one of them, under its lock). The proactor never hands one connection's batches to two
/// threads at once, and its lock orders one batch's end before the next one's start, so these
/// fields are never accessed concurrently. `ContainerSequenceTests` and `ReconnectTests` check it
/// under the thread sanitizer.
final class ConnectionRecord: @unchecked Sendable {
    let workQueue: WorkQueue
    let url: MessagingURL?
    let isClient: Bool
    let openTimeout: Duration?
    /// The URLs to try, own first (client connections).
    let urls: [MessagingURL]
    /// Where the connection is in its reconnect schedule; nil: it does not reconnect.
    @exclusivity(unchecked) var reconnect: ReconnectSchedule?

    /// The handler, until the first batch moves it into `messaging`.
    @exclusivity(unchecked) var handler: (any MessagingHandler)?
    @exclusivity(unchecked) var messaging: MessagingConnection?
    @exclusivity(unchecked) var finished = false
    /// Whether the current connection runs over TLS (set by whoever makes it).
    @exclusivity(unchecked) var isTLS = false

    /// The connection's logger, with its id and peer in the metadata.
    let logger: Logger

    init(workQueue: WorkQueue, url: MessagingURL?, isClient: Bool, options: ConnectionOptions, failover: [MessagingURL] = [],
         logger: Logger, handler: any MessagingHandler) {
        self.workQueue = workQueue
        self.logger = logger
        self.url = url
        self.isClient = isClient
        self.openTimeout = options.openTimeout
        self.urls = (url.map { [$0] } ?? []) + failover
        self.reconnect = isClient ? options.reconnect.map { ReconnectSchedule(options: $0, urlCount: urls.count) } : nil
        self.handler = handler
    }
}

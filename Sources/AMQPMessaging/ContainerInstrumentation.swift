import Logging
import Metrics

/// How a container reports what it does, the way Swift server libraries do: a swift-log `Logger`
/// and swift-metrics counters from the factory given (the process's bootstrapped one by default).
public struct ContainerObservability: Sendable {
    /// Where the container logs: connection ids and peers in the metadata, protocol errors and
    /// why reconnect stops ("not reconnecting") at `.warning`, reconnect attempts at `.info`, opens and closes at `.debug`, and every frame in and out
    /// at `.trace`. A trace level slows the driver (every frame takes the general decoding path),
    /// so it is only for when frames are wanted. The default discards everything.
    public var logger: Logger
    /// Where the metrics go (`amqp_connections_open`, a meter; `amqp_messages_sent`,
    /// `amqp_messages_received`, `amqp_messages_settled`, `amqp_messages_rejected`, counters; each
    /// with the dimension `container`).
    public var metricsFactory: any MetricsFactory

    public init(logger: Logger = Logger(label: "amqp.container", factory: { _ in SwiftLogNoOpLogHandler() }),
                metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.logger = logger
        self.metricsFactory = metricsFactory
    }
}

/// The metrics of one container.
struct ContainerMetrics: Sendable {
    let connectionsOpen: Meter
    let sent: Counter
    let received: Counter
    let settled: Counter
    let rejected: Counter

    init(containerID: String, factory: any MetricsFactory) {
        let dimensions = [("container", containerID)]
        connectionsOpen = Meter(label: "amqp_connections_open", dimensions: dimensions, factory: factory)
        sent = Counter(label: "amqp_messages_sent", dimensions: dimensions, factory: factory)
        received = Counter(label: "amqp_messages_received", dimensions: dimensions, factory: factory)
        settled = Counter(label: "amqp_messages_settled", dimensions: dimensions, factory: factory)
        rejected = Counter(label: "amqp_messages_rejected", dimensions: dimensions, factory: factory)
    }
}

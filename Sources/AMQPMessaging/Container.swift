import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPURing
import AMQPProactor
import AMQPSystem
import Logging

/// Runs messaging handlers on a proactor's threads (Proton C++'s `container`): connect to URLs,
/// listen on them, schedule work, run on N threads until stopped or until nothing is left.
///
/// Every method is safe from any thread. Handlers are called per connection in sequence (see
/// ``MessagingHandler``); work for a connection goes through its ``WorkQueue``.
public final class Container: Sendable {
    /// The container-id connections announce unless their options say otherwise.
    public let id: String
    /// The proactor doing the IO: epoll unless another was given.
    public let proactor: any Proactor
    /// Its logger and metrics factory.
    public let observability: ContainerObservability
    let metrics: ContainerMetrics
    private let connectionCount = LockedValue<UInt64>(0)
    let timers = ContainerTimers()
    let state = LockedValue(State())
    // Touched only by the thread in run(): see ContainerHandlerBox.
    private let containerHandler: ContainerHandlerBox

    struct State {
        var stopped = false
        var running = false
        var stopError: AMQPError?
    }

    /// A container on `proactor` (a backend of your choice, or your own), with an optional
    /// handler for ``MessagingHandler/onContainerStart(_:)`` and ``MessagingHandler/onContainerStop(_:)``.
    public init(id: String = "swift-amqp", proactor: any Proactor, observability: ContainerObservability = ContainerObservability(),
                handler: sending (any MessagingHandler)? = nil) {
        self.id = id
        self.proactor = proactor
        self.observability = observability
        self.metrics = ContainerMetrics(containerID: id, factory: observability.metricsFactory)
        self.containerHandler = ContainerHandlerBox(handler)
    }

    /// A container on the epoll backend.
    public convenience init(id: String = "swift-amqp", observability: ContainerObservability = ContainerObservability(),
                            handler: sending (any MessagingHandler)? = nil) throws(Errno) {
        self.init(id: id, proactor: try EpollProactor.epoll(), observability: observability, handler: handler)
    }

    /// A container on the backend chosen: epoll, io_uring, or io_uring when it works here and
    /// epoll otherwise (``backendDescription`` says which, and why).
    /// - Throws: ``MessagingError/backendUnavailable(_:)`` naming the cause.
    public convenience init(id: String = "swift-amqp", backend: ContainerBackend, observability: ContainerObservability = ContainerObservability(),
                            handler: sending (any MessagingHandler)? = nil) throws(MessagingError) {
        let (proactor, description) = try backend.make()
        self.init(id: id, proactor: proactor, observability: observability, handler: handler)
        backendDescriptionStorage.withLock { $0 = description }
        observability.logger.info("\(description)")
    }

    /// Which backend runs the container ("proactor backend: io_uring", or epoll and why not io_uring).
    public var backendDescription: String { backendDescriptionStorage.withLock { $0 } ?? "proactor backend: \(type(of: proactor))" }
    private let backendDescriptionStorage = LockedValue<String?>(nil)

    /// Connects to `url` (`amqp://[user[:password]@]host[:port][/address]`, or `amqps://` for
    /// TLS, port 5671 by default); `handler` gets the connection's events. The connection opens
    /// as soon as the container runs.
    ///
    /// TLS and SASL come from `options` and the URL (``ConnectionOptions``): every file and name
    /// is checked here, so a configuration that cannot work fails this call rather than the
    /// connection.
    /// - Returns: the connection's work queue.
    /// - Throws: ``MessagingError`` for a bad URL, TLS or SASL options that cannot work
    ///   (``MessagingError/tls(_:)``, ``MessagingError/sasl(_:)``,
    ///   ``MessagingError/invalidOptions(_:)``), or a stopped container.
    @discardableResult
    public func connect(_ url: String, options: ConnectionOptions = ConnectionOptions(),
                        handler: sending any MessagingHandler) throws(MessagingError) -> WorkQueue {
        let parsed = try MessagingURL(url)
        guard parsed.port != 0 else { throw .invalidURL(url, "port 0 is only for listening") }
        guard !state.withLock({ $0.stopped }) else { throw .stopped }
        var failover: [MessagingURL] = []
        for other in options.reconnect?.failoverURLs ?? [] {
            let u = try MessagingURL(other)
            guard u.port != 0 else { throw .invalidURL(other, "port 0 is only for listening") }
            failover.append(u)
        }
        let security = try ClientSecurity.make(options, urls: [parsed] + failover)
        let queue = WorkQueue(container: self)
        let record = ConnectionRecord(workQueue: queue, url: parsed, isClient: true, options: options, failover: failover,
                                      logger: connectionLogger(peer: parsed.description), handler: handler)
        connections.withLock { $0[ObjectIdentifier(record)] = ConnectionSetup(options: options, security: security) }
        open(record, to: parsed)
        return queue
    }

    /// Listens on `url`'s host and port (an empty host, `amqp://:5672`, is not allowed; use
    /// `0.0.0.0`); each accepted connection gets a handler from `makeHandler`, called in the
    /// connection's sequence.
    ///
    /// `amqps://` listens with TLS, with the certificate of ``ConnectionOptions/tls``; clients
    /// authenticate as ``ConnectionOptions/saslServer`` says (ANONYMOUS only when nil), and each
    /// connection's ``MessagingConnection/authenticatedIdentity`` says who they are.
    /// - Throws: ``MessagingError`` for a bad URL, TLS or SASL options that cannot work, or a
    ///   stopped container.
    @discardableResult
    public func listen(_ url: String, options: ConnectionOptions = ConnectionOptions(),
                       handler makeHandler: @escaping @Sendable () -> any MessagingHandler) throws(MessagingError) -> ProactorListener {
        let parsed = try MessagingURL(url)
        let security = try ListenerSecurity(options, url: parsed)
        guard !state.withLock({ $0.stopped }) else { throw .stopped }
        let listener = proactor.listen(on: parsed.hostAndPort, backlog: 128)
        listeners.withLock { $0[ObjectIdentifier(listener)] = ListenerSetup(options: options, security: security, makeHandler: makeHandler) }
        return listener
    }

    let listeners = LockedValue<[ObjectIdentifier: ListenerSetup]>([:])
    // The options of client connections, kept for reconnecting; removed when one is done.
    let connections = LockedValue<[ObjectIdentifier: ConnectionSetup]>([:])
    // Connections between a drop and their next attempt. Whoever removes a record from here owns
    // it until its next connection exists: the reconnect timer (to open it) or, once the container
    // has stopped, the timer that ends it (Container+Reconnect.swift).
    let reconnecting = LockedValue<[ObjectIdentifier: ConnectionRecord]>([:])

    struct ConnectionSetup: Sendable {
        var options: ConnectionOptions
        /// Each URL's TLS and SASL.
        var security: [MessagingURL: ClientSecurity]
    }

    /// Makes a driver for `record` connecting to `url`.
    func open(_ record: ConnectionRecord, to url: MessagingURL) {
        guard let setup = connections.withLock({ $0[ObjectIdentifier(record)] }) else { return }
        let security = setup.security[url]
        var configuration = configuration(setup.options, url: url)
        configuration.saslClient = security?.sasl
        configuration.context = record
        configuration.trace = frameTrace(record.logger)
        record.isTLS = security?.tls != nil
        record.workQueue.attach(proactorConnect(to: url.hostAndPort, configuration: configuration, security: security))
    }

    struct ListenerSetup: Sendable {
        var options: ConnectionOptions
        var security: ListenerSecurity
        var makeHandler: @Sendable () -> any MessagingHandler
    }

    /// Runs `work` after `delay` on one of the container's threads (not in any connection's
    /// sequence: use a ``WorkQueue`` for that).
    public func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) {
        timers.add(at: proactor.now + delay, work) { earliest in proactor.setTimeout(max(.zero, earliest - proactor.now)) }
    }

    /// Runs the container on `threads` threads until ``stop(_:)`` or until no connection,
    /// listener or scheduled work is left; returns then, on the calling thread.
    public func run(threads: Int = 1) throws(Errno) {
        state.withLock { $0.running = true }
        containerHandler.handler?.onContainerStart(self)
        let pool = ProactorThreadPool(proactor)
        try pool.start(threads: threads) { [self] batch in handle(batch) }
        pool.join()
        state.withLock { $0.running = false }
        containerHandler.handler?.onContainerStop(self)
    }

    /// Stops the container: every connection closes (with `error`, or `amqp:connection:forced`),
    /// listeners close, scheduled work is dropped, and ``run(threads:)`` returns once all are gone.
    /// A connection waiting to reconnect ends too: the work its queue took runs, then
    /// ``MessagingHandler/onTransportClose(_:)``. Connections made after this fail with
    /// ``MessagingError/stopped``.
    public func stop(_ error: AMQPError? = nil) {
        state.withLock { $0.stopped = true; $0.stopError = error }
        // Connections waiting to reconnect have no batch to end them: a timer does, in place of
        // the timers dropped (Container+Reconnect.swift).
        timers.removeAll(now: proactor.now, replacement: endWaitingReconnects,
                         arm: { _ in proactor.setTimeout(.zero) }, disarm: { proactor.cancelTimeout() })
        proactor.disconnect(error)
    }

    // MARK: batches

    private func handle(_ batch: ProactorBatch) {
        switch batch.kind {
        case .connection(let driver):
            runConnectionBatch(batch, driver)
        case .listener:
            while let e = batch.next() {
                if case .proactor(.listenerAccept(let l)) = e { accept(l) }
                if case .proactor(.listenerClose(let l, _)) = e { _ = listeners.withLock { $0.removeValue(forKey: ObjectIdentifier(l)) } }
            }
        case .proactor:
            while let e = batch.next() {
                if case .proactor(.timeout) = e { runDueTimers() }
            }
        }
    }

    private func accept(_ listener: ProactorListener) {
        guard let setup = listeners.withLock({ $0[ObjectIdentifier(listener)] }), !state.withLock({ $0.stopped }) else {
            listener.refuse()
            return
        }
        let queue = WorkQueue(container: self)
        let record = ConnectionRecord(workQueue: queue, url: nil, isClient: false, options: setup.options,
                                      logger: connectionLogger(peer: "accepted on \(listener.address)"), handler: setup.makeHandler())
        var configuration = configuration(setup.options, url: nil)
        configuration.saslServer = setup.security.sasl
        configuration.context = record
        configuration.trace = frameTrace(record.logger)
        record.isTLS = setup.security.tls != nil
        queue.attach(proactorAccept(listener, configuration: configuration, security: setup.security, logger: record.logger))
    }

    private func runDueTimers() {
        let due = timers.takeDue(now: proactor.now) { next in proactor.setTimeout(max(.zero, next - proactor.now)) }
        for work in due { work() }
    }

    func armOpenTimeout(_ timeout: Duration, _ queue: WorkQueue) {
        queue.schedule(after: timeout) { c in c.openTimedOut = true }
    }

    /// A connection's logger: the container's, with the connection's id and peer.
    private func connectionLogger(peer: String) -> Logger {
        var logger = observability.logger
        logger[metadataKey: "amqp.connection"] = "\(id)-\(connectionCount.withLock { n in n += 1; return n })"
        logger[metadataKey: "amqp.peer"] = "\(peer)"
        return logger
    }

    /// Frames to the logger at `.trace`, only when it logs at that level (tracing is slow).
    private func frameTrace(_ logger: Logger) -> (@Sendable (String) -> Void)? {
        guard logger.logLevel <= .trace else { return nil }
        return { line in logger.trace("\(line)") }
    }

    func connectionFinished(_ record: ConnectionRecord) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(record)) }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    private func configuration(_ options: ConnectionOptions, url: MessagingURL?) -> DriverConfiguration {
        var c = DriverConfiguration(containerID: options.containerID ?? id)
        c.hostname = url?.host
        c.maxFrameSize = options.maxFrameSize
        c.properties = options.properties
        c.offeredCapabilities = options.offeredCapabilities
        if let t = options.idleTimeout {
            let ms = t.components.seconds * 1000 + t.components.attoseconds / 1_000_000_000_000_000
            c.idleTimeout = UInt32(clamping: ms)
        }
        return c
    }
}

/// The container's own handler, used only by the thread inside ``Container/run(threads:)``.
///
/// @unchecked Sendable, and what makes it safe: `handler` is set once in init and then only read
/// by the thread running `run(threads:)`, which calls it before starting the pool and after
/// joining it, so no two threads ever use it at once.
final class ContainerHandlerBox: @unchecked Sendable {
    let handler: (any MessagingHandler)?
    init(_ handler: sending (any MessagingHandler)?) { self.handler = handler }
}

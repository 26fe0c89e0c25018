import AMQPCodec
import AMQPEngine
import AMQPSystem

/// Drives many `ConnectionDriver`s from a pool of threads (Proton's `pn_proactor_t`).
///
/// Any number of threads call ``wait()`` (or ``get()``) and each gets a ``ProactorBatch``: the
/// events of one connection, one listener, or the proactor itself. It handles them, then calls
/// ``done(_:)``. The proactor never hands one connection's batch to two threads at once, so a
/// handler may use that connection's objects without locks; objects of different connections may
/// be used at the same time on different threads. To act on another connection, wake it with its
/// ``ProactorConnection/wake()`` and do the work in its own batch.
///
/// Every method is safe from any thread. Backends (epoll, a user's own poller, io_uring) each
/// supply their own proactor; `Docs/Pollers.md` describes the contract they share and the
/// conformance suite that checks it.
///
/// Threading: `Sendable`; every method may be called from any thread, and one batch is handled by
/// one thread at a time.
public protocol Proactor: AnyObject, Sendable {
    /// Connects a new client connection to `address` (`host:port`, `[ipv6]:port`, a service name
    /// such as `amqp`; an empty host is localhost). Failures (an unknown host, a refused
    /// connection) end the connection with a transport error and transport-closed, in its batch.
    ///
    /// With a `layer` (TLS, say: `AMQPProactorTLS`'s `TLSLayer`), the bytes go through it both
    /// ways; nil is a plain connection. The layer belongs to the connection from here on: it is
    /// used only by the thread holding the connection's batch.
    @discardableResult
    func connect(to address: String, configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection

    /// Listens on `address` (an empty host is every interface; port 0 picks a free one). The
    /// listener's batch brings ``ProactorEvent/listenerOpen(_:)``, then one
    /// ``ProactorEvent/listenerAccept(_:)`` per incoming connection, to be accepted or refused in
    /// that batch; a failure to listen is a ``ProactorEvent/listenerClose(_:_:)`` with the error.
    @discardableResult
    func listen(on address: String, backlog: Int) -> ProactorListener

    /// Takes over a connected socket and a driver to run on it (for a socket connected or
    /// accepted elsewhere); the socket becomes the proactor's to close. With a `layer`, the bytes
    /// go through it, as for ``connect(to:configuration:layer:)``.
    @discardableResult
    func adopt(_ socket: Socket, driver: ConnectionDriver, layer: (any TransportLayer)?) -> ProactorConnection

    /// Waits for the next batch of events. Every batch must be given back with ``done(_:)``.
    func wait() -> ProactorBatch

    /// The next batch if one is ready now, else nil.
    func get() -> ProactorBatch?

    /// Gives a batch back: its connection's output is written and its IO resumes. A connection
    /// whose driver is finished is closed and freed here, after its last batch.
    func done(_ batch: ProactorBatch)

    /// Makes exactly one ``wait()`` return a batch with ``ProactorEvent/interrupt``. Safe from a
    /// signal handler: it takes no lock and allocates nothing.
    func interrupt()

    /// Arranges one ``ProactorEvent/timeout`` after `timeout`, replacing any earlier setting.
    func setTimeout(_ timeout: Duration)

    /// Cancels the timeout, if one is set; no event follows.
    func cancelTimeout()

    /// Closes every connection (with `error`, or `amqp:connection:forced`) and every listener.
    /// Once all are gone, ``ProactorEvent/inactive`` follows, even if nothing was open.
    func disconnect(_ error: AMQPError?)

    /// Takes the connection of `batch` out of the proactor: no more events or IO for it. The
    /// application gets back the driver and the socket, which it must close itself. Call it
    /// during the batch, then ``done(_:)`` as usual. nil when the batch is not a connection's, and
    /// for a connection with a ``TransportLayer``: the layer's state (a TLS session, with its keys
    /// and sequence numbers) cannot go with the socket, so such a connection stays with the
    /// proactor (close it instead).
    func release(_ batch: ProactorBatch) -> (driver: ConnectionDriver, socket: Socket?)?

    /// The proactor's clock: what connection ticks and timeouts are measured on.
    var now: ContinuousClock.Instant { get }
}

extension Proactor {
    /// Connects a new plain client connection: ``connect(to:configuration:layer:)`` without a layer.
    @discardableResult
    public func connect(to address: String, configuration: DriverConfiguration) -> ProactorConnection {
        connect(to: address, configuration: configuration, layer: nil)
    }

    /// Takes over a connected socket for a plain connection: ``adopt(_:driver:layer:)`` without a layer.
    @discardableResult
    public func adopt(_ socket: Socket, driver: ConnectionDriver) -> ProactorConnection {
        adopt(socket, driver: driver, layer: nil)
    }
}

/// What only a proactor knows of: listeners, the proactor's timeout, interrupts, inactivity.
/// Connection events (including a wake, `AMQPEvent.connectionWake`) are `AMQPEvent`s from
/// the connection's driver, so the engine never knows a listener exists.
///
/// Threading: not `Sendable`, like the batch it comes in; handled by the thread that holds the
/// batch.
public enum ProactorEvent {
    /// The listener is listening (its ``ProactorListener/port`` is known).
    case listenerOpen(ProactorListener)
    /// A connection arrived: call ``ProactorListener/accept(configuration:)`` or
    /// ``ProactorListener/refuse()`` in this batch; one not answered is refused at ``Proactor/done(_:)``.
    case listenerAccept(ProactorListener)
    /// The listener closed: by ``ProactorListener/close()``, by ``Proactor/disconnect(_:)``, or
    /// because listening failed (the error says why).
    case listenerClose(ProactorListener, AMQPError?)
    /// The time given to ``Proactor/setTimeout(_:)`` has passed.
    case timeout
    /// One ``Proactor/interrupt()`` call.
    case interrupt
    /// No connection, listener or timeout is left; nothing more happens until one is made.
    case inactive
}

@available(*, unavailable)
extension ProactorEvent: Sendable {}

/// One event of a batch.
///
/// Threading: not `Sendable`: it may carry the connection's objects, which belong to the thread
/// that holds the batch.
public enum ProactorBatchEvent {
    /// From the connection's driver.
    case amqp(AMQPEvent)
    /// From the proactor: listeners, timeout, interrupt, inactive.
    case proactor(ProactorEvent)
}

@available(*, unavailable)
extension ProactorBatchEvent: Sendable {}

/// The conditions of the errors a proactor reports for its own IO.
///
/// Threading: constants only, `Sendable`.
public enum ProactorCondition {
    /// A socket-level failure: resolution, connect, listen, read or write (as Proton's `proton:io`).
    public static let io: Symbol = "proton:io"
}

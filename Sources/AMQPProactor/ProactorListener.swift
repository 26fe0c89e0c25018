import AMQPCodec
import AMQPEngine
import AMQPSystem

/// A handle on a listening socket that a proactor runs, usable from any thread.
///
/// Threading: `Sendable`; every member is safe from any thread.
public final class ProactorListener: Sendable {
    /// The address it was asked to listen on.
    public let address: String
    /// The port it listens on (useful with port 0); nil when listening failed.
    public let port: UInt16?
    private weak let task: ListenerTask?
    private weak let scheduler: (any ListenerScheduler)?

    package init(address: String, port: UInt16?, task: ListenerTask, scheduler: any ListenerScheduler) {
        self.address = address
        self.port = port
        self.task = task
        self.scheduler = scheduler
    }

    /// Accepts the connection of the current ``ProactorEvent/listenerAccept(_:)``, in this
    /// listener's batch, as a server-mode connection with `configuration`.
    /// - Returns: the connection; nil when no accepted connection waits (already answered).
    @discardableResult
    public func accept(configuration: DriverConfiguration) -> ProactorConnection? {
        accept(configuration: configuration, layer: nil)
    }

    /// Accepts the connection of the current ``ProactorEvent/listenerAccept(_:)`` as
    /// ``accept(configuration:)`` does, with `layer` between its socket and its driver (a TLS
    /// server's, say: `AMQPProactorTLS`'s `TLSLayer`). The layer belongs to the connection from
    /// here on; nil is a plain connection.
    /// - Returns: the connection; nil when no accepted connection waits (already answered).
    @discardableResult
    public func accept(configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection? {
        guard let task, let scheduler else { return nil }
        return scheduler.accept(task, configuration: configuration, layer: layer)
    }

    /// Refuses the connection of the current ``ProactorEvent/listenerAccept(_:)``: its socket is
    /// closed at once.
    public func refuse() {
        guard let task, let scheduler else { return }
        scheduler.refuse(task)
    }

    /// Stops listening; ``ProactorEvent/listenerClose(_:_:)`` follows.
    public func close() {
        guard let task, let scheduler else { return }
        scheduler.close(task)
    }
}

/// What a listener handle needs of its proactor.
package protocol ListenerScheduler: AnyObject, Sendable {
    func accept(_ task: ListenerTask, configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection?
    func refuse(_ task: ListenerTask)
    func close(_ task: ListenerTask)
}

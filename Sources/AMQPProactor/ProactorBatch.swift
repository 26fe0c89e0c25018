import AMQPEngine

/// The events of one connection, one listener, or the proactor itself, handed to one thread by
/// ``Proactor/wait()`` and given back with ``Proactor/done(_:)``.
///
/// Threading: not `Sendable`. It carries the connection's objects, which only the thread holding
/// the batch may touch, until ``Proactor/done(_:)``.
public final class ProactorBatch {
    /// Whose events these are.
    ///
    /// Threading: as the batch: only the thread holding it may use a connection's objects.
    public enum Kind {
        /// A connection's: its driver, for the whole batch.
        case connection(ConnectionDriver)
        /// A listener's: open, accepts, close.
        case listener(ProactorListener)
        /// The proactor's own: interrupt, timeout, inactive.
        case proactor
    }

    /// Whose events these are.
    public let kind: Kind
    // The task the batch belongs to, for done(); the proactor's own type.
    package let owner: AnyObject?
    private var proactorEvents: [ProactorEvent]
    private var position = 0
    package var isDone = false

    package init(kind: Kind, owner: AnyObject?, events: [ProactorEvent] = []) {
        self.kind = kind
        self.owner = owner
        self.proactorEvents = events
    }

    /// The connection's driver, for a connection's batch.
    public var driver: ConnectionDriver? {
        if case .connection(let d) = kind { return d }
        return nil
    }

    /// The next event, or nil when the batch has no more.
    public func next() -> ProactorBatchEvent? {
        if case .connection(let driver) = kind {
            return driver.nextEvent().map { .amqp($0) }
        }
        guard position < proactorEvents.count else { return nil }
        defer { position += 1 }
        return .proactor(proactorEvents[position])
    }

    /// The proactor events not yet taken (listener and proactor batches).
    var remainingProactorEvents: ArraySlice<ProactorEvent> { proactorEvents[position...] }

    /// Whether the batch holds an ``ProactorEvent/inactive`` (taken or not).
    var containsInactive: Bool { proactorEvents.contains { if case .inactive = $0 { return true } else { return false } } }
    /// Whether the batch holds a ``ProactorEvent/timeout`` (taken or not).
    var containsTimeout: Bool { proactorEvents.contains { if case .timeout = $0 { return true } else { return false } } }
    /// Whether the batch holds only ``ProactorEvent/interrupt``s.
    var isInterruptOnly: Bool {
        !proactorEvents.isEmpty && proactorEvents.allSatisfy { if case .interrupt = $0 { return true } else { return false } }
    }
    /// Whether the batch holds an ``ProactorEvent/interrupt`` (taken or not).
    var containsInterrupt: Bool { proactorEvents.contains { if case .interrupt = $0 { return true } else { return false } } }
}

@available(*, unavailable)
extension ProactorBatch: Sendable {}

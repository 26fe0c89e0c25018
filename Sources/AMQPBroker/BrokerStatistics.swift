/// Counts of what a broker's queues did, over its whole life (deleted queues included).
///
/// Threading: a plain value, `Sendable`.
public struct BrokerStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Messages producers put in a queue.
    public var enqueued = 0
    /// Transfers to consumers, first deliveries and redeliveries alike.
    public var delivered = 0
    /// Of those, deliveries of a message that had gone back to its queue.
    public var redelivered = 0
    /// Messages consumers accepted, or settled without an outcome, or took pre-settled.
    public var accepted = 0
    /// Messages consumers rejected: dropped (there is no dead-letter queue).
    public var rejected = 0
    /// Messages consumers released or modified: back to their queue.
    public var releasedOrModified = 0
    /// Messages that went back because their consumer detached, ended its session or
    /// disconnected before settling them.
    public var returnedByLostConsumers = 0
    /// Messages that went back without having left: their consumer went away while they still
    /// waited for its session window, or they were larger than it takes.
    public var returnedUnsent = 0
    /// Messages dropped with a deleted queue (a dynamic queue whose link closed).
    public var droppedWithQueue = 0
    /// Copies sent to browsers (consumers with distribution-mode `copy`); the messages stayed.
    public var browsed = 0
    /// Messages a consumer's selector looked at: each message once per selective consumer, and
    /// once more after each time it goes back to its queue (its header changes).
    public var selectorChecks = 0
    /// Messages decoded (their front sections) for selectors: each once while its bytes stay the
    /// same, however many consumers look at it.
    public var selectorDecodes = 0

    public init() {}

    public var description: String {
        "enqueued \(enqueued), delivered \(delivered), redelivered \(redelivered), accepted \(accepted), rejected \(rejected), "
            + "released or modified \(releasedOrModified), returned by lost consumers \(returnedByLostConsumers), returned unsent \(returnedUnsent), "
            + "dropped with a queue \(droppedWithQueue), browsed \(browsed), selector checks \(selectorChecks), "
            + "selector decodes \(selectorDecodes)"
    }

    static func + (a: Self, b: Self) -> Self {
        var s = a
        s.enqueued += b.enqueued
        s.delivered += b.delivered
        s.redelivered += b.redelivered
        s.accepted += b.accepted
        s.rejected += b.rejected
        s.releasedOrModified += b.releasedOrModified
        s.returnedByLostConsumers += b.returnedByLostConsumers
        s.returnedUnsent += b.returnedUnsent
        s.droppedWithQueue += b.droppedWithQueue
        s.browsed += b.browsed
        s.selectorChecks += b.selectorChecks
        s.selectorDecodes += b.selectorDecodes
        return s
    }

    mutating func add(_ work: ConsumerFilter.Work) {
        selectorChecks += work.checks
        selectorDecodes += work.decodes
    }
}

import AMQPMessaging
import AMQPSystem

/// The seeds' multithreaded broker: named queues shared by every connection, one handler per
/// connection, messages handed between connections through the queues and the connections' work
/// queues. Docs/Broker.md says what it promises.
///
/// - At least once: a message stays in its queue until a consumer accepts or rejects it. What a
///   consumer leaves unsettled when it detaches, ends its session or disconnects goes back to the
///   head of the queue in its order, marked redelivered (header delivery-count + 1,
///   first-acquirer false); `released` and `modified` put it back too.
/// - In memory only, and bounded: a queue holds at most `queueLimit` messages and about
///   `queueByteLimit` bytes, delivered-and-unsettled included; at the limit its producers get no
///   more credit until consumers settle.
/// - Queues are made on first use; a dynamic one (a reply-to queue, or a sender's dynamic target)
///   is deleted when the link that made it closes.
/// - A producer with no target address is the anonymous relay: each message goes to the queue its
///   `to` names, if that queue exists. Consumers may filter (JMS selectors, no-local) and browse.
///
/// Use: `container.listen(url) { broker.handler() }`, then run the container on a thread pool.
///
/// Threading: `Sendable`; every method is safe from any thread.
public final class Broker: Sendable {
    /// Messages a queue holds at most, waiting or delivered and not settled.
    public let queueLimit: Int
    /// Bytes a queue holds before its producers get no more credit. Messages already granted
    /// credit still come in, so it can be passed by the credit outstanding times
    /// `maxMessageSize`.
    public let queueByteLimit: Int
    /// Credit a producer holds at most (less when its queue has less room).
    public let creditWindow: UInt32
    /// Largest message a producer may send (its link's max-message-size, §2.7.3); nil for no limit.
    public let maxMessageSize: UInt64?
    /// Queue names that begin with this are the broker's own, for dynamic queues: a link may
    /// attach to one only while it exists.
    public static let dynamicPrefix = "dynamic-"

    private struct Registry {
        var queues: [String: BrokerQueue] = [:]
        var dynamicCount = 0
        /// Counts of deleted queues, kept so that ``statistics`` covers the broker's whole life.
        var retired = BrokerStatistics()
    }
    private let registry = LockedValue(Registry())
    private let linkCount = LockedValue<UInt64>(0)

    public init(queueLimit: Int = 10_000, queueByteLimit: Int = 64 << 20, creditWindow: UInt32 = 100, maxMessageSize: UInt64? = nil) {
        self.queueLimit = max(1, queueLimit)
        self.queueByteLimit = max(1, queueByteLimit)
        self.creditWindow = max(1, creditWindow)
        self.maxMessageSize = maxMessageSize
    }

    /// A handler for one new connection.
    public func handler() -> any MessagingHandler { BrokerConnection(broker: self) }

    /// Messages waiting on `name` for a consumer; 0 for a queue that does not exist.
    public func depth(of name: String) -> Int { existingQueue(name)?.depth ?? 0 }

    /// Messages of `name` delivered to consumers and not settled yet.
    public func unsettled(of name: String) -> Int { existingQueue(name)?.unsettledCount ?? 0 }

    /// Encoded bytes `name` holds, waiting or unsettled.
    public func bytes(of name: String) -> Int { existingQueue(name)?.byteCount ?? 0 }

    /// The names of the queues that exist.
    public var queueNames: [String] { registry.withLock { Array($0.queues.keys) }.sorted() }

    /// What every queue did so far, deleted ones included.
    public var statistics: BrokerStatistics {
        let (live, retired) = registry.withLock { (Array($0.queues.values), $0.retired) }
        return live.reduce(retired) { $0 + $1.statistics }
    }

    /// The queue `name`, made now if it is not there; nil for a dynamic queue's name that is not
    /// (or no longer) there.
    func queue(_ name: String) -> BrokerQueue? {
        registry.withLock { r in
            if let existing = r.queues[name] { return existing }
            guard !name.hasPrefix(Self.dynamicPrefix) else { return nil }
            let made = BrokerQueue(name: name, limit: queueLimit, byteLimit: queueByteLimit)
            r.queues[name] = made
            return made
        }
    }

    /// A new dynamic queue with a fresh name (a consumer's reply-to queue, a producer's dynamic target).
    func makeDynamicQueue() -> BrokerQueue {
        registry.withLock { r in
            r.dynamicCount += 1
            let made = BrokerQueue(name: Self.dynamicPrefix + String(r.dynamicCount), limit: queueLimit, byteLimit: queueByteLimit,
                                   isDynamic: true)
            r.queues[made.name] = made
            return made
        }
    }

    /// Deletes a queue: no link can attach to it any more, its messages are dropped.
    /// - Returns: the links still attached to it.
    func delete(_ queue: BrokerQueue) -> [QueueWaiter] {
        // One step under the registry's lock (the order is always registry, then queue), so
        // ``statistics`` counts the queue exactly once, live or retired.
        registry.withLock { r in
            guard r.queues[queue.name] === queue else { return [] }
            r.queues[queue.name] = nil
            let attached = queue.delete()
            r.retired = r.retired + queue.statistics
            return attached
        }
    }

    /// An id for a new link, unique in this broker.
    func nextLinkID() -> UInt64 { linkCount.withLock { n in n += 1; return n } }

    func existingQueue(_ name: String) -> BrokerQueue? { registry.withLock { $0.queues[name] } }
}

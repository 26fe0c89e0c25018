import AMQPMessaging
import AMQPSystem

/// The seeds' multithreaded broker: named queues shared by every connection, one handler per
/// connection, messages handed between connections through the queues and the connections' work
/// queues. Queues are made on first use and bounded: a full queue withholds credit from its
/// producers until consumers make room, so memory does not grow with a fast sender.
///
/// Use: `container.listen(url) { broker.handler() }`, then run the container on a thread pool.
public final class Broker: Sendable {
    /// Messages a queue holds at most.
    public let queueLimit: Int
    /// Credit a producer holds at most (less when its queue has less room).
    public let creditWindow: UInt32
    private let queues = LockedValue<[String: BrokerQueue]>([:])
    private let dynamicCount = LockedValue(0)

    public init(queueLimit: Int = 10_000, creditWindow: UInt32 = 100) {
        self.queueLimit = max(1, queueLimit)
        self.creditWindow = max(1, creditWindow)
    }

    /// A handler for one new connection.
    public func handler() -> any MessagingHandler { BrokerConnection(broker: self) }

    /// Messages waiting on `name`; 0 for a queue never used.
    public func depth(of name: String) -> Int { queues.withLock { $0[name] }?.depth ?? 0 }

    /// The names of the queues made so far.
    public var queueNames: [String] { queues.withLock { Array($0.keys) }.sorted() }

    func queue(_ name: String) -> BrokerQueue {
        queues.withLock { q in
            if let existing = q[name] { return existing }
            let made = BrokerQueue(name: name, limit: queueLimit)
            q[name] = made
            return made
        }
    }

    /// A fresh name for a dynamic node (a reply-to queue).
    func dynamicName() -> String {
        "dynamic-" + String(dynamicCount.withLock { n in n += 1; return n })
    }
}

import AMQPMessaging
import AMQPSystem

/// Who waits on a queue: a link of some connection, reached through that connection's work queue.
struct QueueWaiter: Sendable {
    let workQueue: WorkQueue
    let link: ObjectIdentifier
}

/// A queue every connection of a broker shares: encoded messages in arrival order, at most
/// `limit` of them, and the links waiting on it.
///
/// Messages cross connections only through here, under its lock; a consumer takes them in its own
/// connection's sequence, after the queue wakes it through its work queue (the seeds' wake pattern).
final class BrokerQueue: Sendable {
    let name: String
    let limit: Int

    private struct State {
        var messages: [[UInt8]] = []
        var head = 0
        /// Consumers that had credit and found the queue empty.
        var hungry: [QueueWaiter] = []
        /// Producers whose credit was withheld because the queue was full.
        var blocked: [QueueWaiter] = []
        /// Credit granted to producers and not used yet: room already promised.
        var reserved = 0
        let limit: Int
        var count: Int { messages.count - head }
        var room: Int { max(0, limit - count - reserved) }
    }
    private let state: LockedValue<State>

    init(name: String, limit: Int) {
        self.name = name
        self.limit = limit
        state = LockedValue(State(limit: limit))
    }

    /// Messages waiting.
    var depth: Int { state.withLock { $0.count } }

    /// Room left for producers, beyond what they were promised.
    var room: Int { state.withLock { $0.room } }

    /// Adds a message that came on reserved credit; returns the consumers to wake (they take what
    /// they can in their turn).
    func push(_ message: [UInt8]) -> [QueueWaiter] {
        state.withLock { s in
            s.messages.append(message)
            s.reserved = max(0, s.reserved - 1)
            defer { s.hungry = [] }
            return s.hungry
        }
    }

    /// Takes up to `max` messages; when the queue ends up empty first, `waiter` is remembered and
    /// woken by the next push. Also returns the producers to wake now that there is room.
    func pop(max: Int, orWait waiter: QueueWaiter) -> (messages: [[UInt8]], producers: [QueueWaiter]) {
        state.withLock { s in
            let n = min(max, s.count)
            let taken = Array(s.messages[s.head..<(s.head + n)])
            s.head += n
            if s.head == s.messages.count { s.messages.removeAll(keepingCapacity: true); s.head = 0 }
            else if s.head > 1024 && s.head * 2 > s.messages.count { s.messages.removeFirst(s.head); s.head = 0 }
            if n < max && !s.hungry.contains(where: { $0.link == waiter.link && $0.workQueue === waiter.workQueue }) {
                s.hungry.append(waiter)
            }
            var producers: [QueueWaiter] = []
            if n > 0 && s.room > 0 { producers = s.blocked; s.blocked = [] }
            return (taken, producers)
        }
    }

    /// Promises up to `want` messages of room to a producer, as credit; returns how many. With
    /// less than it wanted, the producer is woken when a consumer makes room.
    func reserve(upTo want: Int, for producer: QueueWaiter) -> Int {
        state.withLock { s in
            let n = min(want, s.room)
            s.reserved += n
            if n < want && !s.blocked.contains(where: { $0.link == producer.link && $0.workQueue === producer.workQueue }) {
                s.blocked.append(producer)
            }
            return n
        }
    }

    /// Gives back room promised to a producer that will not use it (its link closed).
    func unreserve(_ n: Int) {
        state.withLock { $0.reserved = max(0, $0.reserved - n) }
    }

    /// Forgets every waiter of a connection's link (it closed).
    func forget(_ link: ObjectIdentifier, of workQueue: WorkQueue) {
        state.withLock { s in
            s.hungry.removeAll { $0.link == link && $0.workQueue === workQueue }
            s.blocked.removeAll { $0.link == link && $0.workQueue === workQueue }
        }
    }
}

import AMQPMessaging
import AMQPSystem

/// A queue every connection of a broker shares: encoded messages in arrival order, the ones
/// delivered and not yet settled, and the links attached to it or waiting on it.
///
/// A message stays in the queue until a consumer settles it: taking it moves it to `unsettled`,
/// an accept (or a reject) removes it, and a release, a modify or the consumer's going away puts
/// it back in `returned`, by its arrival sequence, ahead of every message never delivered. So the
/// queue's order holds for redeliveries too, and nothing a producer was promised is dropped
/// unless a consumer accepted or rejected it.
///
/// Bounded: every message it holds counts against `limit` and `byteLimit`, delivered or not, so
/// a consumer that never settles cannot make it grow either. Producers get credit only for room
/// promised here (`reserve`); at the limit they wait until a settlement frees room.
///
/// Messages cross connections only through here, under its lock; a consumer takes them in its own
/// connection's sequence, after the queue wakes it through its work queue (the seeds' wake pattern).
final class BrokerQueue: Sendable {
    let name: String
    /// Whether the queue lives only as long as the link that made it (a dynamic node, §3.5.3).
    let isDynamic: Bool

    private struct State {
        /// Never delivered, in arrival order.
        var ready = MessageList()
        /// Delivered, then given back; all older than anything in `ready`, so taken first.
        var returned = MessageList()
        /// Delivered and not settled, by sequence.
        var unsettled: [UInt64: QueuedMessage] = [:]
        var bytes = 0
        var nextSequence: UInt64 = 0
        /// Consumers that had credit and found nothing they could take.
        var hungry: [QueueWaiter] = []
        /// Producers whose credit was withheld because the queue was full.
        var blocked: [QueueWaiter] = []
        /// Every link attached to the queue, told when it is deleted.
        var attached: [QueueWaiter] = []
        /// Credit granted to producers and not used yet: room already promised.
        var reserved = 0
        var deleted = false
        var statistics = BrokerStatistics()
        let limit: Int
        let byteLimit: Int

        var held: Int { ready.count + returned.count + unsettled.count }
        var room: Int { bytes >= byteLimit ? 0 : max(0, limit - held - reserved) }

        /// The blocked producers, once there is room for them.
        mutating func producersToWake() -> [QueueWaiter] {
            guard room > 0, !blocked.isEmpty else { return [] }
            defer { blocked = [] }
            return blocked
        }

        mutating func hungryToWake() -> [QueueWaiter] {
            defer { hungry = [] }
            return hungry
        }
    }
    private let state: LockedValue<State>

    init(name: String, limit: Int, byteLimit: Int, isDynamic: Bool = false) {
        self.name = name
        self.isDynamic = isDynamic
        state = LockedValue(State(limit: limit, byteLimit: byteLimit))
    }

    /// Messages waiting for a consumer (never delivered, or given back).
    var depth: Int { state.withLock { $0.ready.count + $0.returned.count } }

    /// Messages delivered and not settled yet.
    var unsettledCount: Int { state.withLock { $0.unsettled.count } }

    /// Encoded bytes of every message held, waiting or unsettled.
    var byteCount: Int { state.withLock { $0.bytes } }

    var statistics: BrokerStatistics { state.withLock { $0.statistics } }

    /// Room left for producers, beyond what they were promised.
    var room: Int { state.withLock { $0.room } }

    /// Adds a message that came on reserved credit.
    /// - Returns: the consumers to wake (they take what they can in their turn), or nil when the
    ///   queue was deleted: the message was not taken.
    func push(_ message: [UInt8]) -> [QueueWaiter]? {
        state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            guard !s.deleted else { return nil }
            s.ready.append(QueuedMessage(sequence: s.nextSequence, bytes: message))
            s.nextSequence += 1
            s.bytes += message.count
            s.statistics.enqueued += 1
            return s.hungryToWake()
        }
    }

    /// Takes up to `max` messages for `consumer`: those given back first, then new ones. Each
    /// stays held, as unsettled, until ``settle(_:_:by:)``. With fewer than `max`, the consumer is
    /// remembered and woken when a message comes or goes back.
    /// - Returns: the messages with their sequence numbers.
    func take(max: Int, for consumer: QueueWaiter) -> [(sequence: UInt64, bytes: [UInt8])] {
        state.withLock { s in
            guard !s.deleted else { return [] }
            var taken: [(sequence: UInt64, bytes: [UInt8])] = []
            while taken.count < max, let m = s.returned.removeFirst(acceptableTo: consumer.id) {
                s.statistics.redelivered += 1
                taken.append((m.sequence, m.bytes))
                s.unsettled[m.sequence] = m
            }
            while taken.count < max, let m = s.ready.removeFirst() {
                taken.append((m.sequence, m.bytes))
                s.unsettled[m.sequence] = m
            }
            s.statistics.delivered += taken.count
            if taken.count < max && !s.hungry.contains(where: { $0.id == consumer.id }) { s.hungry.append(consumer) }
            return taken
        }
    }

    /// Applies a consumer's outcome to messages it was given (unknown sequences are skipped:
    /// settled already, or the queue was deleted).
    /// - Returns: producers to wake (room was freed) and consumers to wake (messages went back).
    func settle(_ sequences: [UInt64], _ outcome: DeliveryOutcome, by consumer: UInt64) -> (producers: [QueueWaiter], consumers: [QueueWaiter]) {
        state.withLock { s in
            let mark: RedeliveryMark?
            var refuse = false
            switch outcome {
            case .accepted, .rejected:
                for sequence in sequences {
                    guard let m = s.unsettled.removeValue(forKey: sequence) else { continue }
                    s.bytes -= m.bytes.count
                    if case .accepted = outcome { s.statistics.accepted += 1 } else { s.statistics.rejected += 1 }
                }
                return (s.producersToWake(), [])
            case .released: mark = RedeliveryMark(failedAttempt: false)
            case .modified(let failed, let undeliverableHere, let annotations):
                mark = RedeliveryMark(failedAttempt: failed, annotations: annotations)
                refuse = undeliverableHere
            case .consumerGone: mark = RedeliveryMark(failedAttempt: true)
            case .notSent(let refusing):
                mark = nil
                refuse = refusing
            }
            var returned = 0
            for sequence in sequences {
                guard var m = s.unsettled.removeValue(forKey: sequence) else { continue }
                if let mark {
                    // Under the lock, but only on this path: a message going back is rare, and
                    // only its header (and annotations) are rewritten.
                    let before = m.bytes.count
                    m.bytes = mark.apply(to: m.bytes)
                    s.bytes += m.bytes.count - before
                }
                if refuse { m.refusedBy.append(consumer) }
                s.returned.insert(m)
                returned += 1
            }
            switch outcome {
            case .consumerGone: s.statistics.returnedByLostConsumers += returned
            case .notSent: s.statistics.returnedUnsent += returned
            default: s.statistics.releasedOrModified += returned
            }
            return ([], returned > 0 ? s.hungryToWake() : [])
        }
    }

    /// Promises up to `want` messages of room to a producer, as credit; returns how many. With
    /// less than it wanted, the producer is woken when a consumer makes room.
    func reserve(upTo want: Int, for producer: QueueWaiter) -> Int {
        state.withLock { s in
            let n = s.deleted ? 0 : min(want, s.room)
            s.reserved += n
            if n < want && !s.deleted && !s.blocked.contains(where: { $0.id == producer.id }) { s.blocked.append(producer) }
            return n
        }
    }

    /// Gives back room promised to a producer that will not use it (its link closed).
    func unreserve(_ n: Int) -> [QueueWaiter] {
        state.withLock { s in
            s.reserved = max(0, s.reserved - n)
            return s.producersToWake()
        }
    }

    /// Records a link attached to the queue, to be told if it is deleted.
    /// - Returns: false when the queue is deleted already.
    func attach(_ link: QueueWaiter) -> Bool {
        state.withLock { s in
            guard !s.deleted else { return false }
            s.attached.append(link)
            return true
        }
    }

    /// Forgets a link (it closed): attached, waiting for messages, or waiting for room.
    func detach(_ link: UInt64) {
        state.withLock { s in
            s.attached.removeAll { $0.id == link }
            s.hungry.removeAll { $0.id == link }
            s.blocked.removeAll { $0.id == link }
        }
    }

    /// Deletes the queue: its messages are dropped, and later pushes and takes find nothing.
    /// - Returns: the links still attached, to be detached.
    func delete() -> [QueueWaiter] {
        state.withLock { s in
            guard !s.deleted else { return [] }
            s.deleted = true
            s.statistics.droppedWithQueue += s.held
            _ = s.ready.removeAll()
            _ = s.returned.removeAll()
            s.unsettled = [:]
            s.bytes = 0
            s.hungry = []
            s.blocked = []
            defer { s.attached = [] }
            return s.attached
        }
    }
}

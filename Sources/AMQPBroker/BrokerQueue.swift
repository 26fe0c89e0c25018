import AMQPMessaging
import AMQPSystem

/// A queue every connection of a broker shares: encoded messages in arrival order, the ones
/// delivered and not yet settled, and the links attached to it or waiting on it.
///
/// A message stays in the queue until a consumer settles it: taking it moves it to `unsettled`,
/// an accept (or a reject) removes it, and a release, a modify or the consumer's going away puts
/// it back at its place by arrival sequence: in `returned` when it is older than every message
/// never delivered (as it is, unless a consumer with a filter took it from the middle of `ready`),
/// else back into `ready`. So the queue's order holds for redeliveries too, and nothing a producer
/// was promised is dropped unless a consumer accepted or rejected it.
///
/// Consumers with a filter (a selector, no-local) take the first messages that match and leave
/// the others in place, in order, for the rest. Each keeps a cursor: the sequence before which it
/// has looked at every message waiting, so a pass looks only at what is new to it; a message that
/// goes back moves the cursors of filtering consumers back to it, as its header changed. Browsers
/// (distribution-mode `copy`) get copies and move nothing: a cursor each, which only goes forward,
/// so a browser sees each waiting message once.
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
        /// Consumers with a filter: the sequence from which each has not looked at the messages
        /// waiting yet (every earlier one it did not take, it did not match or had refused).
        var filterCursors: [UInt64: UInt64] = [:]
        /// Browsers: the sequence after the last message each has looked at.
        var browseCursors: [UInt64: UInt64] = [:]
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

        mutating func add(_ bytes: [UInt8], origin: UInt64) -> [QueueWaiter] {
            ready.append(QueuedMessage(sequence: nextSequence, bytes: bytes, origin: origin))
            nextSequence += 1
            self.bytes += bytes.count
            statistics.enqueued += 1
            return hungryToWake()
        }

        /// Puts a message back at its place by sequence, keeping every message in `returned`
        /// older than every one in `ready`; filtering consumers look at it again.
        mutating func putBack(_ m: QueuedMessage) {
            if let first = ready.firstSequence, m.sequence > first { ready.insert(m) } else { returned.insert(m) }
            for (id, cursor) in filterCursors where cursor > m.sequence { filterCursors[id] = m.sequence }
        }

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
    /// - Parameters:
    ///   - message: The encoded message.
    ///   - origin: The connection it was published on (for no-local consumers).
    /// - Returns: the consumers to wake (they take what they can in their turn), or nil when the
    ///   queue was deleted: the message was not taken.
    func push(_ message: [UInt8], origin: UInt64) -> [QueueWaiter]? {
        state.withLock { s in
            s.reserved = max(0, s.reserved - 1)
            guard !s.deleted else { return nil }
            return s.add(message, origin: origin)
        }
    }

    /// What became of a message the anonymous relay routed here.
    enum RelayOutcome {
        /// Taken; the consumers to wake.
        case taken([QueueWaiter])
        /// Not taken: the queue is at its limit (messages or bytes).
        case full
        /// Not taken: the queue was deleted.
        case deleted
    }

    /// Adds a message that came through the anonymous relay, on credit no queue reserved: taken
    /// only while the queue has room beyond what it promised its producers, so it never holds more
    /// than its limits.
    func pushRelayed(_ message: [UInt8], origin: UInt64) -> RelayOutcome {
        state.withLock { s in
            guard !s.deleted else { return .deleted }
            guard s.room > 0 else { return .full }
            return .taken(s.add(message, origin: origin))
        }
    }

    /// Takes up to `max` messages for `consumer`: those given back first, then new ones, each the
    /// first that its filter matches and that it did not refuse. Each stays held, as unsettled,
    /// until ``settle(_:_:by:)``. With fewer than `max`, the consumer is remembered and woken when
    /// a message comes or goes back.
    /// - Returns: the messages with their sequence numbers.
    func take(max: Int, for consumer: QueueWaiter, filter: ConsumerFilter? = nil) -> [(sequence: UInt64, bytes: [UInt8])] {
        state.withLock { s in
            guard !s.deleted else { return [] }
            let id = consumer.id
            var work = ConsumerFilter.Work()
            let acceptable = { (m: inout QueuedMessage) -> Bool in
                (m.refusedBy.isEmpty || !m.refusedBy.contains(id)) && (filter?.matches(&m, &work) ?? true)
            }
            defer { s.statistics.add(work) }
            let start = filter == nil ? 0 : s.filterCursors[id] ?? 0
            var taken: [(sequence: UInt64, bytes: [UInt8])] = []
            var next = start
            if !s.returned.isEmpty {
                let (messages, after) = s.returned.take(max: max, from: start, where: acceptable)
                next = after
                s.statistics.redelivered += messages.count
                for m in messages {
                    taken.append((m.sequence, m.bytes))
                    s.unsettled[m.sequence] = m
                }
            }
            if taken.count < max && !s.ready.isEmpty {
                // Without a filter this takes from the front and looks at nothing else, unless the
                // consumer refused the first messages.
                let (messages, after) = s.ready.take(max: max - taken.count, from: Swift.max(start, next), where: acceptable)
                next = Swift.max(next, after)
                for m in messages {
                    taken.append((m.sequence, m.bytes))
                    s.unsettled[m.sequence] = m
                }
            }
            if filter != nil { s.filterCursors[id] = next }
            s.statistics.delivered += taken.count
            if taken.count < max && !s.hungry.contains(where: { $0.id == id }) { s.hungry.append(consumer) }
            return taken
        }
    }

    /// Copies of up to `max` messages waiting, for a browser (distribution-mode `copy`, §3.5.7):
    /// in order, from where it last stopped, those its filter matches. Nothing moves: the
    /// messages stay for other consumers. With fewer than `max`, the browser is woken when a
    /// message comes.
    func browse(max: Int, for browser: QueueWaiter, filter: ConsumerFilter? = nil) -> [(sequence: UInt64, bytes: [UInt8])] {
        state.withLock { s in
            guard !s.deleted else { return [] }
            let id = browser.id
            var work = ConsumerFilter.Work()
            let acceptable = { (m: inout QueuedMessage) -> Bool in filter?.matches(&m, &work) ?? true }
            defer { s.statistics.add(work) }
            var next = s.browseCursors[id] ?? 0
            var copies: [QueuedMessage] = []
            if !s.returned.isEmpty {
                (copies, next) = s.returned.copy(max: max, from: next, where: acceptable)
            }
            if copies.count < max {
                let (more, after) = s.ready.copy(max: max - copies.count, from: next, where: acceptable)
                copies += more
                next = after
            }
            s.browseCursors[id] = next
            s.statistics.browsed += copies.count
            if copies.count < max && !s.hungry.contains(where: { $0.id == id }) { s.hungry.append(browser) }
            return copies.map { ($0.sequence, $0.bytes) }
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
                s.putBack(m)
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
    /// less than it wanted, the producer is woken when a consumer makes room. A deleted queue
    /// grants all: each message that comes is refused (``push(_:origin:)`` returns nil), so the
    /// producer learns it, message by message, instead of waiting for credit forever.
    func reserve(upTo want: Int, for producer: QueueWaiter) -> Int {
        state.withLock { s in
            if s.deleted { return want }
            let n = min(want, s.room)
            s.reserved += n
            if n < want && !s.blocked.contains(where: { $0.id == producer.id }) { s.blocked.append(producer) }
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
            s.filterCursors[link] = nil
            s.browseCursors[link] = nil
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
            s.filterCursors = [:]
            s.browseCursors = [:]
            defer { s.attached = [] }
            return s.attached
        }
    }
}

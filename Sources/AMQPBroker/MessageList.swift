/// Messages in sequence order: a queue's messages never delivered, or those that went back to it.
///
/// Most consumers take from the front, which only moves an index. A consumer with a filter takes
/// from anywhere: the message leaves a hole (its sequence stays, so the order can still be
/// searched, and a message that comes back fills its own hole). Holes at the front are stepped
/// over, and the array is compacted once most of it is holes or taken, so every operation costs
/// O(1) amortized but a search (O(log n)) and an insert where no hole is left (O(n), rare: a
/// message going back after its hole was compacted away).
struct MessageList {
    private struct Slot {
        let sequence: UInt64
        /// Nil once taken: a hole.
        var message: QueuedMessage?
    }
    private var slots: [Slot] = []
    /// Slots before it are all holes or taken from the front.
    private var head = 0
    /// Messages held (slots from `head` that are not holes).
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The sequence of the first message held.
    var firstSequence: UInt64? {
        guard count > 0 else { return nil }
        return slots[head].sequence   // head never rests on a hole while a message is held
    }

    /// Adds a message later in sequence than every one held.
    mutating func append(_ m: QueuedMessage) {
        slots.append(Slot(sequence: m.sequence, message: m))
        count += 1
    }

    /// Adds a message at its place in sequence order (into its own hole when it is still there).
    mutating func insert(_ m: QueuedMessage) {
        if head == slots.count || slots[slots.count - 1].sequence < m.sequence { return append(m) }
        let i = index(from: m.sequence)
        if slots[i].sequence == m.sequence && slots[i].message == nil {
            slots[i].message = m
        } else {
            slots.insert(Slot(sequence: m.sequence, message: m), at: i)
        }
        count += 1
    }

    /// Takes the first message.
    mutating func removeFirst() -> QueuedMessage? {
        guard count > 0 else { return nil }
        return take(at: head)
    }

    /// Takes up to `max` messages, in order, from the first whose sequence is at least `start`,
    /// that `accept` says yes to (it may update a message it looks at: a cache).
    /// - Returns: the messages, and the sequence after the last one looked at (`start` if none was).
    mutating func take(max: Int, from start: UInt64, where accept: (inout QueuedMessage) -> Bool) -> (taken: [QueuedMessage], next: UInt64) {
        var taken: [QueuedMessage] = []
        var next = start
        var i = index(from: start)
        while taken.count < max && i < slots.count {
            if slots[i].message != nil {
                next = slots[i].sequence + 1
                if accept(&slots[i].message!) {
                    taken.append(take(at: i))
                    // Taking the first message may have moved the head (and compacted).
                    i = index(from: next)
                    continue
                }
            }
            i += 1
        }
        return (taken, next)
    }

    /// Copies of up to `max` messages, in order, from the first whose sequence is at least
    /// `start`, that `accept` says yes to (it may update a message it looks at: a cache). The
    /// messages stay.
    /// - Returns: the copies, and the sequence after the last one looked at (`start` if none was).
    mutating func copy(max: Int, from start: UInt64, where accept: (inout QueuedMessage) -> Bool) -> (copies: [QueuedMessage], next: UInt64) {
        var copies: [QueuedMessage] = []
        var next = start
        var i = index(from: start)
        while copies.count < max && i < slots.count {
            if slots[i].message != nil {
                next = slots[i].sequence + 1
                if accept(&slots[i].message!) { copies.append(slots[i].message!) }
            }
            i += 1
        }
        return (copies, next)
    }

    /// Takes everything.
    mutating func removeAll() -> [QueuedMessage] {
        defer { slots = []; head = 0; count = 0 }
        return slots[head...].compactMap(\.message)
    }

    /// The index of the first slot at `head` or after whose sequence is at least `sequence`.
    private func index(from sequence: UInt64) -> Int {
        if head == slots.count || slots[head].sequence >= sequence { return head }
        var low = head, high = slots.count
        while low < high {
            let mid = (low + high) / 2
            if slots[mid].sequence < sequence { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func take(at i: Int) -> QueuedMessage {
        let m = slots[i].message!
        slots[i].message = nil
        count -= 1
        if i == head {
            while head < slots.count && slots[head].message == nil { head += 1 }
        }
        compactIfWorthIt()
        return m
    }

    /// Drops the slots before the head and the holes once they are most of the array.
    private mutating func compactIfWorthIt() {
        if count == 0 {
            slots.removeAll(keepingCapacity: true)
            head = 0
            return
        }
        let dead = slots.count - count
        guard dead > 1024 && dead * 2 > slots.count else { return }
        slots = slots[head...].filter { $0.message != nil }
        head = 0
    }
}

/// A session's unsettled deliveries by delivery-id (AMQP 1.0 §2.6.12).
///
/// Delivery-ids are allocated one after another per session and mostly settled in order, so the
/// deliveries sit in a ring indexed by `id - base`: insert, look-up and removal are an index, with no
/// hashing. An id that does not fit the ring (a peer that skips ids, or one far from the oldest
/// unsettled delivery) goes to a dictionary instead, so any id sequence stays correct.
struct DeliveryTable {
    // Slots for ids base ..< base + span; slot i lives at ring[(head + i) & mask].
    private var ring: ContiguousArray<Delivery?> = []
    private var head = 0
    private var span = 0
    private var base: UInt32 = 0
    private var overflow: [UInt32: Delivery] = [:]
    /// Unsettled deliveries held.
    private(set) var count = 0

    // The ring grows past this many slots only while they are at least a quarter full: a peer that
    // never settles its oldest delivery but settles the rest would otherwise stretch it with holes.
    // Ids beyond that go to the dictionary.
    private static let freeSpan = 1024
    // An emptied ring above this many slots is given back.
    private static let keptSlots = 4096

    var isEmpty: Bool { count == 0 }
    /// Ring slots allocated (for tests of its growth).
    var slots: Int { ring.count }

    subscript(id: UInt32) -> Delivery? {
        let i = Int(id &- base)
        if i < span, let d = ring[(head + i) & (ring.count - 1)] { return d }
        return overflow.isEmpty ? nil : overflow[id]
    }

    /// Holds `d` under `id`, replacing any delivery held under it.
    mutating func insert(_ d: Delivery, id: UInt32) {
        if !overflow.isEmpty, overflow[id] != nil { overflow[id] = d; return }
        if span == 0 { base = id; head = 0 }
        let i = Int(id &- base)
        if i < span {
            let slot = (head + i) & (ring.count - 1)
            if ring[slot] == nil { count += 1 }
            ring[slot] = d
        } else if i == span && (span < Self.freeSpan || span < 4 * count) {
            if span == ring.count { grow() }
            ring[(head + span) & (ring.count - 1)] = d
            span += 1
            count += 1
        } else {
            overflow[id] = d
            count += 1
        }
    }

    /// Removes and returns the delivery with `id`, if held.
    @discardableResult
    mutating func remove(_ id: UInt32) -> Delivery? {
        let i = Int(id &- base)
        if i < span, let d = ring[(head + i) & (ring.count - 1)] {
            ring[(head + i) & (ring.count - 1)] = nil
            count -= 1
            if i == 0 { dropSettledPrefix() }
            return d
        }
        guard !overflow.isEmpty, let d = overflow.removeValue(forKey: id) else { return nil }
        count -= 1
        return d
    }

    /// Appends each delivery whose id is in first...last (serial order) to `out`, once each. A
    /// list rather than a callback, so the caller may change the table while it goes through them.
    func collect(from first: UInt32, through last: UInt32, into out: inout [(UInt32, Delivery)]) {
        let width = last &- first
        if Int(width) < count + span {
            var id = first
            while true {
                if let d = self[id] { out.append((id, d)) }
                if id == last { break }
                id &+= 1
            }
        } else {
            // A range much wider than what is held: walk what is held instead.
            for i in 0..<span {
                if let d = ring[(head + i) & (ring.count - 1)], (base &+ UInt32(i)) &- first <= width { out.append((base &+ UInt32(i), d)) }
            }
            for (id, d) in overflow where id &- first <= width { out.append((id, d)) }
        }
    }

    /// Removes each delivery whose id is in first...last (serial order) and appends it to `out`,
    /// the highest id first, so that `popLast()` hands them over in order: ``collect(from:through:into:)``
    /// and ``remove(_:)`` in one, the references moved out of the table rather than copied (no
    /// retain or release per delivery, and no reversal, which would copy each one).
    mutating func take(from first: UInt32, through last: UInt32, into out: inout [(UInt32, Delivery)]) {
        let width = last &- first
        if Int(width) < count + span {
            var id = last
            var touchedFront = false
            while true {
                let i = Int(id &- base)
                if i < span {
                    let slot = (head + i) & (ring.count - 1)
                    var taken: Delivery? = nil
                    swap(&taken, &ring[slot])
                    if let d = taken {
                        out.append((id, d))
                        count -= 1
                        if i == 0 { touchedFront = true }
                    }
                } else if !overflow.isEmpty, let d = overflow.removeValue(forKey: id) {
                    out.append((id, d))
                    count -= 1
                }
                if id == first { break }
                id &-= 1
            }
            if touchedFront { dropSettledPrefix() }
        } else {
            var held: [(UInt32, Delivery)] = []
            collect(from: first, through: last, into: &held)
            held.sort { ($0.0 &- first) > ($1.0 &- first) }
            for (id, d) in held {
                remove(id)
                out.append((id, d))
            }
        }
    }

    /// Every delivery held, in no particular order.
    var all: [Delivery] {
        var out: [Delivery] = []
        out.reserveCapacity(count)
        for i in 0..<span { if let d = ring[(head + i) & (ring.count - 1)] { out.append(d) } }
        out.append(contentsOf: overflow.values)
        return out
    }

    mutating func removeAll() {
        ring = []
        head = 0
        span = 0
        overflow = [:]
        count = 0
    }

    private mutating func dropSettledPrefix() {
        while span > 0 && ring[head] == nil {
            head = (head + 1) & (ring.count - 1)
            base &+= 1
            span -= 1
        }
        if span == 0 {
            head = 0
            if ring.count > Self.keptSlots { ring = [] }
        }
    }

    private mutating func grow() {
        let size = Swift.max(16, ring.count * 2)
        var bigger = ContiguousArray<Delivery?>(repeating: nil, count: size)
        for i in 0..<span { bigger[i] = ring[(head + i) & (ring.count - 1)] }
        ring = bigger
        head = 0
    }
}

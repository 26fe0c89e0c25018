/// Deadlines by owner, earliest first: a binary min-heap with lazy removal. Rescheduling an owner
/// pushes a new entry; the old one stays until it reaches the top and is found stale (its
/// deadline no longer the owner's current one), so neither moves nor cancels search the heap.
struct TimerHeap {
    struct Entry {
        var deadline: ContinuousClock.Instant
        var owner: UInt64
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    mutating func push(_ deadline: ContinuousClock.Instant, owner: UInt64) {
        entries.append(Entry(deadline: deadline, owner: owner))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].deadline < entries[parent].deadline else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    /// The earliest entry whose deadline is still `current(owner)`; stale entries on the way are
    /// dropped.
    mutating func peek(current: (UInt64) -> ContinuousClock.Instant?) -> Entry? {
        while let top = entries.first {
            if current(top.owner) == top.deadline { return top }
            _ = pop()
        }
        return nil
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < entries.count && entries[l].deadline < entries[smallest].deadline { smallest = l }
                if r < entries.count && entries[r].deadline < entries[smallest].deadline { smallest = r }
                guard smallest != i else { break }
                entries.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}

/// Messages in sequence order, taken from the front: a queue's messages never delivered, or
/// those that went back to it. Taking from the front only moves an index; the array is compacted
/// once most of it has been taken.
struct MessageList {
    private var items: [QueuedMessage] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    /// Adds a message later in sequence than every one held.
    mutating func append(_ m: QueuedMessage) {
        items.append(m)
    }

    /// Adds a message at its place in sequence order.
    mutating func insert(_ m: QueuedMessage) {
        if isEmpty || items[items.count - 1].sequence < m.sequence { return items.append(m) }
        var low = head, high = items.count
        while low < high {
            let mid = (low + high) / 2
            if items[mid].sequence < m.sequence { low = mid + 1 } else { high = mid }
        }
        items.insert(m, at: low)
    }

    /// Takes the first message.
    mutating func removeFirst() -> QueuedMessage? {
        guard !isEmpty else { return nil }
        defer { advance() }
        return items[head]
    }

    /// Takes the first message that `consumer` did not refuse.
    mutating func removeFirst(acceptableTo consumer: UInt64) -> QueuedMessage? {
        var i = head
        while i < items.count && items[i].refusedBy.contains(consumer) { i += 1 }
        guard i < items.count else { return nil }
        if i == head { return removeFirst() }
        return items.remove(at: i)
    }

    /// Takes everything.
    mutating func removeAll() -> [QueuedMessage] {
        defer { items = []; head = 0 }
        return Array(items[head...])
    }

    private mutating func advance() {
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}

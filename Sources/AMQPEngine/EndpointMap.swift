/// Sessions by the peer's channel, or links by the peer's handle: a dictionary that remembers the
/// last look-up, since frames come in runs on one channel and link and most look-ups then skip
/// hashing.
struct EndpointMap<Key: FixedWidthInteger, Value: AnyObject> {
    private var table: [Key: Value] = [:]
    private var lastKey: Key = 0
    private var lastValue: Value?

    subscript(key: Key) -> Value? {
        mutating get {
            if let v = lastValue, lastKey == key { return v }
            guard let v = table[key] else { return nil }
            lastKey = key
            lastValue = v
            return v
        }
        set {
            table[key] = newValue
            if lastKey == key { lastValue = newValue }
        }
    }

    mutating func removeAll() {
        table = [:]
        lastValue = nil
    }
}

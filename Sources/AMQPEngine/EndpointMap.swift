/// Sessions by the peer's channel, or links by the peer's handle: a dictionary that remembers the
/// last look-up, since frames come in runs on one channel and link and most look-ups then skip
/// hashing.
struct EndpointMap<Key: FixedWidthInteger, Value: AnyObject> {
    private var table: [Key: Value] = [:]
    private var lastKey: Key = 0
    // Unretained: `table` holds a strong reference to every value this can name (it is updated
    // whenever the entry for `lastKey` changes, and cleared with the table).
    private var lastValue: Unmanaged<Value>?

    subscript(key: Key) -> Value? {
        mutating get { unretained(key)?.takeUnretainedValue() }
        set {
            table[key] = newValue
            if lastKey == key { lastValue = newValue.map { Unmanaged.passUnretained($0) } }
        }
    }

    /// The value for `key` without a retain, for the per-frame look-ups of the transfer path (use
    /// it with `_withUnsafeGuaranteedRef` while the value is sure to stay in the map, or owned
    /// elsewhere: a session by its connection, a link by its session).
    @inline(__always)
    mutating func unretained(_ key: Key) -> Unmanaged<Value>? {
        if let v = lastValue, lastKey == key { return v }
        guard let v = table[key] else { return nil }
        lastKey = key
        lastValue = Unmanaged.passUnretained(v)
        return lastValue
    }

    mutating func removeAll() {
        table = [:]
        lastValue = nil
    }
}

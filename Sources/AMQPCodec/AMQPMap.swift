/// An AMQP `map`: key-value pairs in the order they were encoded (AMQP 1.0 §1.6.23).
///
/// Keys may be of any AMQP type. Lookups by key are linear, which is faster than hashing for the
/// handful of entries that application properties and annotations usually hold. Entries are kept
/// in one flat array, key then value, as on the wire: one allocation per map. A map of one entry
/// with a string key and a scalar value (the application properties of many messages, such as
/// quiver's {"SendTime": long}) is held inline instead, with no array: no allocation at all when
/// the key is short. Which form a map has is invisible: equality, hashing, iteration and encoding
/// are the same for both.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPMap: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (key: AMQPValue, value: AMQPValue)

    @usableFromInline
    enum Storage: Sendable {
        /// Keys and values interleaved: key 0, value 0, key 1, value 1...
        case flat([AMQPValue])
        /// One entry: a string key and a scalar value.
        case single(key: String, value: AMQPScalar)
    }

    @usableFromInline var storage: Storage

    /// Keys and values interleaved: key 0, value 0, key 1, value 1...
    public var flattened: [AMQPValue] {
        switch storage {
        case .flat(let f): return f
        case .single(let k, let v): return [.string(k), v.value]
        }
    }

    /// An empty map.
    public init() { storage = .flat([]) }
    /// A map of the literal's entries, in the literal's order; keys are not checked for uniqueness.
    public init(dictionaryLiteral elements: (AMQPValue, AMQPValue)...) {
        if elements.count == 1, case .string(let k) = elements[0].0, let v = AMQPScalar(elements[0].1) {
            storage = .single(key: k, value: v)
            return
        }
        var flattened: [AMQPValue] = []
        flattened.reserveCapacity(elements.count * 2)
        for i in elements.indices { flattened.append(elements[i].0); flattened.append(elements[i].1) }
        storage = .flat(flattened)
    }
    /// A map of `pairs`, in their order; keys are not checked for uniqueness.
    public init<S: Sequence>(_ pairs: S) where S.Element == (AMQPValue, AMQPValue) {
        var flattened: [AMQPValue] = []
        for (k, v) in pairs { flattened.append(k); flattened.append(v) }
        storage = .flat(flattened)
    }
    init(flattened: [AMQPValue]) { storage = .flat(flattened) }
    init(key: String, value: AMQPScalar) { storage = .single(key: key, value: value) }

    /// The keys, in order.
    public var keys: [AMQPValue] { (0 ..< count).map { key(at: $0) } }
    /// The values, in the order of their keys.
    public var values: [AMQPValue] { (0 ..< count).map { value(at: $0) } }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int {
        switch storage {
        case .flat(let f): return f.count / 2
        case .single: return 1
        }
    }
    @inlinable public subscript(position: Int) -> Element { (key(at: position), value(at: position)) }

    /// The key of entry `i`.
    @inlinable func key(at i: Int) -> AMQPValue {
        switch storage {
        case .flat(let f): return f[2 * i]
        case .single(let k, _): precondition(i == 0, "index out of range"); return .string(k)
        }
    }

    /// The value of entry `i`.
    @inlinable func value(at i: Int) -> AMQPValue {
        switch storage {
        case .flat(let f): return f[2 * i + 1]
        case .single(_, let v): precondition(i == 0, "index out of range"); return v.value
        }
    }

    /// The entry index of `key`.
    func index(ofKey key: AMQPValue) -> Int? {
        switch storage {
        case .flat(let f):
            var i = 0
            if case .string(let s) = key {
                // Application properties: compare strings without building AMQPValues.
                while i < f.count {
                    if case .string(let k) = f[i], k == s { return i / 2 }
                    i += 2
                }
                return nil
            }
            while i < f.count {
                if f[i] == key { return i / 2 }
                i += 2
            }
            return nil
        case .single(let k, _):
            if case .string(let s) = key, s == k { return 0 }
            return nil
        }
    }

    /// The value for `key`, or nil. Setting nil removes the entry; setting a new key appends it.
    public subscript(key: AMQPValue) -> AMQPValue? {
        get { index(ofKey: key).map { value(at: $0) } }
        set {
            var f: [AMQPValue]
            switch storage {
            case .flat(let existing): f = existing
            case .single(let k, let v): f = [.string(k), v.value]
            }
            storage = .flat([]) // drop the reference so the mutations below do not copy
            var i = 0
            while i < f.count && f[i] != key { i += 2 }
            if i < f.count {
                if let v = newValue { f[i + 1] = v } else { f.removeSubrange(i...i + 1) }
            } else if let v = newValue {
                f.append(key); f.append(v)
            }
            storage = .flat(f)
        }
    }

    /// The value for a string key, as application properties use.
    public subscript(string key: String) -> AMQPValue? {
        get {
            switch storage {
            case .single(let k, let v):
                // Not `k == key ? v.value : nil`: AMQPValue is ExpressibleByNilLiteral, so that nil is .null.
                guard k == key else { return nil }
                return v.value
            case .flat(let f):
                var i = 0
                while i < f.count {
                    if case .string(let k) = f[i], k == key { return f[i + 1] }
                    i += 2
                }
                return nil
            }
        }
        set { self[.string(key)] = newValue }
    }

    /// The value for a symbol key, as annotations and `fields` use.
    public subscript(symbol key: Symbol) -> AMQPValue? {
        get { self[.symbol(key)] }
        set { self[.symbol(key)] = newValue }
    }

    /// Maps are equal when they hold the same entries, in any order: AMQP gives the order of a
    /// map's entries no meaning (§1.6.23).
    public static func == (a: AMQPMap, b: AMQPMap) -> Bool {
        guard a.count == b.count else { return false }
        if case .flat(let fa) = a.storage, case .flat(let fb) = b.storage, fa == fb { return true }
        for i in 0 ..< a.count {
            guard let j = b.index(ofKey: a.key(at: i)), b.value(at: j) == a.value(at: i) else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with ==.
        var sum = 0
        for i in 0 ..< count {
            var h = Hasher()
            h.combine(key(at: i)); h.combine(value(at: i))
            sum &+= h.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }

    public var description: String {
        "{" + map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }
}

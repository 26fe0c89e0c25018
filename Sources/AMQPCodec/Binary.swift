/// An AMQP `binary`: a byte string.
///
/// A decoded `Binary` is a view into the bytes it was decoded from (it shares their storage, as an
/// `ArraySlice` does), so decoding a large data section copies nothing. Keeping a small view alive
/// keeps the whole input buffer alive; call ``compacted()`` to detach a view from it.
///
/// Threading: a plain value type, `Sendable`.
public struct Binary: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral, CustomStringConvertible {
    public typealias Element = UInt8
    public typealias Index = Int
    public typealias SubSequence = Binary

    /// The bytes; indices are those of the storage this view shares.
    public var bytes: ArraySlice<UInt8>

    public init() { bytes = [] }
    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    public init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    public init<S: Sequence>(_ elements: S) where S.Element == UInt8 { self.bytes = ArraySlice(elements) }
    public init(arrayLiteral elements: UInt8...) { self.bytes = elements[...] }
    /// The UTF-8 bytes of `string`.
    public init(utf8 string: String) { self.bytes = ArraySlice(string.utf8) }

    @inlinable public var startIndex: Int { bytes.startIndex }
    @inlinable public var endIndex: Int { bytes.endIndex }
    @inlinable public subscript(position: Int) -> UInt8 { bytes[position] }
    @inlinable public subscript(bounds: Range<Int>) -> Binary { Binary(bytes[bounds]) }
    @inlinable public var count: Int { bytes.count }

    /// A copy that no longer shares storage with the buffer it was decoded from.
    public func compacted() -> Binary { Binary(Array(bytes)) }

    /// Calls `body` with the bytes in contiguous memory, without copying.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    public static func == (a: Binary, b: Binary) -> Bool {
        a.count == b.count && a.bytes.elementsEqual(b.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public var description: String {
        let shown = bytes.prefix(32).map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        return count > 32 ? "\(shown)…(\(count) bytes)" : shown
    }
}

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

    public init() { storage = .flat([]) }
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
    public init<S: Sequence>(_ pairs: S) where S.Element == (AMQPValue, AMQPValue) {
        var flattened: [AMQPValue] = []
        for (k, v) in pairs { flattened.append(k); flattened.append(v) }
        storage = .flat(flattened)
    }
    init(flattened: [AMQPValue]) { storage = .flat(flattened) }
    init(key: String, value: AMQPScalar) { storage = .single(key: key, value: value) }

    public var keys: [AMQPValue] { (0 ..< count).map { key(at: $0) } }
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

/// An AMQP value of a fixed-width type that holds no reference: what an ``AMQPMap`` of one entry
/// keeps inline.
@usableFromInline
enum AMQPScalar: Sendable {
    case null
    case bool(Bool)
    case ubyte(UInt8)
    case ushort(UInt16)
    case uint(UInt32)
    case ulong(UInt64)
    case byte(Int8)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    case timestamp(Timestamp)

    @inlinable
    init?(_ v: AMQPValue) {
        switch v {
        case .null: self = .null
        case .bool(let x): self = .bool(x)
        case .ubyte(let x): self = .ubyte(x)
        case .ushort(let x): self = .ushort(x)
        case .uint(let x): self = .uint(x)
        case .ulong(let x): self = .ulong(x)
        case .byte(let x): self = .byte(x)
        case .short(let x): self = .short(x)
        case .int(let x): self = .int(x)
        case .long(let x): self = .long(x)
        case .float(let x): self = .float(x)
        case .double(let x): self = .double(x)
        case .timestamp(let x): self = .timestamp(x)
        default: return nil
        }
    }

    @inlinable
    var value: AMQPValue {
        switch self {
        case .null: return .null
        case .bool(let x): return .bool(x)
        case .ubyte(let x): return .ubyte(x)
        case .ushort(let x): return .ushort(x)
        case .uint(let x): return .uint(x)
        case .ulong(let x): return .ulong(x)
        case .byte(let x): return .byte(x)
        case .short(let x): return .short(x)
        case .int(let x): return .int(x)
        case .long(let x): return .long(x)
        case .float(let x): return .float(x)
        case .double(let x): return .double(x)
        case .timestamp(let x): return .timestamp(x)
        }
    }
}

/// An AMQP `array`: a sequence of values that all share one type and, optionally, one descriptor
/// (AMQP 1.0 §1.6.24).
///
/// The element type is part of the value, so an empty array still says what it holds, and an
/// `AMQPArray` is homogeneous by construction: encoding it cannot fail.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPArray: Sendable, Hashable, CustomStringConvertible {
    /// The type every element has (for described arrays, the type under the descriptor).
    public private(set) var elementType: AMQPType
    /// The descriptor shared by every element, if the array is of described values.
    public var descriptor: AMQPValue? { descriptorStorage.first }
    // An array rather than an optional: AMQPValue cannot hold itself inline, and an empty array
    // costs no allocation.
    private var descriptorStorage: [AMQPValue]
    /// The elements, without the descriptor.
    public private(set) var elements: [AMQPValue]

    /// Creates an array; throws if an element is not of `elementType`.
    /// - Throws: ``AMQPEncodingError`` when the elements are not homogeneous.
    public init(of elementType: AMQPType, descriptor: AMQPValue? = nil, _ elements: [AMQPValue]) throws(AMQPEncodingError) {
        if elementType == .described {
            throw AMQPEncodingError("an array's element type cannot be 'described'; pass the descriptor instead")
        }
        if let bad = elements.firstIndex(where: { $0.type != elementType }) {
            throw AMQPEncodingError("array of \(elementType) has element \(bad) of type \(elements[bad].type)")
        }
        self.elementType = elementType
        self.descriptorStorage = descriptor.map { [$0] } ?? []
        self.elements = elements
    }

    /// Used by the decoder, which has already checked the elements.
    init(unchecked elementType: AMQPType, descriptor: AMQPValue?, elements: [AMQPValue]) {
        self.elementType = elementType; self.descriptorStorage = descriptor.map { [$0] } ?? []; self.elements = elements
    }

    /// An array of symbols, the form AMQP uses for capabilities and `multiple="true"` fields.
    public static func symbols(_ symbols: [Symbol]) -> AMQPArray {
        AMQPArray(unchecked: .symbol, descriptor: nil, elements: symbols.map { .symbol($0) })
    }

    public var count: Int { elements.count }

    public var description: String {
        let d = descriptor.map { "\($0) " } ?? ""
        return "array<\(d)\(elementType)>[" + elements.map(\.description).joined(separator: ", ") + "]"
    }
}

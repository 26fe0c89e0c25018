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
/// in one flat array, key then value, as on the wire: one allocation per map.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPMap: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (key: AMQPValue, value: AMQPValue)

    /// Keys and values interleaved: key 0, value 0, key 1, value 1...
    public private(set) var flattened: [AMQPValue]

    public init() { flattened = [] }
    public init(dictionaryLiteral elements: (AMQPValue, AMQPValue)...) {
        flattened = []
        flattened.reserveCapacity(elements.count * 2)
        for (k, v) in elements { flattened.append(k); flattened.append(v) }
    }
    public init<S: Sequence>(_ pairs: S) where S.Element == (AMQPValue, AMQPValue) {
        flattened = []
        for (k, v) in pairs { flattened.append(k); flattened.append(v) }
    }
    init(flattened: [AMQPValue]) { self.flattened = flattened }

    public var keys: [AMQPValue] { stride(from: 0, to: flattened.count, by: 2).map { flattened[$0] } }
    public var values: [AMQPValue] { stride(from: 1, to: flattened.count, by: 2).map { flattened[$0] } }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { flattened.count / 2 }
    @inlinable public subscript(position: Int) -> Element { (flattened[2 * position], flattened[2 * position + 1]) }

    func index(ofKey key: AMQPValue) -> Int? {
        var i = 0
        while i < flattened.count {
            if flattened[i] == key { return i }
            i += 2
        }
        return nil
    }

    /// The value for `key`, or nil. Setting nil removes the entry; setting a new key appends it.
    public subscript(key: AMQPValue) -> AMQPValue? {
        get { index(ofKey: key).map { flattened[$0 + 1] } }
        set {
            if let i = index(ofKey: key) {
                if let v = newValue { flattened[i + 1] = v } else { flattened.removeSubrange(i...i + 1) }
            } else if let v = newValue {
                flattened.append(key); flattened.append(v)
            }
        }
    }

    /// The value for a string key, as application properties use.
    public subscript(string key: String) -> AMQPValue? {
        get { self[.string(key)] }
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
        guard a.flattened.count == b.flattened.count else { return false }
        if a.flattened == b.flattened { return true }
        var i = 0
        while i < a.flattened.count {
            guard let j = b.index(ofKey: a.flattened[i]), b.flattened[j + 1] == a.flattened[i + 1] else { return false }
            i += 2
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with ==.
        var sum = 0
        for (k, v) in self {
            var h = Hasher()
            h.combine(k); h.combine(v)
            sum &+= h.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }

    public var description: String {
        "{" + map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
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

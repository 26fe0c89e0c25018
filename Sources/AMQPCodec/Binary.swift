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

    /// An empty byte string.
    public init() { bytes = [] }
    /// A view of `bytes`, sharing their storage.
    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    /// The bytes of `bytes`, sharing their storage.
    public init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    /// A copy of `elements`.
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

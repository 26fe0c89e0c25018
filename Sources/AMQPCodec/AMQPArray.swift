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

    /// The number of elements.
    public var count: Int { elements.count }

    public var description: String {
        let d = descriptor.map { "\($0) " } ?? ""
        return "array<\(d)\(elementType)>[" + elements.map(\.description).joined(separator: ", ") + "]"
    }
}

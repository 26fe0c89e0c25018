/// Why decoding failed, and where.
///
/// Every malformed input throws one of these; the decoder never traps. ``offset`` is the position
/// in the input where the bad item starts.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    ///
    /// Threading: a plain value type, `Sendable`.
    public enum Kind: Sendable, Hashable {
        /// The input ended before the item did.
        case truncated(needed: Int, available: Int)
        /// A constructor byte that AMQP 1.0 does not define.
        case invalidConstructor(UInt8)
        /// A size or count that cannot fit in the bytes that remain or is otherwise impossible.
        case invalidSize(String)
        /// Nesting went deeper than ``AMQPDecodingLimits/maxDepth``.
        case tooDeep(limit: Int)
        /// A collection declared more elements than ``AMQPDecodingLimits`` allow.
        case tooManyElements(count: Int, limit: Int)
        /// A string or symbol that is not valid UTF-8 (or ASCII), or a char that is not a code point.
        case invalidText(String)
        /// A value of the wrong type for where it appears.
        case unexpectedType(expected: String, found: String)
        /// A composite's mandatory field was absent or null.
        case missingMandatoryField(type: String, field: String)
        /// A value outside the choices its restricted type allows.
        case invalidValue(String)
        /// A described value with a descriptor that was not expected here.
        case unexpectedDescriptor(expected: String, found: String)
    }

    /// What was wrong.
    public var kind: Kind
    /// Byte offset into the input at which the problem was found.
    public var offset: Int

    package init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    /// The AMQP error condition a peer should receive for this failure (AMQP 1.0 §2.8.15).
    public var condition: Symbol {
        switch kind {
        case .tooDeep, .tooManyElements: return "amqp:resource-limit-exceeded"
        case .missingMandatoryField, .invalidValue: return "amqp:invalid-field"
        default: return "amqp:decode-error"
        }
    }

    public var description: String {
        let what: String
        switch kind {
        case let .truncated(needed, available):
            what = "truncated: needed \(needed) bytes, \(available) left"
        case let .invalidConstructor(code):
            what = "invalid constructor 0x\(String(code, radix: 16))"
        case let .invalidSize(s): what = "invalid size: \(s)"
        case let .tooDeep(limit): what = "nesting deeper than \(limit)"
        case let .tooManyElements(count, limit): what = "\(count) elements, more than the limit \(limit)"
        case let .invalidText(s): what = "invalid text: \(s)"
        case let .unexpectedType(expected, found): what = "expected \(expected), found \(found)"
        case let .missingMandatoryField(type, field): what = "\(type): mandatory field '\(field)' missing"
        case let .invalidValue(s): what = "invalid value: \(s)"
        case let .unexpectedDescriptor(expected, found): what = "expected descriptor \(expected), found \(found)"
        }
        return "\(what) at offset \(offset)"
    }
}

/// A value that cannot be encoded, such as an array whose elements differ in type.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What cannot be encoded, and why.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Limits the decoder enforces so hostile input cannot exhaust memory or the stack.
///
/// Sizes are always checked against the bytes that remain; these limits bound what even
/// well-formed input may ask for.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPDecodingLimits: Sendable, Hashable {
    /// Deepest nesting of lists, maps, arrays and described values.
    public var maxDepth: Int
    /// Most elements in one array of zero-width elements (nulls, `true`, `uint0`...), whose
    /// count the input size cannot bound.
    public var maxZeroWidthElements: Int

    /// Limits of `maxDepth` levels of nesting and `maxZeroWidthElements` elements in an array of
    /// zero-width elements.
    public init(maxDepth: Int = 64, maxZeroWidthElements: Int = 65_536) {
        self.maxDepth = maxDepth
        self.maxZeroWidthElements = maxZeroWidthElements
    }

    /// 64 levels of nesting and 65,536 zero-width elements: what every decoder uses unless told.
    public static let `default` = AMQPDecodingLimits()
}

/// Why a selector did not compile, and where.
///
/// ``description`` reads as one sentence, such as `expected ')' at column 17`, ready for the text
/// of an `amqp:invalid-field` error when a broker refuses a link's selector filter.
///
/// Threading: a plain value type, `Sendable`.
public struct SelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public enum Kind: Sendable, Hashable {
        /// The text is not a selector: a bad token, a missing operand, an unbalanced parenthesis.
        case syntax
        /// The text parses, but an operand has the wrong type where the type is known from the
        /// text alone: `'a' + 1`, `NOT 5`, `x LIKE 5`.
        case type
        /// The text exceeds one of the ``Selector/Limits``.
        case limit
    }

    /// The kind of problem.
    public var kind: Kind
    /// What is wrong, without the position: `expected ')'`.
    public var reason: String
    /// Where the problem starts: 1 for the first character, counted in Unicode scalars.
    public var column: Int

    public init(_ kind: Kind, _ reason: String, column: Int) {
        self.kind = kind
        self.reason = reason
        self.column = column
    }

    /// The reason and the column: `expected ')' at column 17`.
    public var description: String { "\(reason) at column \(column)" }
}

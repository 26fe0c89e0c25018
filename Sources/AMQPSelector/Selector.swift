import AMQPCodec

/// A JMS message selector, compiled once and matched against AMQP messages: the SQL-92 subset of
/// JMS 2.0 §3.8.1.1 that ActiveMQ Artemis, Qpid Broker-J and Qpid C++ accept in the
/// `apache.org:selector-filter:string` source filter.
///
/// ```swift
/// let selector = try Selector("color = 'red' AND weight > 10")
/// if selector.matches(message) { deliver(message) }
/// ```
///
/// Identifiers name application properties (AMQP 1.0 §3.2.5), except the JMS header names
/// (`JMSPriority`, `JMSMessageID`, `JMSType`…) and Qpid's `amqp.` names (`amqp.priority`,
/// `amqp.subject`…), which read the header and properties sections; `Docs/Selectors.md` has the
/// grammar, the whole mapping and the limits.
///
/// Evaluation follows SQL's three-valued logic: a missing property is NULL, a comparison with
/// NULL is UNKNOWN, and a message matches only when the selector is TRUE. Comparing unlike types
/// (a string with a number) is FALSE; arithmetic on non-numbers and division by zero are NULL.
/// Nothing in compilation or evaluation traps, and the ``Limits`` bound what a hostile selector
/// can cost.
///
/// Threading: an immutable value, `Sendable`. Compile once, then call ``matches(_:)`` from any
/// number of threads at once.
public struct Selector: Sendable, CustomStringConvertible {
    /// Bounds on what a selector may ask for, so one from a peer cannot exhaust the stack or the CPU.
    ///
    /// Threading: a plain value type, `Sendable`.
    public struct Limits: Sendable, Hashable {
        /// The longest selector text, in UTF-8 bytes.
        public var maxLength: Int
        /// The deepest nesting of parentheses, `NOT`s and unary signs.
        public var maxDepth: Int
        /// The most literals in one `IN (...)` list.
        public var maxInListItems: Int

        public init(maxLength: Int = 65_536, maxDepth: Int = 100, maxInListItems: Int = 1_000) {
            self.maxLength = maxLength
            self.maxDepth = maxDepth
            self.maxInListItems = maxInListItems
        }

        /// 64 KiB of text, 100 levels of nesting, 1,000 items per IN list.
        public static let `default` = Limits()
    }

    /// The descriptor name of the selector filter type (Apache's filter registry).
    public static let filterDescriptorName: Symbol = "apache.org:selector-filter:string"
    /// The descriptor code of the selector filter type: domain 0x0000468C, id 0x00000004.
    public static let filterDescriptorCode: UInt64 = 0x0000_468C_0000_0004

    /// The text the selector was compiled from.
    public let text: String
    let program: SelectorProgram

    /// Compiles a selector.
    ///
    /// An empty selector (or one of only white space) is no selector: it matches every message,
    /// as JMS treats an empty selector as none.
    ///
    /// - Parameters:
    ///   - text: The selector, such as `color = 'red' AND weight > 10`.
    ///   - limits: Bounds on the text; ``Limits/default`` unless given.
    /// - Throws: ``SelectorError`` saying what is wrong and at which column: a syntax error, a type
    ///   error the text alone shows (`'a' + 1`), or a limit exceeded.
    public init(_ text: String, limits: Limits = .default) throws(SelectorError) {
        self.text = text
        self.program = try SelectorCompiler.compile(text, limits: limits)
    }

    /// Whether `message` is selected: the selector evaluates to TRUE (UNKNOWN and FALSE do not match).
    ///
    /// Takes time linear in the selector's size (a `LIKE` also linear in the string it matches);
    /// allocates only its small value stack.
    public func matches(_ message: Message) -> Bool {
        program.run(message) == true
    }

    /// The selector's truth for `message`: `true`, `false`, or `nil` for UNKNOWN.
    public func evaluate(_ message: Message) -> Bool? {
        program.run(message)
    }

    public var description: String { text }
}

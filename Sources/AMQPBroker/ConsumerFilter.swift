import AMQPCodec
import AMQPSelector

/// What a consumer's source filter (AMQP 1.0 §3.5.8) lets through: a JMS selector
/// (`apache.org:selector-filter:string`, Docs/Selectors.md) and Apache's no-local filter
/// (`apache.org:no-local-filter:list`: nothing published on the consumer's own connection).
///
/// Threading: an immutable value, `Sendable`: the queue applies it under its lock, from whichever
/// connection takes messages.
struct ConsumerFilter: Sendable {
    /// Messages must match it; nil lets every message through.
    let selector: Selector?
    /// Messages published on this connection are skipped (no-local); nil skips none.
    let localConnection: UInt64?

    /// Descriptor of Apache's no-local filter (the value is an empty list).
    static let noLocalDescriptorName: Symbol = "apache.org:no-local-filter:list"
    static let noLocalDescriptorCode: UInt64 = 0x0000_468C_0000_0003

    /// What selectors cost a queue: messages they looked at, and messages decoded for them.
    struct Work {
        var checks = 0
        var decodes = 0
    }

    /// Whether `m` gets through. A selector reads the message's head, decoded here the first time
    /// and kept on the message; a message whose bytes do not parse matches no selector.
    func matches(_ m: inout QueuedMessage, _ work: inout Work) -> Bool {
        if let localConnection, m.origin == localConnection { return false }
        guard let selector else { return true }
        work.checks += 1
        let head: MessageHead
        if let cached = m.head { head = cached } else {
            head = MessageHead(decoding: m.bytes)
            m.head = head
            work.decodes += 1
        }
        guard let message = head.message else { return false }
        return selector.matches(message)
    }

    /// The filters of a consumer's source that the broker applies, and the entries of the filter
    /// set that stand for them, to echo in the broker's attach (§3.5.3: the receiver learns which
    /// filters are in force from the sender's source). Entries the broker does not know are left
    /// out, not refused.
    struct Parsed {
        /// Nil when nothing is filtered.
        var filter: ConsumerFilter?
        /// Nil when no entry applies.
        var applied: AMQPMap?
    }

    /// Why a filter set is refused: the error the link is detached with.
    struct Refusal: Error {
        let error: AMQPError
        init(_ description: String) { error = AMQPError(condition: ErrorCondition.invalidField, description: description) }
    }

    /// Reads a filter set (keys are names the consumer chose; values are described filters).
    /// - Parameters:
    ///   - filterSet: The source's filter set; nil for none.
    ///   - connection: The consumer's connection, for no-local.
    /// - Throws: a ``Refusal`` with `amqp:invalid-field` with the selector's error (`expected ')' at column 31`) for a
    ///   selector that does not compile, one that is not a string, or two selectors.
    static func parse(_ filterSet: AMQPMap?, connection: UInt64) throws(Refusal) -> Parsed {
        guard let filterSet, !filterSet.isEmpty else { return Parsed() }
        var selector: Selector?
        var noLocal = false
        var applied: [(AMQPValue, AMQPValue)] = []
        for (key, value) in filterSet {
            guard case .described(let descriptor, let inner) = value else { continue }
            if names(descriptor, Selector.filterDescriptorName, Selector.filterDescriptorCode) {
                guard selector == nil else {
                    throw Refusal("more than one selector filter")
                }
                guard case .string(let text) = inner else {
                    throw Refusal("a selector filter's value must be a string")
                }
                do { selector = try Selector(text) } catch {
                    throw Refusal(error.description)
                }
                applied.append((key, value))
            } else if names(descriptor, noLocalDescriptorName, noLocalDescriptorCode) {
                noLocal = true
                applied.append((key, value))
            }
        }
        guard selector != nil || noLocal else { return Parsed() }
        return Parsed(filter: ConsumerFilter(selector: selector, localConnection: noLocal ? connection : nil), applied: AMQPMap(applied))
    }

    private static func names(_ descriptor: AMQPValue, _ name: Symbol, _ code: UInt64) -> Bool {
        switch descriptor {
        case .symbol(let s): return s == name
        case .ulong(let c): return c == code
        default: return false
        }
    }
}

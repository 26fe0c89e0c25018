import AMQPCodec

/// A compiled selector: postfix code for a value stack, run once per message without recursion.
///
/// `AND` and `OR` jump over their right operand when the left one decides (FALSE for `AND`, TRUE
/// for `OR`), leaving it as the result. Every jump goes forward, so a run takes at most one step
/// per instruction, and there are fewer instructions than tokens in the text.
struct SelectorProgram: Sendable {
    enum Instruction: Sendable {
        case push(SelectorValue)
        case property(String)
        case field(MessageField)
        /// `property op constant`, the commonest shape, as one step.
        case compareProperty(String, Comparison, SelectorValue)
        case negate
        case plus
        case arithmetic(Arithmetic)
        case compare(Comparison)
        case not
        case and
        case or
        /// When the top of the stack is FALSE, go to the target and leave it there.
        case jumpIfFalse(Int)
        /// When the top of the stack is TRUE, go to the target and leave it there.
        case jumpIfTrue(Int)
        /// Value, low, high on the stack.
        case between(negated: Bool)
        /// Index into `lists`.
        case inList(Int, negated: Bool)
        /// Index into `patterns`.
        case like(Int, negated: Bool)
        case isNull(negated: Bool)
    }

    var code: [Instruction] = []
    var lists: [[SelectorValue]] = []
    var patterns: [LikePattern] = []
    /// The deepest the stack gets.
    var maxStack = 0
    /// Whether any instruction reads application properties, or the properties section.
    var readsApplicationProperties = false
    var readsProperties = false

    /// Runs the program against `message`: TRUE, FALSE, or nil for UNKNOWN (or a non-boolean result).
    func run(_ message: Message) -> Bool? {
        var stack: [SelectorValue] = []
        stack.reserveCapacity(maxStack)
        let application = readsApplicationProperties ? message.applicationProperties : nil
        let properties = readsProperties ? message.properties : nil

        // Popping an empty stack cannot happen in a program the compiler built; if it ever did,
        // NULL is the answer rather than a trap.
        @inline(__always) func pop() -> SelectorValue { stack.popLast() ?? .null }
        @inline(__always) func property(_ name: String) -> SelectorValue {
            guard let v = application?[string: name] else { return .null }
            return SelectorValue(v)
        }

        var pc = 0
        let count = code.count
        while pc < count {
            switch code[pc] {
            case .push(let v):
                stack.append(v)
            case .property(let name):
                stack.append(property(name))
            case .field(let f):
                stack.append(f.value(message, properties))
            case .compareProperty(let name, let op, let constant):
                stack.append(SelectorValue.compare(property(name), op, constant).value)
            case .negate:
                stack.append(SelectorValue.negate(pop()))
            case .plus:
                stack.append(SelectorValue.plus(pop()))
            case .arithmetic(let op):
                let b = pop(), a = pop()
                stack.append(SelectorValue.arithmetic(a, op, b))
            case .compare(let op):
                let b = pop(), a = pop()
                stack.append(SelectorValue.compare(a, op, b).value)
            case .not:
                stack.append((!pop().truth).value)
            case .and:
                let b = pop().truth, a = pop().truth
                stack.append((a && b).value)
            case .or:
                let b = pop().truth, a = pop().truth
                stack.append((a || b).value)
            case .jumpIfFalse(let target):
                if case .bool(false)? = stack.last { pc = target; continue }
            case .jumpIfTrue(let target):
                if case .bool(true)? = stack.last { pc = target; continue }
            case .between(let negated):
                let high = pop(), low = pop(), v = pop()
                let t = negated
                    ? SelectorValue.compare(v, .less, low) || SelectorValue.compare(v, .greater, high)
                    : SelectorValue.compare(v, .greaterOrEqual, low) && SelectorValue.compare(v, .lessOrEqual, high)
                stack.append(t.value)
            case .inList(let index, let negated):
                let v = pop()
                if v.isNull { stack.append(.null); break }
                var found = false
                for item in lists[index] where SelectorValue.compare(v, .equal, item) == .true {
                    found = true
                    break
                }
                stack.append(.bool(found != negated))
            case .like(let index, let negated):
                switch pop() {
                case .null: stack.append(.null)
                case .string(let s): stack.append(.bool(patterns[index].matches(s) != negated))
                // LIKE compares strings; any other type is a comparison of unlike types, FALSE.
                default: stack.append(.bool(negated))
                }
            case .isNull(let negated):
                stack.append(.bool(pop().isNull != negated))
            }
            pc += 1
        }
        if case .bool(let b)? = stack.last { return b }
        return nil
    }
}

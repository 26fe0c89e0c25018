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
    /// Whether any instruction reads application properties (fetched once per run if so).
    var readsApplicationProperties = false

    /// Runs the program against `message`: TRUE, FALSE, or nil for UNKNOWN (or a non-boolean result).
    ///
    /// The value stack lives in a temporary allocation (on the thread's stack when it is small, as
    /// it is for any selector of ordinary shape), so a run allocates nothing of its own.
    func run(_ message: Message) -> Bool? {
        withUnsafeTemporaryAllocation(of: SelectorValue.self, capacity: max(1, maxStack)) { buffer in
            var stack = ValueStack(buffer)
            let result = run(message, &stack)
            stack.removeAll()
            return result
        }
    }

    private func run(_ message: Message, _ stack: inout ValueStack) -> Bool? {
        let application = readsApplicationProperties ? message.applicationProperties : nil
        var pc = 0
        let count = code.count
        while pc < count {
            switch code[pc] {
            case .push(let v):
                stack.push(v)
            case .property(let name):
                stack.push(Self.property(application, name))
            case .field(let f):
                stack.push(f.value(message))
            case .compareProperty(let name, let op, let constant):
                stack.push(SelectorValue.compare(Self.property(application, name), op, constant).value)
            case .negate:
                stack.push(SelectorValue.negate(stack.pop()))
            case .plus:
                stack.push(SelectorValue.plus(stack.pop()))
            case .arithmetic(let op):
                let b = stack.pop(), a = stack.pop()
                stack.push(SelectorValue.arithmetic(a, op, b))
            case .compare(let op):
                let b = stack.pop(), a = stack.pop()
                stack.push(SelectorValue.compare(a, op, b).value)
            case .not:
                stack.push((!stack.pop().truth).value)
            case .and:
                let b = stack.pop().truth, a = stack.pop().truth
                stack.push((a && b).value)
            case .or:
                let b = stack.pop().truth, a = stack.pop().truth
                stack.push((a || b).value)
            case .jumpIfFalse(let target):
                if stack.topTruth == .false { pc = target; continue }
            case .jumpIfTrue(let target):
                if stack.topTruth == .true { pc = target; continue }
            case .between(let negated):
                let high = stack.pop(), low = stack.pop(), v = stack.pop()
                let t = negated
                    ? SelectorValue.compare(v, .less, low) || SelectorValue.compare(v, .greater, high)
                    : SelectorValue.compare(v, .greaterOrEqual, low) && SelectorValue.compare(v, .lessOrEqual, high)
                stack.push(t.value)
            case .inList(let index, let negated):
                let v = stack.pop()
                if v.isNull {
                    stack.push(.null)
                } else {
                    var found = false
                    for item in lists[index] where SelectorValue.compare(v, .equal, item) == .true {
                        found = true
                        break
                    }
                    stack.push(.bool(found != negated))
                }
            case .like(let index, let negated):
                switch stack.pop() {
                case .null: stack.push(.null)
                case .string(let s): stack.push(.bool(patterns[index].matches(s) != negated))
                // LIKE compares strings; any other type is a comparison of unlike types, FALSE.
                default: stack.push(.bool(negated))
                }
            case .isNull(let negated):
                stack.push(.bool(stack.pop().isNull != negated))
            }
            pc += 1
        }
        switch stack.topTruth {
        case .true: return true
        case .false: return false
        case .unknown: return nil
        }
    }

    @inline(__always)
    private static func property(_ application: AMQPMap?, _ name: String) -> SelectorValue {
        guard let v = application?[string: name] else { return .null }
        return SelectorValue(v)
    }
}

/// The evaluation stack over memory the caller provides. Its capacity is the depth the compiler
/// computed for the program, so a push never finds it full; were one to, the value would be
/// dropped rather than written out of bounds, and popping an empty stack gives NULL: a compiler
/// bug would give a wrong answer, never a trap or a stray write.
struct ValueStack {
    private let base: UnsafeMutablePointer<SelectorValue>?
    private let capacity: Int
    private var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<SelectorValue>) {
        base = buffer.baseAddress
        capacity = buffer.count
    }

    @inline(__always)
    mutating func push(_ v: SelectorValue) {
        guard let base, count < capacity else { return }
        (base + count).initialize(to: v)
        count += 1
    }

    @inline(__always)
    mutating func pop() -> SelectorValue {
        guard let base, count > 0 else { return .null }
        count -= 1
        return (base + count).move()
    }

    /// The truth of the value on top, without popping it.
    var topTruth: Truth {
        guard let base, count > 0 else { return .unknown }
        if case .bool(let b) = base[count - 1] { return b ? .true : .false }
        return .unknown
    }

    /// Deinitializes what is left, before the memory goes.
    mutating func removeAll() {
        if let base, count > 0 { base.deinitialize(count: count) }
        count = 0
    }
}

/// Parses selector text and emits a ``SelectorProgram`` in one pass, with an operator-precedence
/// (shunting-yard) parser: pending operators wait on a stack of their own, so nesting costs
/// memory on the heap, never the thread's stack, however deep it goes.
///
/// The grammar (JMS 2.0 §3.8.1.1), loosest binding first:
///
///     condition  := condition OR condition | condition AND condition | NOT condition | predicate
///     predicate  := sum ( = | <> | < | <= | > | >= ) sum
///                 | sum [NOT] BETWEEN sum AND sum
///                 | sum [NOT] LIKE string [ESCAPE string]
///                 | sum [NOT] IN ( literal {, literal} )
///                 | sum IS [NOT] NULL
///                 | sum
///     sum        := sum ( + | - ) product | product
///     product    := product ( * | / ) unary | unary
///     unary      := ( + | - ) unary | primary
///     primary    := literal | identifier | ( condition )
///
/// Comparisons do not chain (`a = b = c` is an error, as in SQL; `(a = b) = c` is not). `NOT` may
/// start a condition only, not an operand of a comparison or arithmetic (`a = NOT b` is an error).
/// Types are checked where the text alone decides them: a numeric or string expression is not a
/// condition, a condition or string is not an arithmetic operand. Identifiers may hold anything,
/// so they pass every check.
struct SelectorCompiler {
    /// What the text says about an expression's type.
    enum Kind {
        case boolean, numeric, string
        /// An identifier, NULL, or a parenthesized one: any type at run time.
        case unknown
    }

    /// An operand on the operand stack: its code is already emitted.
    struct Operand {
        var kind: Kind
        var column: Int
        /// The result of a comparison or predicate not in parentheses: another may not follow.
        var compared = false
    }

    /// An operator waiting for its right operand to be complete.
    enum Pending {
        case paren(column: Int)
        case not(column: Int)
        case sign(negative: Bool, column: Int)
        case arithmetic(Arithmetic)
        case comparison(Comparison)
        /// The address of the jump over the right operand.
        case and(jump: Int)
        case or(jump: Int)
        /// BETWEEN with its low bound being read: the next AND is its own.
        case betweenLow(negated: Bool)
        case betweenHigh(negated: Bool)

        /// Binding strength: OR 1, AND 2, NOT 3, comparisons 4, + - 5, * / 6, signs 7.
        var precedence: Int {
            switch self {
            case .paren: return 0
            case .or: return 1
            case .and: return 2
            case .not: return 3
            case .comparison, .betweenLow, .betweenHigh: return 4
            case .arithmetic(.add), .arithmetic(.subtract): return 5
            case .arithmetic: return 6
            case .sign: return 7
            }
        }

        /// Whether the operator counts toward ``Selector/Limits/maxDepth``.
        var nests: Bool {
            switch self {
            case .paren, .not, .sign: return true
            default: return false
            }
        }
    }

    private var tokens: [SelectorToken]
    private var position = 0
    private let limits: Selector.Limits
    private var program = SelectorProgram()
    private var stackDepth = 0
    /// The latest target a jump was patched with (targets only grow: each is the code's length then).
    private var lastJumpTarget = -1
    private var operands: [Operand] = []
    private var pending: [Pending] = []
    /// Parentheses, NOTs and signs in `pending`.
    private var depth = 0

    private init(tokens: [SelectorToken], limits: Selector.Limits) {
        self.tokens = tokens
        self.limits = limits
    }

    static func compile(_ text: String, limits: Selector.Limits) throws(SelectorError) -> SelectorProgram {
        let length = text.utf8.count
        if length > limits.maxLength {
            throw SelectorError(.limit, "selector is \(length) bytes long, over the limit of \(limits.maxLength)", column: 1)
        }
        var compiler = SelectorCompiler(tokens: try SelectorLexer.tokenize(text), limits: limits)
        if case .end = compiler.current.kind {
            // An empty selector is no selector (JMS: "treated as null"): every message matches.
            compiler.emit(.push(.bool(true)), stack: 1)
            return compiler.program
        }
        try compiler.parse()
        return compiler.program
    }

    // MARK: Tokens

    private var current: SelectorToken { tokens[min(position, tokens.count - 1)] }

    private func peek(_ offset: Int) -> SelectorToken { tokens[min(position + offset, tokens.count - 1)] }

    private mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    private func isKeyword(_ t: SelectorToken, _ k: SelectorToken.Keyword) -> Bool {
        if case .keyword(k) = t.kind { return true }
        return false
    }

    private func isSymbol(_ t: SelectorToken, _ s: SelectorToken.Symbol) -> Bool {
        if case .symbol(s) = t.kind { return true }
        return false
    }

    private func unexpected(_ t: SelectorToken) -> SelectorError {
        if case .end = t.kind { return SelectorError(.syntax, "unexpected end of selector", column: t.column) }
        return SelectorError(.syntax, "unexpected \(Self.quote(t.text))", column: t.column)
    }

    /// The token as the message shows it: in single quotes, unless it is a quoted literal or
    /// name already; cut after 24 characters.
    private static func quote(_ text: String) -> String {
        let shown = text.unicodeScalars.count > 24 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(24))) + "…" : text
        if let first = text.unicodeScalars.first, first == "'" || first == "\"" { return shown }
        return "'" + shown + "'"
    }

    private mutating func expect(_ s: SelectorToken.Symbol) throws(SelectorError) {
        guard isSymbol(current, s) else { throw SelectorError(.syntax, "expected '\(s.rawValue)'", column: current.column) }
        advance()
    }

    // MARK: Emitting

    private mutating func emit(_ instruction: SelectorProgram.Instruction, stack delta: Int) {
        program.code.append(instruction)
        stackDepth += delta
        program.maxStack = max(program.maxStack, stackDepth)
    }

    /// Emits a jump to be patched when its target is known; returns its address.
    private mutating func emitJump(_ instruction: SelectorProgram.Instruction) -> Int {
        program.code.append(instruction)
        return program.code.count - 1
    }

    private mutating func patchJump(_ address: Int) {
        let target = program.code.count
        lastJumpTarget = target
        switch program.code[address] {
        case .jumpIfFalse: program.code[address] = .jumpIfFalse(target)
        case .jumpIfTrue: program.code[address] = .jumpIfTrue(target)
        default: break
        }
    }

    // MARK: Type checks

    private func requireCondition(_ o: Operand) throws(SelectorError) {
        switch o.kind {
        case .boolean, .unknown: return
        case .numeric: throw SelectorError(.type, "a numeric expression is not a condition", column: o.column)
        case .string: throw SelectorError(.type, "a string is not a condition", column: o.column)
        }
    }

    private func requireNumeric(_ o: Operand) throws(SelectorError) {
        switch o.kind {
        case .numeric, .unknown: return
        case .boolean: throw SelectorError(.type, "expected a numeric expression, found a condition", column: o.column)
        case .string: throw SelectorError(.type, "expected a numeric expression, found a string", column: o.column)
        }
    }

    private func requireString(_ o: Operand) throws(SelectorError) {
        switch o.kind {
        case .string, .unknown: return
        case .boolean: throw SelectorError(.type, "expected a string expression, found a condition", column: o.column)
        case .numeric: throw SelectorError(.type, "expected a string expression, found a numeric expression", column: o.column)
        }
    }

    // MARK: Expressions

    /// Reads the whole text: operands go straight to code, operators wait in `pending` until an
    /// operator binding no tighter (or the end) completes their right operand.
    private mutating func parse() throws(SelectorError) {
        var expectOperand = true
        while true {
            let t = current
            if expectOperand {
                try operand(t)
                expectOperand = false
                continue
            }
            switch t.kind {
            case .keyword(.or):
                try reduce(downTo: 1)
                try requireCondition(top)
                advance()
                pending.append(.or(jump: emitJump(.jumpIfTrue(0))))
                expectOperand = true
            case .keyword(.and):
                try reduce(downTo: 5)
                if case .betweenLow(let negated)? = pending.last {
                    // The AND of BETWEEN low AND high.
                    try requireNumeric(top)
                    pending[pending.count - 1] = .betweenHigh(negated: negated)
                    advance()
                    expectOperand = true
                    continue
                }
                try reduce(downTo: 2)
                try requireCondition(top)
                advance()
                pending.append(.and(jump: emitJump(.jumpIfFalse(0))))
                expectOperand = true
            case .symbol(let s) where Self.comparison(s) != nil:
                try startPredicate(t)
                let op = Self.comparison(s)!
                if op.isOrdering { try requireNumeric(top) }
                advance()
                pending.append(.comparison(op))
                expectOperand = true
            case .keyword(.not) where isKeyword(peek(1), .between) || isKeyword(peek(1), .like) || isKeyword(peek(1), .in):
                try startPredicate(t)
                advance()
                expectOperand = try predicate(negated: true)
            case .keyword(.between), .keyword(.like), .keyword(.in), .keyword(.is):
                try startPredicate(t)
                expectOperand = try predicate(negated: false)
            case .symbol(.plus), .symbol(.minus), .symbol(.times), .symbol(.divide):
                let op: Arithmetic = isSymbol(t, .plus) ? .add : isSymbol(t, .minus) ? .subtract : isSymbol(t, .times) ? .multiply : .divide
                let p = Pending.arithmetic(op).precedence
                try reduce(downTo: p)
                try requireNumeric(top)
                advance()
                pending.append(.arithmetic(op))
                expectOperand = true
            case .symbol(.rightParen):
                try reduce(downTo: 1)
                guard case .paren(let column)? = pending.last else { throw unexpected(t) }
                pending.removeLast()
                depth -= 1
                advance()
                if var o = operands.popLast() {
                    o.column = column
                    o.compared = false
                    operands.append(o)
                }
            case .end:
                try reduce(downTo: 1)
                if case .paren? = pending.last { throw SelectorError(.syntax, "expected ')'", column: t.column) }
                try requireCondition(top)
                return
            default:
                throw unexpected(t)
            }
        }
    }

    /// The operand on top of the operand stack (the compiler always has one where this is asked).
    private var top: Operand { operands.last ?? Operand(kind: .unknown, column: current.column) }

    /// Reads what may stand where an operand is expected: prefix operators (pushed, to wait for
    /// their operand) until a literal, an identifier or an opening parenthesis.
    private mutating func operand(_ first: SelectorToken) throws(SelectorError) {
        var t = first
        while true {
            switch t.kind {
            case .keyword(.not):
                // NOT starts a condition: not an operand of a comparison, BETWEEN or arithmetic.
                switch pending.last {
                case nil, .paren?, .and?, .or?, .not?: break
                default: throw unexpected(t)
                }
                try push(.not(column: t.column), t)
                advance()
            case .symbol(.minus), .symbol(.plus):
                let negative = isSymbol(t, .minus)
                advance()
                // A sign before a numeric literal is part of it: -9223372036854775808 is Int64.min.
                let value: SelectorValue?
                switch current.kind {
                case .long(let v): value = .long(negative ? 0 &- v : v)
                case .double(let v): value = .double(negative ? -v : v)
                case .longMinMagnitude: value = negative ? .long(.min) : .double(9_223_372_036_854_775_808)
                default: value = nil
                }
                if let value {
                    advance()
                    emit(.push(value), stack: 1)
                    operands.append(Operand(kind: .numeric, column: t.column))
                    return
                }
                try push(.sign(negative: negative, column: t.column), t)
            case .symbol(.leftParen):
                try push(.paren(column: t.column), t)
                advance()
            default:
                // Signs and NOTs before it wait in `pending` for an operator binding looser than
                // they do (or the end), which `reduce` completes them at.
                operands.append(try primary())
                return
            }
            t = current
        }
    }

    private mutating func push(_ p: Pending, _ t: SelectorToken) throws(SelectorError) {
        if p.nests {
            depth += 1
            if depth > limits.maxDepth {
                throw SelectorError(.limit, "nesting deeper than \(limits.maxDepth) levels", column: t.column)
            }
        }
        pending.append(p)
    }

    /// Completes every pending operator binding at least as tightly as `minimum`, stopping at a
    /// parenthesis. Reaching BETWEEN's low bound means its AND is missing.
    private mutating func reduce(downTo minimum: Int) throws(SelectorError) {
        while let p = pending.last, p.precedence >= minimum {
            if case .paren = p { return }
            if case .betweenLow = p { throw SelectorError(.syntax, "expected AND", column: current.column) }
            pending.removeLast()
            try apply(p)
        }
    }

    /// A comparison or predicate is about to apply to the operand on top: complete the arithmetic
    /// before it, and refuse a second comparison on the same level.
    private mutating func startPredicate(_ t: SelectorToken) throws(SelectorError) {
        try reduce(downTo: 4)
        if top.compared { throw unexpected(t) }
    }

    private mutating func popOperand() -> Operand {
        operands.popLast() ?? Operand(kind: .unknown, column: current.column)
    }

    /// Emits a pending operator now that its operands are complete.
    private mutating func apply(_ p: Pending) throws(SelectorError) {
        switch p {
        case .paren, .betweenLow:
            return
        case .not(let column):
            let o = popOperand()
            try requireCondition(o)
            emit(.not, stack: 0)
            depth -= 1
            operands.append(Operand(kind: .boolean, column: column))
        case .sign(let negative, let column):
            let o = popOperand()
            try requireNumeric(o)
            emit(negative ? .negate : .plus, stack: 0)
            depth -= 1
            operands.append(Operand(kind: .numeric, column: column))
        case .arithmetic(let op):
            let right = popOperand(), left = popOperand()
            try requireNumeric(right)
            emit(.arithmetic(op), stack: -1)
            operands.append(Operand(kind: .numeric, column: left.column))
        case .comparison(let op):
            let right = popOperand(), left = popOperand()
            if op.isOrdering { try requireNumeric(right) }
            emitComparison(op)
            operands.append(Operand(kind: .boolean, column: left.column, compared: true))
        case .and(let jump), .or(let jump):
            let right = popOperand(), left = popOperand()
            try requireCondition(right)
            if case .and = p { emit(.and, stack: -1) } else { emit(.or, stack: -1) }
            patchJump(jump)
            operands.append(Operand(kind: .boolean, column: left.column))
        case .betweenHigh(let negated):
            let high = popOperand()
            _ = popOperand()
            let value = popOperand()
            try requireNumeric(high)
            emit(.between(negated: negated), stack: -2)
            operands.append(Operand(kind: .boolean, column: value.column, compared: true))
        }
    }

    private static func comparison(_ s: SelectorToken.Symbol) -> Comparison? {
        switch s {
        case .equal: return .equal
        case .notEqual: return .notEqual
        case .less: return .less
        case .lessOrEqual: return .lessOrEqual
        case .greater: return .greater
        case .greaterOrEqual: return .greaterOrEqual
        default: return nil
        }
    }

    /// Emits a comparison of the two values on the stack, fusing `property op constant` into one step.
    private mutating func emitComparison(_ op: Comparison) {
        let n = program.code.count
        // A jump may land on the property (the fused step starts at the same address) but none may
        // land on the constant or after it: the fused step would move what it lands on.
        if n >= 2, case .property(let name) = program.code[n - 2], case .push(let constant) = program.code[n - 1],
           lastJumpTarget < n - 1 {
            program.code.removeLast(2)
            stackDepth -= 2
            emit(.compareProperty(name, op, constant), stack: 1)
            return
        }
        emit(.compare(op), stack: -1)
    }

    private mutating func primary() throws(SelectorError) -> Operand {
        let t = current
        let value: SelectorValue
        let kind: Kind
        switch t.kind {
        case .identifier(let name):
            advance()
            if let field = MessageField.byName[name] {
                emit(.field(field), stack: 1)
            } else {
                emit(.property(name), stack: 1)
                program.readsApplicationProperties = true
            }
            return Operand(kind: .unknown, column: t.column)
        case .string(let s): value = .string(s); kind = .string
        case .long(let v): value = .long(v); kind = .numeric
        case .double(let v): value = .double(v); kind = .numeric
        case .longMinMagnitude: value = .double(9_223_372_036_854_775_808); kind = .numeric
        case .keyword(.true): value = .bool(true); kind = .boolean
        case .keyword(.false): value = .bool(false); kind = .boolean
        case .keyword(.null): value = .null; kind = .unknown
        case .end: throw SelectorError(.syntax, "expected an expression", column: t.column)
        default: throw unexpected(t)
        }
        advance()
        emit(.push(value), stack: 1)
        return Operand(kind: kind, column: t.column)
    }

    // MARK: Predicates

    /// BETWEEN, LIKE, IN or IS applied to the operand on top; the current token is the keyword
    /// (after any NOT). Returns whether an operand comes next (BETWEEN's low bound).
    private mutating func predicate(negated: Bool) throws(SelectorError) -> Bool {
        let t = current
        let left = top
        advance()
        switch t.kind {
        case .keyword(.between):
            try requireNumeric(left)
            pending.append(.betweenLow(negated: negated))
            return true
        case .keyword(.like):
            try requireString(left)
            guard case .string(let pattern) = current.kind else {
                throw SelectorError(.syntax, "expected a string literal pattern after LIKE", column: current.column)
            }
            let patternColumn = current.column
            advance()
            var escape: Unicode.Scalar?
            if isKeyword(current, .escape) {
                advance()
                guard case .string(let e) = current.kind, e.unicodeScalars.count == 1, let c = e.unicodeScalars.first else {
                    throw SelectorError(.syntax, "expected a one-character string literal after ESCAPE", column: current.column)
                }
                escape = c
                advance()
            }
            let compiled: LikePattern
            do {
                compiled = try LikePattern(pattern, escape: escape)
            } catch {
                throw SelectorError(.syntax, "LIKE pattern ends with its escape character", column: patternColumn)
            }
            program.patterns.append(compiled)
            emit(.like(program.patterns.count - 1, negated: negated), stack: 0)
        case .keyword(.in):
            try expect(.leftParen)
            var items: [SelectorValue] = []
            while true {
                if items.count == limits.maxInListItems {
                    throw SelectorError(.limit, "more than \(limits.maxInListItems) items in an IN list", column: current.column)
                }
                items.append(try literal())
                if isSymbol(current, .comma) { advance(); continue }
                if isSymbol(current, .rightParen) { advance(); break }
                throw SelectorError(.syntax, "expected ',' or ')'", column: current.column)
            }
            program.lists.append(items)
            emit(.inList(program.lists.count - 1, negated: negated), stack: 0)
        case .keyword(.is):
            let not = isKeyword(current, .not)
            if not { advance() }
            guard isKeyword(current, .null) else { throw SelectorError(.syntax, "expected NULL", column: current.column) }
            advance()
            emit(.isNull(negated: not), stack: 0)
        default:
            throw unexpected(t)
        }
        _ = popOperand()
        operands.append(Operand(kind: .boolean, column: left.column, compared: true))
        return false
    }

    /// An IN-list item: a string or a (signed) numeric literal.
    private mutating func literal() throws(SelectorError) -> SelectorValue {
        var negative = false
        if isSymbol(current, .minus) || isSymbol(current, .plus) {
            negative = isSymbol(current, .minus)
            advance()
            switch current.kind {
            case .long, .double, .longMinMagnitude: break
            default: throw SelectorError(.syntax, "expected a numeric literal", column: current.column)
            }
        }
        let value: SelectorValue
        switch current.kind {
        case .string(let s): value = .string(s)
        case .long(let v): value = .long(negative ? 0 &- v : v)
        case .double(let v): value = .double(negative ? -v : v)
        case .longMinMagnitude: value = negative ? .long(.min) : .double(9_223_372_036_854_775_808)
        case .end: throw SelectorError(.syntax, "expected a string or numeric literal", column: current.column)
        default:
            throw SelectorError(.syntax, "expected a string or numeric literal, found \(Self.quote(current.text))", column: current.column)
        }
        advance()
        return value
    }
}

/// Parses selector text and emits a ``SelectorProgram`` in one pass, by precedence climbing.
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
/// Comparisons do not chain (`a = b = c` is an error, as in SQL). Types are checked where the text
/// alone decides them: a numeric or string expression is not a condition, a condition or string is
/// not an arithmetic operand. Identifiers may hold anything, so they pass every check.
///
/// Recursion happens only for parentheses, `NOT` and unary signs (each one level of
/// ``Selector/Limits/maxDepth``) and for the right operand of a binary operator (at most five levels
/// between two of those), so the stack the parser uses is bounded by the depth limit.
struct SelectorCompiler {
    /// What the text says about an expression's type.
    enum Kind {
        case boolean, numeric, string
        /// An identifier, NULL, or a parenthesized one: any type at run time.
        case unknown
    }

    struct Operand {
        var kind: Kind
        var column: Int
    }

    private var tokens: [SelectorToken]
    private var position = 0
    private var depth = 0
    private let limits: Selector.Limits
    private var program = SelectorProgram()
    private var stackDepth = 0
    /// The latest target a jump was patched with (targets only grow: each is the code's length then).
    private var lastJumpTarget = -1

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
        let top = try compiler.expression(0)
        try compiler.requireCondition(top)
        if case .end = compiler.current.kind {} else {
            throw compiler.unexpected(compiler.current)
        }
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

    private static func quote(_ text: String) -> String {
        let shown = text.unicodeScalars.count > 24 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(24))) + "…" : text
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

    /// Binding strengths: OR 1, AND 2, NOT 3, comparisons and predicates 4, + - 5, * / 6, signs 7.
    private mutating func expression(_ minimum: Int) throws(SelectorError) -> Operand {
        var left = try prefix(minimum)
        var compared = false
        while true {
            let t = current
            switch t.kind {
            case .keyword(.or) where minimum <= 1:
                try requireCondition(left)
                advance()
                let jump = emitJump(.jumpIfTrue(0))
                let right = try expression(2)
                try requireCondition(right)
                emit(.or, stack: -1)
                patchJump(jump)
                left = Operand(kind: .boolean, column: left.column)
            case .keyword(.and) where minimum <= 2:
                try requireCondition(left)
                advance()
                let jump = emitJump(.jumpIfFalse(0))
                let right = try expression(3)
                try requireCondition(right)
                emit(.and, stack: -1)
                patchJump(jump)
                left = Operand(kind: .boolean, column: left.column)
            case .symbol(let s) where minimum <= 4 && Self.comparison(s) != nil:
                if compared { throw unexpected(t) }
                let op = Self.comparison(s)!
                advance()
                let right = try expression(5)
                if op.isOrdering {
                    try requireNumeric(left)
                    try requireNumeric(right)
                }
                emitComparison(op)
                left = Operand(kind: .boolean, column: left.column)
                compared = true
            case .keyword(.not) where minimum <= 4 && (isKeyword(peek(1), .between) || isKeyword(peek(1), .like) || isKeyword(peek(1), .in)):
                if compared { throw unexpected(t) }
                advance()
                try predicate(left, negated: true)
                left = Operand(kind: .boolean, column: left.column)
                compared = true
            case .keyword(.between), .keyword(.like), .keyword(.in), .keyword(.is):
                guard minimum <= 4 else { return left }
                if compared { throw unexpected(t) }
                try predicate(left, negated: false)
                left = Operand(kind: .boolean, column: left.column)
                compared = true
            case .symbol(.plus) where minimum <= 5, .symbol(.minus) where minimum <= 5:
                try requireNumeric(left)
                advance()
                let right = try expression(6)
                try requireNumeric(right)
                emit(.arithmetic(isSymbol(t, .plus) ? .add : .subtract), stack: -1)
                left = Operand(kind: .numeric, column: left.column)
            case .symbol(.times) where minimum <= 6, .symbol(.divide) where minimum <= 6:
                try requireNumeric(left)
                advance()
                let right = try expression(7)
                try requireNumeric(right)
                emit(.arithmetic(isSymbol(t, .times) ? .multiply : .divide), stack: -1)
                left = Operand(kind: .numeric, column: left.column)
            default:
                return left
            }
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

    /// Prefix operators: NOT (only where a condition may start), signs, parentheses; else a primary.
    private mutating func prefix(_ minimum: Int) throws(SelectorError) -> Operand {
        let t = current
        switch t.kind {
        case .keyword(.not):
            guard minimum <= 3 else { throw unexpected(t) }
            try enter(t)
            advance()
            let o = try expression(3)
            try requireCondition(o)
            emit(.not, stack: 0)
            depth -= 1
            return Operand(kind: .boolean, column: t.column)
        case .symbol(.minus), .symbol(.plus):
            let negative = isSymbol(t, .minus)
            advance()
            // A sign before a numeric literal is part of it: -9223372036854775808 is Int64.min.
            switch current.kind {
            case .long(let v):
                advance()
                emit(.push(.long(negative ? 0 &- v : v)), stack: 1)
                return Operand(kind: .numeric, column: t.column)
            case .double(let v):
                advance()
                emit(.push(.double(negative ? -v : v)), stack: 1)
                return Operand(kind: .numeric, column: t.column)
            case .longMinMagnitude:
                advance()
                emit(.push(negative ? .long(.min) : .double(9_223_372_036_854_775_808)), stack: 1)
                return Operand(kind: .numeric, column: t.column)
            default:
                break
            }
            try enter(t)
            let o = try expression(7)
            try requireNumeric(o)
            emit(negative ? .negate : .plus, stack: 0)
            depth -= 1
            return Operand(kind: .numeric, column: t.column)
        case .symbol(.leftParen):
            try enter(t)
            advance()
            let inner = try expression(0)
            try expect(.rightParen)
            depth -= 1
            return Operand(kind: inner.kind, column: t.column)
        default:
            return try primary()
        }
    }

    private mutating func enter(_ t: SelectorToken) throws(SelectorError) {
        depth += 1
        if depth > limits.maxDepth {
            throw SelectorError(.limit, "nesting deeper than \(limits.maxDepth) levels", column: t.column)
        }
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
                if field.readsProperties { program.readsProperties = true }
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

    /// BETWEEN, LIKE, IN or IS after `left`; the current token is the keyword (after any NOT).
    private mutating func predicate(_ left: Operand, negated: Bool) throws(SelectorError) {
        let t = current
        advance()
        switch t.kind {
        case .keyword(.between):
            try requireNumeric(left)
            let low = try expression(5)
            try requireNumeric(low)
            guard isKeyword(current, .and) else { throw SelectorError(.syntax, "expected AND", column: current.column) }
            advance()
            let high = try expression(5)
            try requireNumeric(high)
            emit(.between(negated: negated), stack: -2)
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

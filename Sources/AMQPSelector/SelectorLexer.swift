/// A token of selector text.
struct SelectorToken: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier(String)
        case string(String)
        case long(Int64)
        case double(Double)
        /// 9223372036854775808: `Int64.min` after a unary minus, an approximate numeric otherwise.
        case longMinMagnitude
        case keyword(Keyword)
        case symbol(Symbol)
        case end
    }

    enum Keyword: String, Sendable, CaseIterable {
        case and = "AND", or = "OR", not = "NOT", between = "BETWEEN", like = "LIKE", escape = "ESCAPE"
        case `in` = "IN", `is` = "IS", null = "NULL", `true` = "TRUE", `false` = "FALSE"
    }

    enum Symbol: String, Sendable {
        case equal = "=", notEqual = "<>", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case plus = "+", minus = "-", times = "*", divide = "/"
        case leftParen = "(", rightParen = ")", comma = ","
    }

    var kind: Kind
    /// 1-based, in Unicode scalars.
    var column: Int
    /// The source text, for error messages.
    var text: String
}

/// Splits selector text into tokens (JMS 2.0 §3.8.1.1 and the Java literal syntax it refers to).
///
/// - Identifiers start with a letter, `_` or `$` and go on with those, digits and `.` (ActiveMQ and
///   Qpid accept the dot, so `amqp.priority` is one identifier); `"a-b"` quotes any name (`""` is a
///   quote inside it). Identifiers are case-sensitive, keywords are not.
/// - Strings are in single quotes, `''` being a quote inside one.
/// - Exact numerics are Java `long` literals: decimal, hexadecimal (`0x1F`), octal (`017`), with an
///   optional `L`. Approximate numerics have a point or an exponent (`7.`, `.5`, `-57.9E2`, `1e3`), or
///   an `F`/`D` suffix. A decimal integer beyond `Int64` is approximate, as in ActiveMQ.
struct SelectorLexer {
    private let scalars: [Unicode.Scalar]
    private var i = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws(SelectorError) -> [SelectorToken] {
        var lexer = SelectorLexer(text)
        var tokens: [SelectorToken] = []
        while true {
            let t = try lexer.next()
            tokens.append(t)
            if case .end = t.kind { return tokens }
        }
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let j = i + offset
        return j < scalars.count ? scalars[j] : nil
    }

    private func text(_ from: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[from..<i])
        return String(s)
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            let v = c.value
            return (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) || v == 0x5F || v == 0x24
        }
        return c.properties.isAlphabetic
    }

    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        if isIdentifierStart(c) { return true }
        if c.isASCII { return (c.value >= 0x30 && c.value <= 0x39) || c == "." }
        return c.properties.numericType == .decimal
    }

    private static func isDigit(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return c.value >= 0x30 && c.value <= 0x39
    }

    private static func isHexDigit(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        let v = c.value | 0x20
        return isDigit(c) || (v >= 0x61 && v <= 0x66)
    }

    private static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" || c == "\u{0B}" }
        return c.properties.isWhitespace
    }

    mutating func next() throws(SelectorError) -> SelectorToken {
        while let c = peek(), Self.isWhitespace(c) { i += 1 }
        let start = i
        let column = i + 1
        guard let c = peek() else { return SelectorToken(kind: .end, column: column, text: "end of selector") }

        if Self.isIdentifierStart(c) {
            while let d = peek(), Self.isIdentifierPart(d) { i += 1 }
            let word = text(start)
            if let k = Self.keyword(word) { return SelectorToken(kind: .keyword(k), column: column, text: word) }
            return SelectorToken(kind: .identifier(word), column: column, text: word)
        }
        if Self.isDigit(c) || (c == "." && Self.isDigit(peek(1))) {
            return try number(start)
        }
        switch c {
        case "'":
            let s = try quoted("'", column: column, what: "string literal")
            return SelectorToken(kind: .string(s), column: column, text: text(start))
        case "\"":
            let s = try quoted("\"", column: column, what: "quoted identifier")
            if s.isEmpty { throw SelectorError(.syntax, "empty quoted identifier", column: column) }
            return SelectorToken(kind: .identifier(s), column: column, text: text(start))
        case "=": i += 1; return symbol(.equal, start)
        case "<":
            i += 1
            if peek() == ">" { i += 1; return symbol(.notEqual, start) }
            if peek() == "=" { i += 1; return symbol(.lessOrEqual, start) }
            return symbol(.less, start)
        case ">":
            i += 1
            if peek() == "=" { i += 1; return symbol(.greaterOrEqual, start) }
            return symbol(.greater, start)
        case "+": i += 1; return symbol(.plus, start)
        case "-": i += 1; return symbol(.minus, start)
        case "*": i += 1; return symbol(.times, start)
        case "/": i += 1; return symbol(.divide, start)
        case "(": i += 1; return symbol(.leftParen, start)
        case ")": i += 1; return symbol(.rightParen, start)
        case ",": i += 1; return symbol(.comma, start)
        default:
            throw SelectorError(.syntax, "unexpected character '\(Self.printable(c))'", column: column)
        }
    }

    private func symbol(_ s: SelectorToken.Symbol, _ start: Int) -> SelectorToken {
        SelectorToken(kind: .symbol(s), column: start + 1, text: s.rawValue)
    }

    /// A control or other invisible character as `U+XXXX`, anything else as itself.
    static func printable(_ c: Unicode.Scalar) -> String {
        if c.value < 0x20 || c.value == 0x7F || c.properties.isWhitespace || c.properties.generalCategory == .format
            || c.properties.generalCategory == .unassigned || c.properties.generalCategory == .surrogate
            || c.properties.generalCategory == .privateUse || c.properties.generalCategory == .control {
            let hex = String(c.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
        return String(c)
    }

    private static let keywords: [String: SelectorToken.Keyword] = {
        var d: [String: SelectorToken.Keyword] = [:]
        for k in SelectorToken.Keyword.allCases { d[k.rawValue] = k }
        return d
    }()

    private static func keyword(_ word: String) -> SelectorToken.Keyword? {
        // Keywords are ASCII and at most 7 letters: anything else is an identifier without uppercasing.
        guard word.utf8.count <= 7, word.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        return keywords[word.uppercased()]
    }

    /// The contents of a literal between `quote`s, a doubled quote standing for one.
    private mutating func quoted(_ quote: Unicode.Scalar, column: Int, what: String) throws(SelectorError) -> String {
        i += 1
        var s = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw SelectorError(.syntax, "unterminated \(what)", column: column) }
            i += 1
            if c == quote {
                if peek() == quote { i += 1; s.append(quote); continue }
                return String(s)
            }
            s.append(c)
        }
    }

    private mutating func number(_ start: Int) throws(SelectorError) -> SelectorToken {
        let column = start + 1
        // Hexadecimal: 0x followed by hex digits and an optional L, two's complement as in Java.
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            i += 2
            let digitsStart = i
            while Self.isHexDigit(peek()) { i += 1 }
            if i == digitsStart { throw SelectorError(.syntax, "invalid hexadecimal literal", column: column) }
            let digits = text(digitsStart)
            if let l = peek(), l == "l" || l == "L" { i += 1 }
            try endOfNumber(column)
            guard let v = UInt64(digits, radix: 16) else {
                throw SelectorError(.syntax, "hexadecimal literal out of range", column: column)
            }
            return SelectorToken(kind: .long(Int64(bitPattern: v)), column: column, text: text(start))
        }
        var approximate = false
        while Self.isDigit(peek()) { i += 1 }
        let integerEnd = i
        if peek() == "." {
            approximate = true
            i += 1
            while Self.isDigit(peek()) { i += 1 }
        }
        if let e = peek(), e == "e" || e == "E" {
            approximate = true
            i += 1
            if let s = peek(), s == "+" || s == "-" { i += 1 }
            guard Self.isDigit(peek()) else { throw SelectorError(.syntax, "invalid exponent in numeric literal", column: column) }
            while Self.isDigit(peek()) { i += 1 }
        }
        let numberEnd = i
        var literal = String(String.UnicodeScalarView(scalars[start..<numberEnd]))
        if let f = peek(), f == "f" || f == "F" || f == "d" || f == "D" {
            approximate = true
            i += 1
        } else if !approximate, let l = peek(), l == "l" || l == "L" {
            i += 1
        }
        try endOfNumber(column)
        if approximate {
            if literal.hasPrefix(".") { literal = "0" + literal }
            // The literal is digits, a point, an exponent: Double parses all of it (overflow is infinity).
            guard let d = Double(literal) else { throw SelectorError(.syntax, "invalid numeric literal", column: column) }
            return SelectorToken(kind: .double(d), column: column, text: text(start))
        }
        if literal.count > 1 && literal.hasPrefix("0") {
            // Octal, as Java reads a leading zero.
            guard integerEnd == numberEnd, literal.unicodeScalars.allSatisfy({ $0.value >= 0x30 && $0.value <= 0x37 }) else {
                throw SelectorError(.syntax, "invalid octal literal", column: column)
            }
            guard let v = UInt64(literal.dropFirst(), radix: 8) else {
                throw SelectorError(.syntax, "octal literal out of range", column: column)
            }
            return SelectorToken(kind: .long(Int64(bitPattern: v)), column: column, text: text(start))
        }
        if let v = Int64(literal) { return SelectorToken(kind: .long(v), column: column, text: text(start)) }
        if literal == "9223372036854775808" { return SelectorToken(kind: .longMinMagnitude, column: column, text: text(start)) }
        guard let d = Double(literal) else { throw SelectorError(.syntax, "invalid numeric literal", column: column) }
        return SelectorToken(kind: .double(d), column: column, text: text(start))
    }

    /// A number must not run into an identifier: `12abc` is an error, not `12` then `abc`.
    private func endOfNumber(_ column: Int) throws(SelectorError) {
        if let c = peek(), Self.isIdentifierPart(c) {
            throw SelectorError(.syntax, "invalid numeric literal", column: column)
        }
    }
}

import AMQPCodec

/// A value during evaluation, in the types JMS selectors know (JMS 2.0 §3.8.1.1): NULL, boolean,
/// exact numeric (Java `long`), approximate numeric (Java `double`) and string. Every AMQP value
/// of another type (binary, uuid, decimal, list, map, array, described) is `other`: present, so
/// not NULL, but equal to nothing and comparable with nothing.
enum SelectorValue: Sendable {
    case null
    case bool(Bool)
    case long(Int64)
    case double(Double)
    case string(String)
    case other

    /// An application property or annotation value as a selector sees it. Integers of every width
    /// are exact numerics (a `ulong` above `Int64.max` becomes approximate, as in Qpid C++),
    /// `float` and `double` approximate, `timestamp` its milliseconds, `symbol` and `char` strings.
    init(_ value: AMQPValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .ubyte(let v): self = .long(Int64(v))
        case .ushort(let v): self = .long(Int64(v))
        case .uint(let v): self = .long(Int64(v))
        case .ulong(let v): self = v <= UInt64(Int64.max) ? .long(Int64(v)) : .double(Double(v))
        case .byte(let v): self = .long(Int64(v))
        case .short(let v): self = .long(Int64(v))
        case .int(let v): self = .long(Int64(v))
        case .long(let v): self = .long(v)
        case .float(let v): self = .double(Double(v))
        case .double(let v): self = .double(v)
        case .timestamp(let t): self = .long(t.millisecondsSince1970)
        case .string(let s): self = .string(s)
        case .symbol(let s): self = .string(s.rawValue)
        case .char(let c): self = .string(String(Character(c)))
        case .decimal32, .decimal64, .decimal128, .uuid, .binary, .list, .map, .array, .described:
            self = .other
        }
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The truth of a value in a condition: a boolean is itself, anything else is UNKNOWN.
    var truth: Truth {
        if case .bool(let b) = self { return b ? .true : .false }
        return .unknown
    }
}

/// SQL's three truth values (JMS 2.0 §3.8.1.1, "SQL treatment of NULL").
enum Truth: Sendable {
    case `true`, `false`, unknown

    var value: SelectorValue {
        switch self {
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .unknown: return .null
        }
    }

    static prefix func ! (t: Truth) -> Truth {
        switch t {
        case .true: return .false
        case .false: return .true
        case .unknown: return .unknown
        }
    }

    static func && (a: Truth, b: Truth) -> Truth {
        if a == .false || b == .false { return .false }
        if a == .unknown || b == .unknown { return .unknown }
        return .true
    }

    static func || (a: Truth, b: Truth) -> Truth {
        if a == .true || b == .true { return .true }
        if a == .unknown || b == .unknown { return .unknown }
        return .false
    }
}

/// A comparison operator.
enum Comparison: Sendable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual

    var isOrdering: Bool { self != .equal && self != .notEqual }
}

/// A binary arithmetic operator.
enum Arithmetic: Sendable {
    case add, subtract, multiply, divide
}

extension SelectorValue {
    /// Compares two values as JMS does: NULL on either side is UNKNOWN; exact and approximate
    /// numerics compare after promotion to `double` (as Java promotes `long`); strings and booleans
    /// compare for `=` and `<>` only; every other pairing, including an ordering of strings or
    /// booleans, is FALSE ("only like type values can be compared").
    static func compare(_ a: SelectorValue, _ op: Comparison, _ b: SelectorValue) -> Truth {
        switch (a, b) {
        case (.null, _), (_, .null):
            return .unknown
        case (.long(let x), .long(let y)):
            return order(x, op, y)
        case (.long(let x), .double(let y)):
            return order(Double(x), op, y)
        case (.double(let x), .long(let y)):
            return order(x, op, Double(y))
        case (.double(let x), .double(let y)):
            return order(x, op, y)
        case (.string(let x), .string(let y)):
            switch op {
            // Code unit for code unit, as Java's String.equals: no Unicode normalization.
            case .equal: return sameCodeUnits(x, y) ? .true : .false
            case .notEqual: return sameCodeUnits(x, y) ? .false : .true
            default: return .false
            }
        case (.bool(let x), .bool(let y)):
            switch op {
            case .equal: return x == y ? .true : .false
            case .notEqual: return x != y ? .true : .false
            default: return .false
            }
        default:
            return .false
        }
    }

    /// Whether two strings have the same UTF-8 bytes: Java's `String.equals` (Swift's `==` would
    /// also equate canonically equivalent strings, such as precomposed and combining accents).
    static func sameCodeUnits(_ x: String, _ y: String) -> Bool {
        guard x.utf8.count == y.utf8.count else { return false }
        let fast = x.utf8.withContiguousStorageIfAvailable { a in
            y.utf8.withContiguousStorageIfAvailable { b in a.elementsEqual(b) }
        }
        if let fast, let same = fast { return same }
        return x.utf8.elementsEqual(y.utf8)
    }

    @inline(__always)
    private static func order<T: Comparable>(_ x: T, _ op: Comparison, _ y: T) -> Truth {
        let r: Bool
        switch op {
        case .equal: r = x == y
        case .notEqual: r = x != y
        case .less: r = x < y
        case .lessOrEqual: r = x <= y
        case .greater: r = x > y
        case .greaterOrEqual: r = x >= y
        }
        return r ? .true : .false
    }

    /// Arithmetic with Java's numeric promotion: `long` with `long` stays exact and wraps on
    /// overflow as Java does; anything with a `double` is a `double`. A non-numeric or NULL operand,
    /// and division by zero (exact or approximate), give NULL, so the comparison above it is
    /// UNKNOWN; nothing traps.
    static func arithmetic(_ a: SelectorValue, _ op: Arithmetic, _ b: SelectorValue) -> SelectorValue {
        switch (a, b) {
        case (.long(let x), .long(let y)):
            switch op {
            case .add: return .long(x &+ y)
            case .subtract: return .long(x &- y)
            case .multiply: return .long(x &* y)
            case .divide:
                if y == 0 { return .null }
                // Int64.min / -1 overflows; Java gives Int64.min, as the wrapping result does.
                return .long(x.dividedReportingOverflow(by: y).partialValue)
            }
        case (.long(let x), .double(let y)): return doubleArithmetic(Double(x), op, y)
        case (.double(let x), .long(let y)): return doubleArithmetic(x, op, Double(y))
        case (.double(let x), .double(let y)): return doubleArithmetic(x, op, y)
        default: return .null
        }
    }

    private static func doubleArithmetic(_ x: Double, _ op: Arithmetic, _ y: Double) -> SelectorValue {
        switch op {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide: return y == 0 ? .null : .double(x / y)
        }
    }

    /// Unary minus: exact negation wraps (`-Int64.min` is `Int64.min`, as in Java).
    static func negate(_ a: SelectorValue) -> SelectorValue {
        switch a {
        case .long(let x): return .long(0 &- x)
        case .double(let x): return .double(-x)
        default: return .null
        }
    }

    /// Unary plus: a numeric value is itself, anything else NULL.
    static func plus(_ a: SelectorValue) -> SelectorValue {
        switch a {
        case .long, .double: return a
        default: return .null
        }
    }
}

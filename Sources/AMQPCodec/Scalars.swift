/// An AMQP `symbol`: a short ASCII name, used for descriptors, error conditions and capabilities.
///
/// Threading: a plain value type, `Sendable`.
public struct Symbol: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The symbol `rawValue`, which should be ASCII.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
}

/// An AMQP `timestamp`: milliseconds since the Unix epoch, UTC.
///
/// Threading: a plain value type, `Sendable`.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Milliseconds since 1970-01-01T00:00:00Z; negative before it.
    public var millisecondsSince1970: Int64
    /// The instant `millisecondsSince1970` milliseconds after the epoch.
    public init(millisecondsSince1970: Int64) { self.millisecondsSince1970 = millisecondsSince1970 }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millisecondsSince1970 < b.millisecondsSince1970 }
}

/// An AMQP `uuid`: 16 bytes in network order (RFC 4122).
///
/// Named with the prefix so it does not clash with Foundation's `UUID`.
///
/// Threading: a plain value type, `Sendable`.
public struct AMQPUUID: Sendable, Hashable, CustomStringConvertible {
    /// The first 8 bytes, read big-endian.
    public var high: UInt64
    /// The last 8 bytes, read big-endian.
    public var low: UInt64
    /// The UUID whose first and last 8 bytes, read big-endian, are `high` and `low`.
    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// Creates a UUID from exactly 16 bytes; returns nil for any other count.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        self.init(high: h, low: l)
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public var description: String {
        let hex = bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}

/// IEEE 754 decimal32 in its interchange bits; AMQP carries it without interpreting it.
///
/// Threading: a plain value type, `Sendable`.
public struct Decimal32: Sendable, Hashable, CustomStringConvertible {
    /// The 32 interchange bits.
    public var bitPattern: UInt32
    /// The value whose interchange bits are `bitPattern`.
    public init(bitPattern: UInt32) { self.bitPattern = bitPattern }
    public var description: String { "0x" + String(bitPattern, radix: 16) }
}

/// IEEE 754 decimal64 in its interchange bits.
///
/// Threading: a plain value type, `Sendable`.
public struct Decimal64: Sendable, Hashable, CustomStringConvertible {
    /// The 64 interchange bits.
    public var bitPattern: UInt64
    /// The value whose interchange bits are `bitPattern`.
    public init(bitPattern: UInt64) { self.bitPattern = bitPattern }
    public var description: String { "0x" + String(bitPattern, radix: 16) }
}

/// IEEE 754 decimal128 in its interchange bytes, as the high and low 8 bytes read big-endian.
///
/// Threading: a plain value type, `Sendable`.
public struct Decimal128: Sendable, Hashable, CustomStringConvertible {
    /// The first 8 bytes, read big-endian.
    public var high: UInt64
    /// The last 8 bytes, read big-endian.
    public var low: UInt64
    /// The value whose first and last 8 bytes, read big-endian, are `high` and `low`.
    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    public var description: String { "0x" + String(high, radix: 16) + ":" + String(low, radix: 16) }
}

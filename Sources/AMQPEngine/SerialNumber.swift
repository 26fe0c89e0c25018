/// A 32-bit serial number (RFC 1982), as AMQP 1.0 counts transfer ids, delivery ids and
/// delivery-count (§2.5.6, §2.6.7): it wraps at 2^32 by design, and two are compared only by
/// their signed distance, which is meaningful while they are less than 2^31 apart.
///
/// The type allows only that arithmetic: advancing (which wraps, as the spec says it must) and
/// the distance between two. A plain `UInt32` let `a - b` trap, or `a < b` give the wrong answer
/// after a wrap, without anyone noticing; here neither can be written.
struct SerialNumber: Equatable, Hashable, CustomStringConvertible {
    /// The number as it goes on the wire.
    var value: UInt32

    @inline(__always) init(_ value: UInt32) { self.value = value }

    /// This number advanced by `n`, wrapping at 2^32.
    @inline(__always) func advanced(by n: UInt32) -> SerialNumber { SerialNumber(value &+ n) }

    /// Advances by one, wrapping at 2^32.
    @inline(__always) mutating func increment() { value &+= 1 }

    /// Advances by `n`, wrapping at 2^32.
    @inline(__always) mutating func advance(by n: UInt32) { value &+= n }

    /// How far `self` is ahead of `other`: negative when it is behind. Exact while the two are
    /// less than 2^31 apart, as the spec requires of every pair it compares.
    @inline(__always) func distance(from other: SerialNumber) -> Int64 { Int64(Int32(bitPattern: value &- other.value)) }

    var description: String { "\(value)" }
}

/// Clamps a count to 0...UInt32.max: credit and windows computed from serial distances.
@inline(__always)
func clampedCount(_ n: Int64) -> UInt32 { n <= 0 ? 0 : UInt32(clamping: n) }

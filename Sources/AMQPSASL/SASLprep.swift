/// SASLprep (RFC 4013), the stringprep profile (RFC 3454) that SCRAM applies to user names and
/// passwords (RFC 5802 §2.2, §5.1), and PLAIN to what it compares (RFC 4616 §2).
///
/// What is done:
/// - ASCII, completely: printable ASCII maps to itself, and the control characters (U+0000 to
///   U+001F, U+007F, table C.2.1) are refused.
/// - Beyond ASCII, every step but one, with the tables of RFC 3454 generated from Unicode 3.2
///   (`SASLprepTables.swift`): non-ASCII spaces map to SPACE and table B.1 to nothing (§2.1),
///   prohibited output is refused (C.1.2, C.2, C.3 to C.9, §2.3), the bidirectional rule of RFC 3454
///   §6 is checked (§2.4), and for stored strings (passwords) code points unassigned in Unicode 3.2
///   are refused (§2.5).
/// - The one step not done is NFKC normalization (§2.2): the Swift standard library has no
///   normalization and this module imports no Foundation. A string that NFKC would change (a
///   compatibility character such as U+2168 ROMAN NUMERAL NINE or U+FB01 LATIN SMALL LIGATURE FI, a
///   combining mark that composes with the character before it, marks out of canonical order) is
///   refused with ``SASLprepError/Reason/needsNormalization(_:)`` rather than sent or compared
///   unnormalized, so we never disagree silently with a peer that normalizes; write such a string
///   in its normalized (NFKC) form. Precomposed letters ("é" as U+00E9), CJK and most scripts pass
///   unchanged.
///
/// Threading: stateless; call it from any thread.
public enum SASLprep {
    /// Whether code points unassigned in Unicode 3.2 are allowed (RFC 3454 §7): SCRAM prepares
    /// user names as queries (allowed) and passwords as stored strings (refused).
    public enum Use: Sendable, Hashable {
        /// A query string: unassigned code points pass.
        case query
        /// A stored string: unassigned code points are refused.
        case stored
    }

    /// `string` prepared with SASLprep for `use`.
    /// - Throws: ``SASLprepError`` when the string holds a prohibited or unassigned code point,
    ///   breaks the bidirectional rule, or would need NFKC normalization.
    public static func prepare(_ string: String, for use: Use) throws(SASLprepError) -> String {
        // ASCII: the mapping and normalization steps change nothing; only C.2.1 is prohibited.
        if string.utf8.allSatisfy({ $0 < 0x80 }) {
            if let c = string.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw SASLprepError(.prohibited(c.value))
            }
            return string
        }
        // §2.1 mapping.
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(string.unicodeScalars.count)
        for s in string.unicodeScalars {
            // B.1 first: U+200B is in both tables, and goes (as scramp and other implementations do).
            if contains(SASLprepTables.mappedToNothing, s.value) { continue }
            scalars.append(contains(SASLprepTables.nonASCIISpace, s.value) ? " " : s)
        }
        // §2.2 normalization: refuse what NFKC would change (NFKC quick check, UAX #15 §9).
        var lastClass: UInt8 = 0
        for s in scalars {
            let cc = s.properties.canonicalCombiningClass.rawValue
            if contains(SASLprepTables.nfkcUnstable, s.value) || (cc != 0 && lastClass > cc) {
                throw SASLprepError(.needsNormalization(s.value))
            }
            lastClass = cc
        }
        // §2.3 prohibited output, §2.5 unassigned code points.
        for s in scalars {
            if contains(SASLprepTables.prohibited, s.value) { throw SASLprepError(.prohibited(s.value)) }
            if use == .stored && contains(SASLprepTables.unassigned, s.value) { throw SASLprepError(.unassigned(s.value)) }
        }
        // §2.4 bidirectional characters (RFC 3454 §6): a string with any R or AL character holds
        // no L character, and starts and ends with an R or AL character.
        if scalars.contains(where: { contains(SASLprepTables.randALCat, $0.value) }) {
            if scalars.contains(where: { contains(SASLprepTables.lCat, $0.value) }) {
                throw SASLprepError(.bidirectional)
            }
            guard let first = scalars.first, let last = scalars.last,
                  contains(SASLprepTables.randALCat, first.value), contains(SASLprepTables.randALCat, last.value) else {
                throw SASLprepError(.bidirectional)
            }
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// Whether the flat, sorted list of inclusive ranges `table` holds `value` (binary search).
    static func contains(_ table: [UInt32], _ value: UInt32) -> Bool {
        var low = 0, high = table.count / 2
        while low < high {
            let mid = (low + high) / 2
            if value < table[2 * mid] {
                high = mid
            } else if value > table[2 * mid + 1] {
                low = mid + 1
            } else {
                return true
            }
        }
        return false
    }
}

/// Why SASLprep refused a string.
///
/// Threading: a value; `Sendable`.
public struct SASLprepError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What SASLprep refused.
    public enum Reason: Sendable, Hashable {
        /// A prohibited code point (RFC 4013 §2.3): a control character, private use, a surrogate,
        /// a non-character, and the like.
        case prohibited(UInt32)
        /// A code point unassigned in Unicode 3.2, in a stored string (RFC 4013 §2.5).
        case unassigned(UInt32)
        /// Right-to-left and left-to-right text mixed, or right-to-left text that does not start
        /// and end with a right-to-left character (RFC 3454 §6).
        case bidirectional
        /// A code point that NFKC would change: normalization is the one step not done here, so the
        /// string must be given in NFKC form (see ``SASLprep``).
        case needsNormalization(UInt32)
    }

    /// What was refused.
    public var reason: Reason

    /// An error for `reason`.
    public init(_ reason: Reason) { self.reason = reason }

    /// What was refused, for people.
    public var description: String {
        func hex(_ v: UInt32) -> String {
            let digits = String(v, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        switch reason {
        case .prohibited(let c): return "SASLprep: \(hex(c)) is prohibited (RFC 4013 §2.3)"
        case .unassigned(let c): return "SASLprep: \(hex(c)) is unassigned in Unicode 3.2 (RFC 4013 §2.5)"
        case .bidirectional: return "SASLprep: right-to-left text breaks the bidirectional rule (RFC 3454 §6)"
        case .needsNormalization(let c):
            return "SASLprep: \(hex(c)) changes under NFKC normalization, which is not done here: give the string in NFKC form"
        }
    }
}

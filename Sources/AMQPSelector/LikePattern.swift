/// A compiled `LIKE` pattern: `_` stands for one character, `%` for any sequence of characters,
/// and an escape character makes the character after it literal (JMS 2.0 §3.8.1.1).
///
/// Characters are Unicode scalars (Java counts UTF-16 code units; the two differ only for scalars
/// outside the Basic Multilingual Plane, which a `_` matches whole here).
///
/// Matching never backtracks. The pattern is split at each `%` into segments of fixed length
/// (literals and `_`). The first segment must match at the start of the text and the last at its
/// end; each one between is found at its leftmost position after the previous one, which is always
/// the right choice: a later position only leaves less text for the segments after it. A segment is
/// searched for with the bit-parallel Shift-And algorithm, one pass over the text, a machine word per
/// 64 pattern characters. So a match costs O(n · ⌈m/64⌉) for a text of n and a pattern of m
/// characters, whatever the pattern's shape.
///
/// Threading: immutable after compilation, `Sendable`.
struct LikePattern: Sendable {
    /// A pattern character that matches any one character (`_`); no scalar has this value.
    static let anyOne: UInt32 = .max

    /// The pattern split at `%`: at least one segment, the first anchored at the start of the text;
    /// when there is a `%`, the last anchored at its end.
    let segments: [[UInt32]]
    /// Searchers for the non-empty segments between the first and the last.
    let middle: [SegmentSearcher]

    /// Why a pattern does not compile.
    enum CompileError: Error { case trailingEscape }

    init(_ pattern: String, escape: Unicode.Scalar?) throws(CompileError) {
        var segments: [[UInt32]] = [[]]
        var it = pattern.unicodeScalars.makeIterator()
        while let c = it.next() {
            if let escape, c == escape {
                guard let literal = it.next() else { throw .trailingEscape }
                segments[segments.count - 1].append(literal.value)
            } else if c == "%" {
                segments.append([])
            } else if c == "_" {
                segments[segments.count - 1].append(Self.anyOne)
            } else {
                segments[segments.count - 1].append(c.value)
            }
        }
        self.segments = segments
        var middle: [SegmentSearcher] = []
        if segments.count > 2 {
            for s in segments[1..<(segments.count - 1)] where !s.isEmpty {
                middle.append(SegmentSearcher(s))
            }
        }
        self.middle = middle
    }

    /// Whether `text` matches the whole pattern.
    func matches(_ text: String) -> Bool {
        // ASCII text (the common case) is matched in place, byte by byte; anything else is decoded
        // to scalars first.
        let ascii: Bool? = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool? in
            for b in bytes where b >= 0x80 { return nil }
            return match(bytes)
        } ?? nil
        if let ascii { return ascii }
        let capacity = max(1, text.utf8.count)
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: capacity) { buffer in
            var n = 0
            for s in text.unicodeScalars where n < capacity {
                buffer[n] = s.value
                n += 1
            }
            return match(UnsafeBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    private func match<T: FixedWidthInteger & UnsignedInteger>(_ text: UnsafeBufferPointer<T>) -> Bool {
        let n = text.count
        let first = segments[0]
        if segments.count == 1 {
            return first.count == n && Self.matchAt(first, text, 0)
        }
        let last = segments[segments.count - 1]
        guard first.count + last.count <= n,
              Self.matchAt(first, text, 0),
              Self.matchAt(last, text, n - last.count) else { return false }
        var from = first.count
        let to = n - last.count
        for searcher in middle {
            guard let end = searcher.firstMatchEnd(in: text, from: from, to: to) else { return false }
            from = end
        }
        return true
    }

    /// Whether `segment` matches `text` at `start`; the caller has checked it fits.
    @inline(__always)
    private static func matchAt<T: FixedWidthInteger & UnsignedInteger>(_ segment: [UInt32], _ text: UnsafeBufferPointer<T>,
                                                                       _ start: Int) -> Bool {
        guard start >= 0, start + segment.count <= text.count else { return false }
        var j = start
        for p in segment {
            if p != anyOne && p != UInt32(text[j]) { return false }
            j += 1
        }
        return true
    }
}

/// Finds a fixed-length segment (literal characters and `_`) in text with Shift-And: bit i of the
/// state is set when the last i+1 characters read match the segment's first i+1.
struct SegmentSearcher: Sendable {
    let length: Int
    /// Machine words per state.
    let words: Int
    /// Masks, `words` each: entry 0 for a character absent from the segment (its `_` positions),
    /// then one entry per distinct character of the segment (its positions and the `_` ones).
    let masks: [UInt64]
    /// Entry of each ASCII character in `masks` (0 when absent).
    let asciiEntry: [Int32]
    /// Entry of each other character of the segment.
    let otherEntry: [UInt32: Int32]

    init(_ segment: [UInt32]) {
        length = segment.count
        words = (segment.count + 63) / 64
        var masks = [UInt64](repeating: 0, count: words)
        var asciiEntry = [Int32](repeating: 0, count: 128)
        var otherEntry: [UInt32: Int32] = [:]
        var entries: Int32 = 1
        for (i, c) in segment.enumerated() where c == LikePattern.anyOne {
            masks[i / 64] |= 1 << UInt64(i % 64)
        }
        for c in segment where c != LikePattern.anyOne {
            let known = c < 128 ? asciiEntry[Int(c)] != 0 : otherEntry[c] != nil
            if known { continue }
            if c < 128 { asciiEntry[Int(c)] = entries } else { otherEntry[c] = entries }
            entries += 1
            masks.append(contentsOf: masks[0..<words]) // starts with the `_` positions
        }
        for (i, c) in segment.enumerated() where c != LikePattern.anyOne {
            let e = Int(c < 128 ? asciiEntry[Int(c)] : otherEntry[c] ?? 0)
            masks[e * words + i / 64] |= 1 << UInt64(i % 64)
        }
        self.masks = masks
        self.asciiEntry = asciiEntry
        self.otherEntry = otherEntry
    }

    @inline(__always)
    private func entry(_ c: UInt32) -> Int {
        if c < 128 { return Int(asciiEntry[Int(c)]) }
        return Int(otherEntry[c] ?? 0)
    }

    /// The end of the leftmost occurrence of the segment within `text[from..<to]`, or nil.
    func firstMatchEnd<T: FixedWidthInteger & UnsignedInteger>(in text: UnsafeBufferPointer<T>, from: Int, to: Int) -> Int? {
        guard length > 0, from >= 0, to <= text.count, to - from >= length else { return nil }
        let topWord = (length - 1) / 64
        let topBit: UInt64 = 1 << UInt64((length - 1) % 64)
        if words == 1 {
            var state: UInt64 = 0
            for j in from..<to {
                state = ((state << 1) | 1) & masks[entry(UInt32(text[j]))]
                if state & topBit != 0 { return j + 1 }
            }
            return nil
        }
        var state = [UInt64](repeating: 0, count: words)
        for j in from..<to {
            let base = entry(UInt32(text[j])) * words
            var carry: UInt64 = 1
            for w in 0..<words {
                let s = state[w]
                state[w] = ((s << 1) | carry) & masks[base + w]
                carry = s >> 63
            }
            if state[topWord] & topBit != 0 { return j + 1 }
        }
        return nil
    }
}

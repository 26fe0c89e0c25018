import Foundation
import AMQPCodec
import AMQPSelector
import XCTest

/// LIKE against a reference matcher (dynamic programming over Unicode scalars) on random
/// patterns and strings, ASCII and not.
final class LikePatternTests: XCTestCase {
    /// What `text LIKE pattern ESCAPE '!'` means, by the book: O(n·m) table, no cleverness.
    func reference(_ text: [Unicode.Scalar], _ pattern: [Unicode.Scalar]) -> Bool {
        enum Token: Equatable { case literal(Unicode.Scalar), one, any }
        var tokens: [Token] = []
        var i = 0
        while i < pattern.count {
            let c = pattern[i]
            if c == "!" && i + 1 < pattern.count { tokens.append(.literal(pattern[i + 1])); i += 2; continue }
            tokens.append(c == "%" ? .any : c == "_" ? .one : .literal(c))
            i += 1
        }
        // matched[j]: the tokens so far match text[0..<j].
        var matched = [Bool](repeating: false, count: text.count + 1)
        matched[0] = true
        for token in tokens {
            var next = [Bool](repeating: false, count: text.count + 1)
            switch token {
            case .any:
                var seen = false
                for j in 0...text.count { seen = seen || matched[j]; next[j] = seen }
            case .one:
                for j in 0..<text.count where matched[j] { next[j + 1] = true }
            case .literal(let c):
                for j in 0..<text.count where matched[j] && text[j] == c { next[j + 1] = true }
            }
            matched = next
        }
        return matched[text.count]
    }

    func testAgainstReference() throws {
        var rng = SplitMix64(seed: 24)
        let textAlphabets: [[Unicode.Scalar]] = [["a", "b"], ["a", "b", "ü", "😀", "%", "_", "!"]]
        let patternAlphabet: [String] = ["a", "b", "ü", "😀", "%", "_", "!%", "!_", "!!", "%", "a"]
        var checked = 0, matches = 0
        for round in 0..<6_000 {
            let alphabet = textAlphabets[round % 2]
            let text = (0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            // Long segments now and then, to cross the 64-character word boundary of Shift-And.
            let tokenCount = round % 50 == 0 ? 70 + Int(rng.next() % 70) : Int(rng.next() % 8)
            let pattern = (0..<tokenCount).map { _ in patternAlphabet[Int(rng.next() % UInt64(patternAlphabet.count))] }.joined()
            let longText: [Unicode.Scalar] = round % 50 == 0
                ? (0..<(60 + Int(rng.next() % 150))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] } : text
            let textString = String(String.UnicodeScalarView(longText))
            var m = Message()
            m.applicationProperties = ["s": .string(textString)]
            let quoted = pattern.replacingOccurrences(of: "'", with: "''")
            let selector = try Selector("s LIKE '\(quoted)' ESCAPE '!'")
            let expected = reference(longText, Array(pattern.unicodeScalars))
            XCTAssertEqual(selector.evaluate(m), expected, "'\(textString)' LIKE '\(pattern)'")
            XCTAssertEqual(try Selector("s NOT LIKE '\(quoted)' ESCAPE '!'").evaluate(m), !expected)
            checked += 1
            if expected { matches += 1 }
        }
        XCTAssertGreaterThan(matches, 300, "the random cases should match often enough to mean something")
        print("LIKE: \(checked) random cases agree with the reference, \(matches) of them matches")
    }

    /// Segments longer than 64 characters take several machine words in Shift-And: a segment cut
    /// from the text (some characters turned into `_`, sometimes one changed) between two `%`.
    func testLongSegments() throws {
        var rng = SplitMix64(seed: 64)
        let alphabet: [Unicode.Scalar] = ["a", "b", "ü"]
        var matches = 0
        for round in 0..<400 {
            let text = (0..<(150 + Int(rng.next() % 150))).map { _ in alphabet[Int(rng.next() % 3)] }
            let length = 60 + Int(rng.next() % 90)
            let start = Int(rng.next() % UInt64(text.count - length))
            var segment = text[start..<(start + length)].map { String($0) }
            for i in segment.indices where rng.next() % 5 == 0 { segment[i] = "_" }
            if round % 2 == 1 { segment[Int(rng.next() % UInt64(length))] = "b" }
            let pattern = (round % 3 == 0 ? "" : "%") + segment.joined() + (round % 3 == 1 ? "" : "%")
            var m = Message()
            m.applicationProperties = ["s": .string(String(String.UnicodeScalarView(text)))]
            let expected = reference(text, Array(pattern.unicodeScalars))
            XCTAssertEqual(try Selector("s LIKE '\(pattern)'").evaluate(m), expected, pattern)
            if expected { matches += 1 }
        }
        XCTAssertGreaterThan(matches, 60)
    }
}

/// A small deterministic generator, so a failure reproduces.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

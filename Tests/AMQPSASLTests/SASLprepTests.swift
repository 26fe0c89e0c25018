@testable import AMQPSASL
import XCTest

/// SASLprep: RFC 4013 §3's examples, ASCII in full, and what is refused instead of normalized.
final class SASLprepTests: XCTestCase {
    private func prep(_ s: String, _ use: SASLprep.Use = .stored) throws -> String { try SASLprep.prepare(s, for: use) }

    private func assertRefused(_ s: String, _ reason: SASLprepError.Reason, _ use: SASLprep.Use = .stored,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try prep(s, use), file: file, line: line) {
            XCTAssertEqual(($0 as? SASLprepError)?.reason, reason, file: file, line: line)
        }
    }

    func testRFC4013Examples() throws {
        XCTAssertEqual(try prep("I\u{AD}X"), "IX")           // 1. SOFT HYPHEN mapped to nothing
        XCTAssertEqual(try prep("user"), "user")             // 2. no transformation
        XCTAssertEqual(try prep("USER"), "USER")             // 3. case preserved
        // 4. U+00AA and 5. U+2168 are NFKC changes: refused here rather than normalized.
        assertRefused("\u{AA}", .needsNormalization(0xAA))
        assertRefused("\u{2168}", .needsNormalization(0x2168))
        assertRefused("\u{7}", .prohibited(7))              // 6. prohibited character
        assertRefused("\u{627}1", .bidirectional)            // 7. bidirectional check
    }

    func testASCII() throws {
        let printable = String(decoding: (0x20...0x7E).map { UInt8($0) }, as: UTF8.self)
        XCTAssertEqual(try prep(printable), printable)
        XCTAssertEqual(try prep(""), "")
        for c in Array(0x00...0x1F) + [0x7F] {
            assertRefused("a\(Character(Unicode.Scalar(UInt8(c))))b", .prohibited(UInt32(c)))
        }
    }

    func testMappings() throws {
        XCTAssertEqual(try prep("a\u{A0}b\u{3000}c"), "a b c", "non-ASCII spaces are SPACE")
        XCTAssertEqual(try prep("a\u{200B}b\u{FEFF}c\u{34F}"), "abc", "B.1: zero width and the like are removed")
    }

    func testNonASCIIThatNeedsNoNormalizationPasses() throws {
        for s in ["p\u{E4}ssw\u{F6}rd", "\u{65E5}\u{672C}\u{8A9E}", "\u{41F}\u{430}\u{440}\u{43E}\u{43B}\u{44C}", "\u{5D0}\u{5D1}"] {
            XCTAssertEqual(try prep(s), s, s)
        }
    }

    func testProhibitedAndUnassigned() throws {
        assertRefused("a\u{E000}", .prohibited(0xE000))        // private use (C.3)
        assertRefused("a\u{FFFF}", .prohibited(0xFFFF))        // non-character (C.4)
        assertRefused("a\u{200E}", .prohibited(0x200E))        // LEFT-TO-RIGHT MARK (C.8)
        assertRefused("a\u{E0001}", .prohibited(0xE0001))      // LANGUAGE TAG (C.9)
        assertRefused("a\u{85}", .prohibited(0x85))            // a C1 control (C.2.2)
        // U+0221 was assigned in Unicode 4.0: unassigned in 3.2, refused only in stored strings.
        assertRefused("a\u{221}", .unassigned(0x221))
        XCTAssertEqual(try prep("a\u{221}", .query), "a\u{221}")
    }

    func testNormalizationIsRefusedNotGuessed() throws {
        assertRefused("e\u{301}", .needsNormalization(0x301))      // composes to U+00E9
        assertRefused("\u{FB01}", .needsNormalization(0xFB01))      // LATIN SMALL LIGATURE FI
        // Marks out of canonical order (class 11 before 10) would be reordered by NFKC.
        assertRefused("\u{5D0}\u{5B1}\u{5B0}", .needsNormalization(0x5B0))
        XCTAssertEqual(try prep("\u{5D0}\u{5B0}\u{5D1}"), "\u{5D0}\u{5B0}\u{5D1}", "in order, and ending right-to-left")
    }

    func testTableLookup() {
        XCTAssertTrue(SASLprep.contains([1, 3, 7, 7], 1))
        XCTAssertTrue(SASLprep.contains([1, 3, 7, 7], 3))
        XCTAssertTrue(SASLprep.contains([1, 3, 7, 7], 7))
        XCTAssertFalse(SASLprep.contains([1, 3, 7, 7], 4))
        XCTAssertFalse(SASLprep.contains([1, 3, 7, 7], 0))
        XCTAssertFalse(SASLprep.contains([1, 3, 7, 7], 8))
        XCTAssertFalse(SASLprep.contains([], 8))
    }
}

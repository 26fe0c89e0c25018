import Foundation
import AMQPSelector
import XCTest

final class SelectorErrorTests: XCTestCase {
    func assertError(_ text: String, _ description: String, _ kind: SelectorError.Kind = .syntax,
                     limits: Selector.Limits = .default, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let s = try Selector(text, limits: limits)
            XCTFail("compiled \(s.text.prefix(60))", file: file, line: line)
        } catch {
            XCTAssertEqual(error.description, description, "\(text.prefix(60))", file: file, line: line)
            XCTAssertEqual(error.kind, kind, "\(text.prefix(60))", file: file, line: line)
        }
    }

    func testSyntaxErrors() {
        assertError("color = 'red' AND (weight > 10", "expected ')' at column 31")
        assertError("color =", "expected an expression at column 8")
        assertError("color = 'red", "unterminated string literal at column 9")
        assertError("weight > 10 10", "unexpected '10' at column 13")
        assertError("a = b = c", "unexpected '=' at column 7")
        assertError("a < b > c", "unexpected '>' at column 7")
        assertError("a IS NULL IS NULL", "unexpected 'IS' at column 11")
        assertError("a = 1 BETWEEN 0 AND 2", "unexpected 'BETWEEN' at column 7")
        assertError("x LIKE 5", "expected a string literal pattern after LIKE at column 8")
        assertError("x LIKE y", "expected a string literal pattern after LIKE at column 8")
        assertError("x LIKE 'a' ESCAPE 'ab'", "expected a one-character string literal after ESCAPE at column 19")
        assertError("x LIKE 'a' ESCAPE ''", "expected a one-character string literal after ESCAPE at column 19")
        assertError("x LIKE 'a!' ESCAPE '!'", "LIKE pattern ends with its escape character at column 8")
        assertError("x IN ()", "expected a string or numeric literal, found ')' at column 7")
        assertError("x IN ('a' 'b')", "expected ',' or ')' at column 11")
        assertError("x IN ('a',", "expected a string or numeric literal at column 11")
        assertError("x IN (y)", "expected a string or numeric literal, found 'y' at column 7")
        assertError("x IN (-'a')", "expected a numeric literal at column 8")
        assertError("x IN 'a'", "expected '(' at column 6")
        assertError("x IS 5", "expected NULL at column 6")
        assertError("x IS NOT", "expected NULL at column 9")
        assertError("x BETWEEN 1 OR 2", "expected AND at column 13")
        assertError("x BETWEEN 1", "expected AND at column 12")
        assertError("x # 1", "unexpected character '#' at column 3")
        assertError("x != 1", "unexpected character '!' at column 3")
        assertError("x = 1\u{1}", "unexpected character 'U+0001' at column 6")
        assertError("12abc = 1", "invalid numeric literal at column 1")
        assertError("1.5.3 = 1", "invalid numeric literal at column 1")
        assertError("0x = 1", "invalid hexadecimal literal at column 1")
        assertError("0x10000000000000000 = 1", "hexadecimal literal out of range at column 1")
        assertError("09 = 9", "invalid octal literal at column 1")
        assertError("1e = 1", "invalid exponent in numeric literal at column 1")
        assertError("1e+ = 1", "invalid exponent in numeric literal at column 1")
        assertError("x = NOT y", "unexpected 'NOT' at column 5")
        assertError("x NOT = 1", "unexpected 'NOT' at column 3")
        assertError("AND x", "unexpected 'AND' at column 1")
        assertError("(x = 1))", "unexpected ')' at column 8")
        assertError("x = 1 AND", "expected an expression at column 10")
        assertError("()", "unexpected ')' at column 2")
        assertError("\"\" = 1", "empty quoted identifier at column 1")
        assertError("\"abc = 1", "unterminated quoted identifier at column 1")
        assertError("x = 'a' ESCAPE", "unexpected 'ESCAPE' at column 9")
        assertError("NULL = ", "expected an expression at column 8")
        assertError("x = 1 'a'", "unexpected 'a' at column 7")
        assertError("x = 1 \"a b\"", "unexpected \"a b\" at column 7")
        assertError("x IN ('a', \"b\")", "expected a string or numeric literal, found \"b\" at column 12")
        // Columns count Unicode scalars.
        assertError("jp = '日本' AND )", "unexpected ')' at column 15")
        assertError("größe = 'ä' OR", "expected an expression at column 15")
        // A long token is shortened in the message.
        assertError("x = 1 " + String(repeating: "y", count: 40), "unexpected 'yyyyyyyyyyyyyyyyyyyyyyyy…' at column 7")
    }

    func testTypeErrors() {
        assertError("5", "a numeric expression is not a condition at column 1", .type)
        assertError("weight + 1", "a numeric expression is not a condition at column 1", .type)
        assertError("'abc'", "a string is not a condition at column 1", .type)
        assertError("NOT 5", "a numeric expression is not a condition at column 5", .type)
        assertError("x = 1 AND 5", "a numeric expression is not a condition at column 11", .type)
        assertError("5 OR x = 1", "a numeric expression is not a condition at column 1", .type)
        assertError("'a' + 1 = 2", "expected a numeric expression, found a string at column 1", .type)
        assertError("x = 'a' + 1", "expected a numeric expression, found a string at column 5", .type)
        assertError("x = 1 + TRUE", "expected a numeric expression, found a condition at column 9", .type)
        assertError("-'a' = 1", "expected a numeric expression, found a string at column 2", .type)
        assertError("(x = 1) * 2 = 2", "expected a numeric expression, found a condition at column 1", .type)
        assertError("TRUE < FALSE", "expected a numeric expression, found a condition at column 1", .type)
        assertError("x > 'a'", "expected a numeric expression, found a string at column 5", .type)
        assertError("'a' BETWEEN 1 AND 2", "expected a numeric expression, found a string at column 1", .type)
        assertError("x BETWEEN 'a' AND 2", "expected a numeric expression, found a string at column 11", .type)
        assertError("5 LIKE 'a'", "expected a string expression, found a numeric expression at column 1", .type)
        assertError("TRUE LIKE 'a'", "expected a string expression, found a condition at column 1", .type)
    }

    func testLengthLimit() throws {
        // Exactly 65,536 bytes compiles; one more does not.
        let pad = String(repeating: "a", count: 65_536 - "x = ''".utf8.count)
        XCTAssertNoThrow(try Selector("x = '\(pad)'"))
        assertError("x = '\(pad)a'", "selector is 65537 bytes long, over the limit of 65536 at column 1", .limit)
        // Bytes, not characters: 4-byte scalars count four times.
        let emoji = String(repeating: "😀", count: 16_384)
        XCTAssertNoThrow(try Selector("x='\(String(emoji.dropLast()))'"))
        assertError("x = '\(emoji)'", "selector is 65542 bytes long, over the limit of 65536 at column 1", .limit)
        assertError("x = 1 AND y = 2", "selector is 15 bytes long, over the limit of 10 at column 1", .limit,
                    limits: Selector.Limits(maxLength: 10))
    }

    func testDepthLimit() throws {
        func parens(_ n: Int) -> String { String(repeating: "(", count: n) + "TRUE" + String(repeating: ")", count: n) }
        XCTAssertEqual(try Selector(parens(100)).evaluate(Fixtures.empty), true)
        assertError(parens(101), "nesting deeper than 100 levels at column 101", .limit)

        func nots(_ n: Int) -> String { String(repeating: "NOT ", count: n) + "TRUE" }
        XCTAssertEqual(try Selector(nots(100)).evaluate(Fixtures.empty), true)
        XCTAssertEqual(try Selector(nots(99)).evaluate(Fixtures.empty), false)
        assertError(nots(101), "nesting deeper than 100 levels at column 401", .limit)

        func minuses(_ n: Int) -> String { String(repeating: "- ", count: n) + "weight = 12" }
        XCTAssertEqual(try Selector(minuses(100)).evaluate(Fixtures.full), true)
        XCTAssertEqual(try Selector(minuses(99)).evaluate(Fixtures.full), false)
        assertError(minuses(101), "nesting deeper than 100 levels at column 201", .limit)

        // Mixed nesting counts every level.
        let mixed = String(repeating: "NOT (", count: 50) + "TRUE" + String(repeating: ")", count: 50)
        XCTAssertEqual(try Selector(mixed).evaluate(Fixtures.empty), true)
        assertError("NOT " + mixed, "nesting deeper than 100 levels at column 254", .limit)

        assertError(parens(5), "nesting deeper than 4 levels at column 5", .limit, limits: Selector.Limits(maxDepth: 4))
    }

    func testInListLimit() throws {
        func list(_ n: Int) -> String { "x IN (" + (0..<n).map { "'v\($0)'" }.joined(separator: ", ") + ")" }
        var m = Fixtures.empty
        m.applicationProperties = ["x": "v999"]
        XCTAssertEqual(try Selector(list(1_000)).evaluate(m), true)
        let over = list(1_001)
        let column = over.distance(from: over.startIndex, to: over.range(of: "'v1000'")!.lowerBound) + 1
        assertError(over, "more than 1000 items in an IN list at column \(column)", .limit)
        assertError("x IN (1, 2, 3)", "more than 2 items in an IN list at column 13", .limit,
                    limits: Selector.Limits(maxInListItems: 2))
    }

    /// A selector as long as the limit allows, of operators that do not nest, compiles and
    /// evaluates without recursion (a tree of it would be thousands of levels deep).
    func testLongFlatSelectors() throws {
        var m = Fixtures.empty
        m.applicationProperties = ["a": .int(1)]
        let ors = Array(repeating: "a = 2", count: 7_000).joined(separator: " OR ") + " OR a = 1"
        XCTAssertLessThan(ors.utf8.count, 65_536)
        XCTAssertEqual(try Selector(ors).evaluate(m), true)
        let ands = Array(repeating: "a = 1", count: 6_000).joined(separator: " AND ")
        XCTAssertLessThan(ands.utf8.count, 65_536)
        XCTAssertEqual(try Selector(ands).evaluate(m), true)
        let sum = Array(repeating: "a", count: 20_000).joined(separator: "+") + " = 20000"
        XCTAssertEqual(try Selector(sum).evaluate(m), true)
        let list = "a IN (" + Array(repeating: "2", count: 999).joined(separator: ",") + ",1)"
        XCTAssertEqual(try Selector(list).evaluate(m), true)
    }

    /// A pattern that makes a backtracking matcher take exponential (or quadratic) time runs in
    /// one pass per segment here.
    func testLikeHasNoBacktracking() throws {
        var m = Fixtures.empty
        let text = String(repeating: "a", count: 100_000)
        m.applicationProperties = ["s": .string(text)]
        let pattern = String(repeating: "%a", count: 200) + "%b"
        let selector = try Selector("s LIKE '\(pattern)'")
        let start = ContinuousClock.now
        XCTAssertEqual(selector.evaluate(m), false)
        XCTAssertEqual(try Selector("s LIKE '\(String(repeating: "%a", count: 200))%'").evaluate(m), true)
        let long = String(repeating: "a", count: 300) + "b"
        XCTAssertEqual(try Selector("s LIKE '%\(long)%'").evaluate(m), false)
        XCTAssertEqual(try Selector("s LIKE '%\(String(repeating: "_", count: 150))a%'").evaluate(m), true)
        print("LIKE worst cases over 100,000 characters: \(ContinuousClock.now - start)")
    }

    /// Nesting costs no thread stack (the parser keeps its pending operators on the heap, and
    /// evaluation does not recurse): selectors at the depth limit compile and run on a thread of
    /// 64 KiB, even in a debug build.
    func testDeepSelectorOnASmallStack() throws {
        let texts = [
            String(repeating: "NOT (", count: 48) + "- - (weight) = 12" + String(repeating: ")", count: 48),
            String(repeating: "(", count: 100) + "weight = 12" + String(repeating: ")", count: 100),
            String(repeating: "- ", count: 100) + "weight = 12",
        ]
        for text in texts {
            let result = ResultBox()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 64 * 1024)
            var thread = pthread_t()
            let job = Unmanaged.passRetained(Job(text: text, result: result))
            let rc = pthread_create(&thread, &attributes, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                do throws(SelectorError) {
                    job.result.value = try Selector(job.text).evaluate(Fixtures.full)
                } catch {
                    job.result.error = error
                }
                return nil
            }, job.toOpaque())
            XCTAssertEqual(rc, 0)
            pthread_join(thread, nil)
            pthread_attr_destroy(&attributes)
            XCTAssertNil(result.error, text)
            XCTAssertEqual(result.value, true, text)
        }
    }
}

/// What one pthread evaluates. @unchecked Sendable: its properties are `let`, set before the
/// thread starts (pthread_create orders that), and `result` is a ResultBox (see there).
final class Job: @unchecked Sendable {
    let text: String
    let result: ResultBox
    init(text: String, result: ResultBox) { self.text = text; self.result = result }
}

/// Written by the thread before pthread_join returns, read after: join orders the two.
final class ResultBox: @unchecked Sendable {
    var value: Bool?
    var error: SelectorError?
}

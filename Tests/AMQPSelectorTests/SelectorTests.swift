import Foundation
import AMQPCodec
import AMQPSelector
import XCTest

/// One row of the table: a selector, a message, and its exact truth (nil for UNKNOWN).
struct Row {
    var selector: String
    var message: Message
    var expected: Bool?
    var line: UInt

    init(_ selector: String, _ expected: Bool?, line: UInt = #line) {
        self.init(selector, Fixtures.full, expected, line: line)
    }

    init(_ selector: String, _ message: Message, _ expected: Bool?, line: UInt = #line) {
        self.selector = selector
        self.message = message
        self.expected = expected
        self.line = line
    }
}

final class SelectorTests: XCTestCase {
    let full = Fixtures.full
    let empty = Fixtures.empty

    func check(_ rows: [Row], file: StaticString = #filePath) {
        for row in rows {
            do {
                let s = try Selector(row.selector)
                let got = s.evaluate(row.message)
                XCTAssertEqual(got, row.expected, "\(row.selector)", file: file, line: row.line)
                XCTAssertEqual(s.matches(row.message), row.expected == true, "matches: \(row.selector)", file: file, line: row.line)
            } catch {
                XCTFail("\(row.selector): \(error)", file: file, line: row.line)
            }
        }
    }

    func testComparisons() {
        check([
            Row("color = 'red'", true),
            Row("color = 'red'", empty, nil),
            Row("color <> 'red'", false),
            Row("color <> 'blue'", true),
            Row("color <> 'red'", empty, nil),
            Row("color = 'RED'", false),
            Row("weight = 12", true),
            Row("weight = 12.0", true),
            Row("weight > 10", true),
            Row("weight >= 12", true),
            Row("weight < 12", false),
            Row("weight <= 11", false),
            Row("weight <> 12", false),
            Row("12 = weight", true),
            Row("10 < weight", true),
            Row("price > 9.98", true),
            Row("price = 9.99", true),
            Row("price < 10", true),
            Row("price >= weight", false),
            Row("weight > price", true),
            Row("flag = TRUE", true),
            Row("flag <> FALSE", true),
            Row("off = FALSE", true),
            Row("flag = off", false),
            Row("ub = 200", true),
            Row("sh = -5", true),
            Row("ui = 4000000000", true),
            Row("big > 9.2e18", true),
            Row("f = 1.5", true),
            Row("ts = 1700000000000", true),
            Row("sym = 'abc'", true),
            Row("ch = 'x'", true),
            Row("max = 9223372036854775807", true),
            Row("min = -9223372036854775808", true),
            Row("zero = 0", true),
            Row("zero = -0.0", true),
        ])
    }

    func testTypeMismatchesAreFalse() {
        check([
            Row("weight = '12'", false),
            Row("weight <> '12'", false),
            Row("NOT (weight = '12')", true),
            Row("color = 5", false),
            Row("color <> 5", false),
            Row("flag = 1", false),
            Row("color = TRUE", false),
            Row("color < weight", false),
            Row("flag > off", false),
            Row("bin = 'x'", false),
            Row("bin <> 'x'", false),
            Row("list = 1", false),
            Row("color BETWEEN 1 AND 2", false),
            // NOT BETWEEN is "v < low OR v > high" (JMS), both FALSE for unlike types.
            Row("color NOT BETWEEN 1 AND 2", false),
            Row("NOT (color BETWEEN 1 AND 2)", true),
            Row("weight IN ('12')", false),
            Row("color IN (1, 2)", false),
            Row("weight LIKE '1%'", false),
            Row("weight NOT LIKE '1%'", true),
        ])
    }

    func testNulls() {
        check([
            Row("nothing IS NULL", true),
            Row("nothing IS NOT NULL", false),
            Row("nothing = 1", nil),
            Row("missing IS NULL", true),
            Row("missing IS NOT NULL", false),
            Row("color IS NOT NULL", true),
            Row("color IS NULL", false),
            Row("bin IS NULL", false),
            Row("bin IS NOT NULL", true),
            Row("missing = 'x'", nil),
            Row("missing <> 'x'", nil),
            Row("missing > 1", nil),
            Row("color = NULL", nil),
            Row("NULL IS NULL", true),
            Row("NULL = NULL", nil),
            Row("missing", nil),
            Row("NOT missing", nil),
            Row("color", nil),
            Row("weight + missing = 12", nil),
            Row("(weight + missing) IS NULL", true),
            Row("Color = 'red'", nil),
            Row("COLOR IS NULL", true),
        ])
    }

    /// SQL's three-valued AND, OR and NOT, every cell (JMS 2.0 §3.8.1.1).
    func testThreeValuedLogic() {
        let values: [(String, Bool?)] = [("TRUE", true), ("FALSE", false), ("(missing = 1)", nil)]
        func and(_ a: Bool?, _ b: Bool?) -> Bool? {
            if a == false || b == false { return false }
            if a == nil || b == nil { return nil }
            return true
        }
        func or(_ a: Bool?, _ b: Bool?) -> Bool? {
            if a == true || b == true { return true }
            if a == nil || b == nil { return nil }
            return false
        }
        var rows: [Row] = []
        for (a, va) in values {
            rows.append(Row("NOT \(a)", va.map { !$0 }))
            for (b, vb) in values {
                rows.append(Row("\(a) AND \(b)", and(va, vb)))
                rows.append(Row("\(a) OR \(b)", or(va, vb)))
            }
        }
        check(rows)
        // The tables themselves, spelled out.
        check([
            Row("TRUE AND (missing = 1)", nil),
            Row("FALSE AND (missing = 1)", false),
            Row("(missing = 1) AND FALSE", false),
            Row("TRUE OR (missing = 1)", true),
            Row("(missing = 1) OR TRUE", true),
            Row("FALSE OR (missing = 1)", nil),
            Row("NOT (missing = 1)", nil),
            Row("flag AND NOT off", true),
            Row("flag AND missing", nil),
            Row("off OR missing", nil),
            Row("color = 'red' AND weight > 10", true),
            Row("color = 'red' AND weight > 20", false),
            Row("color = 'blue' OR weight > 10", true),
            Row("(color = 'red' OR color = 'blue') AND NOT weight < 10", true),
            Row("NOT color = 'red'", false),
            Row("NOT NOT flag", true),
            Row("FALSE AND weight / 0 = 1", false),
            Row("TRUE OR missing = 1", true),
            Row("flag OR off AND missing", true),
            Row("color = 'blue' OR weight = 12 AND price > 100", false),
            Row("color = 'red' OR weight = 12 AND price > 100", true),
            Row("NOT flag OR flag", true),
            Row("NOT (flag OR flag)", false),
            Row("weight BETWEEN 1 AND 20 AND price BETWEEN 9 AND 10", true),
            Row("weight NOT BETWEEN -1 AND +2 AND NOT color NOT LIKE 'r%'", true),
            Row("(weight = 12) = (price > 9)", true),
            Row("(weight = 12) = flag", true),
            Row("(weight = 12) <> off", true),
            Row("weight * 2 + 1 BETWEEN 25 AND 25", true),
            Row("-weight * -2 = 24", true),
            Row("2 * -weight = -24", true),
            Row("(flag OR off) AND missing", nil),
        ])
    }

    func testArithmetic() {
        check([
            Row("weight + 3 = 15", true),
            Row("weight - 2 = 10", true),
            Row("weight * 2 = 24", true),
            Row("weight / 5 = 2", true),
            Row("weight / 5.0 = 2.4", true),
            Row("-7 / 2 = -3", true),
            Row("weight / 0 = 1", nil),
            Row("weight / 0 IS NULL", true),
            Row("price / 0.0 IS NULL", true),
            Row("price * 100 > 998", true),
            Row("-weight = -12", true),
            Row("+weight = 12", true),
            Row("- -weight = 12", true),
            Row("-(weight) = -12", true),
            Row("1 + 2 * 3 = 7", true),
            Row("(1 + 2) * 3 = 9", true),
            Row("10 - 2 - 3 = 5", true),
            Row("100 / 10 / 5 = 2", true),
            Row("color + 1 = 2", nil),
            Row("-color IS NULL", true),
            Row("+color IS NULL", true),
            Row("flag * 2 IS NULL", true),
            Row("max + 1 = min", true),
            Row("9223372036854775807 + 1 = -9223372036854775808", true),
            Row("-9223372036854775808 = -9223372036854775807 - 1", true),
            Row("min / -1 = min", true),
            Row("-min = min", true),
            Row("weight + price > 21.98", true),
        ])
    }

    func testNumericLiterals() {
        check([
            Row("weight = 0xC", true),
            Row("weight = 0XC", true),
            Row("weight = 014", true),
            Row("weight = 12L", true),
            Row("weight = 12l", true),
            Row("0xFFFFFFFFFFFFFFFF = -1", true),
            Row("price < 1e1", true),
            Row("1.5E2 = 150", true),
            Row("1.5E+2 = 150", true),
            Row("1500E-1 = 150", true),
            Row(".5 = 0.5", true),
            Row("7. = 7", true),
            Row("-57.9E2 = -5790", true),
            Row("1.0f = 1", true),
            Row("2D = 2", true),
            Row("9223372036854775808 > 9.2e18", true),
            Row("1e400 > 1e300", true),
        ])
    }

    func testBetween() {
        check([
            Row("weight BETWEEN 10 AND 12", true),
            Row("weight BETWEEN 12 AND 12", true),
            Row("weight BETWEEN 13 AND 20", false),
            Row("weight NOT BETWEEN 13 AND 20", true),
            Row("weight NOT BETWEEN 10 AND 20", false),
            Row("missing BETWEEN 1 AND 2", nil),
            Row("missing NOT BETWEEN 1 AND 2", nil),
            Row("weight BETWEEN 1 AND missing", nil),
            Row("weight BETWEEN 20 AND missing", false),
            Row("weight NOT BETWEEN 20 AND missing", true),
            Row("price BETWEEN 9 AND 10", true),
            Row("weight BETWEEN 5 + 5 AND 6 * 2", true),
            Row("weight BETWEEN 10 AND 12 AND color = 'red'", true),
            Row("weight between 1 and 20", true),
        ])
    }

    func testLike() {
        check([
            Row("color LIKE 'r%'", true),
            Row("color LIKE 'r_d'", true),
            Row("color LIKE '_'", false),
            Row("color LIKE '___'", true),
            Row("color LIKE '____'", false),
            Row("color LIKE '%'", true),
            Row("color LIKE '%%'", true),
            Row("color LIKE 'red'", true),
            Row("color LIKE 'Red'", false),
            Row("color LIKE 're'", false),
            Row("color NOT LIKE 'b%'", true),
            Row("color NOT LIKE 'r%'", false),
            Row("color LIKE '%e%'", true),
            Row("color LIKE '%x%'", false),
            Row("color LIKE 'r%d'", true),
            Row("color LIKE 'r%%d'", true),
            Row("color LIKE '%red%'", true),
            Row("color LIKE 're%ed'", false),
            Row("color LIKE '%d'", true),
            Row("color LIKE '%r'", false),
            Row("color LIKE ''", false),
            Row("empty LIKE ''", true),
            Row("empty LIKE '%'", true),
            Row("empty LIKE '_'", false),
            Row("missing LIKE 'a%'", nil),
            Row("missing NOT LIKE 'a%'", nil),
            Row("code LIKE '10\\%%' ESCAPE '\\'", true),
            Row("code LIKE '10!%%' ESCAPE '!'", true),
            Row("code LIKE '10!% off' ESCAPE '!'", true),
            Row("code LIKE '10!%' ESCAPE '!'", false),
            Row("code LIKE '%!%%' ESCAPE '!'", true),
            Row("color LIKE '%!%%' ESCAPE '!'", false),
            Row("under LIKE 'a!_b' ESCAPE '!'", true),
            Row("color LIKE 'r!_d' ESCAPE '!'", false),
            Row("under LIKE 'a__b' ESCAPE '_'", true),
            Row("under LIKE 'a__' ESCAPE '_'", false),
            Row("name LIKE '%''%'", true),
            Row("name LIKE 'Bob''s'", true),
            Row("greeting LIKE 'Gr__e'", true),
            Row("greeting LIKE 'Gr%e'", true),
            Row("greeting LIKE '%ü%'", true),
            Row("jp LIKE '日_'", true),
            Row("jp LIKE '_本'", true),
            Row("jp LIKE '%本%'", true),
            Row("emoji LIKE '_x'", true),
            Row("emoji LIKE '😀%'", true),
            Row("emoji LIKE '__x'", false),
            Row("color like 'r%'", true),
            Row("sym LIKE 'a%'", true),
        ])
    }

    func testIn() {
        check([
            Row("color IN ('red', 'blue')", true),
            Row("color IN ('blue')", false),
            Row("color NOT IN ('blue', 'green')", true),
            Row("color NOT IN ('red')", false),
            Row("color IN ('RED')", false),
            Row("missing IN ('a')", nil),
            Row("missing NOT IN ('a')", nil),
            Row("weight IN (12, 13)", true),
            Row("weight IN (11, -12, 13)", false),
            Row("price IN (9.99)", true),
            Row("weight IN (12.0)", true),
            Row("color in ('red')", true),
            Row("jp IN ('日本')", true),
        ])
    }

    func testUnicodeStrings() {
        check([
            Row("greeting = 'Grüße'", true),
            Row("jp = '日本'", true),
            Row("emoji = '😀x'", true),
            Row("größe = 3", true),
            // Code unit equality, as Java's: a precomposed é is not e + combining acute.
            Row("nfc = '\u{E9}'", true),
            Row("nfc = 'e\u{301}'", false),
            Row("\"my-prop\" = 1", true),
            Row("\"my\"\"prop\" IS NULL", true),
        ])
    }

    func testKeywordsAreCaseInsensitive() {
        check([
            Row("color = 'red' and weight > 10", true),
            Row("NoT flag", false),
            Row("missing is null", true),
            Row("missing Is Not Null", false),
            Row("flag = true", true),
            Row("off = False", true),
            Row("color = 'red' oR FALSE", true),
        ])
    }

    func testEmptySelectorMatchesEverything() {
        check([Row("", true), Row("   \t\n", true), Row("", empty, true)])
    }

    func testHeaderAndPropertiesFields() {
        let ann = Fixtures.annotated, ttl = Fixtures.ttl
        check([
            Row("JMSPriority = 7", true),
            Row("JMSPriority = 4", empty, true),
            Row("JMSPriority > 5", true),
            Row("JMSDeliveryMode = 'PERSISTENT'", true),
            Row("JMSDeliveryMode = 'NON_PERSISTENT'", empty, true),
            Row("JMSMessageID = 'ID:abc'", true),
            Row("JMSMessageID IS NULL", empty, true),
            Row("JMSCorrelationID = 'corr-1'", true),
            Row("JMSCorrelationID IS NULL", empty, true),
            Row("JMSType = 'news'", true),
            Row("JMSType = 'legacy-type'", ann, true),
            Row("JMSType IS NULL", empty, true),
            Row("JMSTimestamp = 1000", true),
            Row("JMSTimestamp = 0", empty, true),
            Row("JMSExpiration = 5000", true),
            Row("JMSExpiration = 1500", ttl, true),
            Row("JMSExpiration = 0", empty, true),
            Row("JMSDestination = 'orders'", true),
            Row("JMSDestination IS NULL", empty, true),
            Row("JMSReplyTo = 'replies'", true),
            Row("JMSRedelivered = TRUE", true),
            Row("JMSRedelivered", empty, false),
            Row("JMSXDeliveryCount = 3", true),
            Row("JMSXDeliveryCount = 1", empty, true),
            Row("JMSXGroupID = 'g1'", true),
            Row("JMSXGroupSeq = 3", true),
            Row("JMSXUserID = 'alice'", true),
            Row("JMSXOther IS NULL", true),
            Row("jmspriority IS NULL", true),
            Row("amqp.priority = 7", true),
            Row("amqp.durable = TRUE", true),
            Row("amqp.durable = FALSE", empty, true),
            Row("amqp.ttl = 60000", true),
            Row("amqp.ttl IS NULL", empty, true),
            Row("amqp.first_acquirer = FALSE", true),
            Row("\"amqp.first-acquirer\" = FALSE", true),
            Row("amqp.delivery_count = 2", true),
            Row("amqp.redelivered", true),
            Row("amqp.delivery_mode = 'PERSISTENT'", true),
            Row("amqp.message_id = 'ID:abc'", true),
            Row("amqp.message_id = '5'", ttl, true),
            Row("amqp.correlation_id = '0102AB'", ttl, true),
            Row("amqp.user_id = 'alice'", true),
            Row("amqp.to = 'orders'", true),
            Row("amqp.subject = 'news'", true),
            Row("amqp.reply_to = 'replies'", true),
            Row("amqp.correlation_id = 'corr-1'", true),
            Row("amqp.content_type = 'text/plain'", true),
            Row("amqp.content_encoding = 'gzip'", true),
            Row("amqp.absolute_expiry_time = 5000", true),
            Row("amqp.creation_time = 1000", true),
            Row("amqp.creation_time IS NULL", empty, true),
            Row("amqp.group_id = 'g1'", true),
            Row("amqp.group_sequence = 3", true),
            Row("amqp.reply_to_group_id = 'rg'", true),
            Row("amqp.jms_type = 'legacy'", true),
            Row("amqp.jms_type = 'legacy-type'", ann, true),
            Row("amqp.unknown IS NULL", true),
            Row("JMSPriority >= 5 AND color = 'red'", true),
        ])
    }

    /// JMSMessageID and JMSCorrelationID as Qpid JMS shows them (AMQP JMS Mapping §3.2.1.1).
    func testJMSIdentifierForms() {
        let uuid = AMQPUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        check([
            Row("JMSMessageID = 'ID:AMQP_NO_PREFIX:abc'", Fixtures.withIDs("abc", nil), true),
            Row("JMSMessageID = 'ID:x'", Fixtures.withIDs("ID:x", nil), true),
            Row("JMSMessageID = 'ID:AMQP_STRING:ID:AMQP_ULONG:1'", Fixtures.withIDs("ID:AMQP_ULONG:1", nil), true),
            Row("JMSMessageID = 'ID:AMQP_ULONG:5'", Fixtures.ttl, true),
            Row("JMSMessageID = 'ID:AMQP_UUID:01234567-89ab-cdef-fedc-ba9876543210'", Fixtures.withIDs(.uuid(uuid), nil), true),
            Row("JMSMessageID = 'ID:AMQP_BINARY:0102AB'", Fixtures.withIDs(.binary([1, 2, 0xAB]), nil), true),
            Row("JMSCorrelationID = 'abc'", Fixtures.withIDs(nil, "abc"), true),
            Row("JMSCorrelationID = 'ID:abc'", Fixtures.withIDs(nil, "ID:abc"), true),
            Row("JMSCorrelationID = 'ID:AMQP_STRING:ID:AMQP_NO_PREFIX:z'", Fixtures.withIDs(nil, "ID:AMQP_NO_PREFIX:z"), true),
            Row("JMSCorrelationID = 'ID:AMQP_BINARY:0102AB'", Fixtures.ttl, true),
            Row("JMSCorrelationID = 'ID:AMQP_ULONG:7'", Fixtures.withIDs(nil, .ulong(7)), true),
        ])
    }

    func testCompiledSelectorIsReusableAndConcurrent() throws {
        let selector = try Selector("color = 'red' AND weight BETWEEN 10 AND 20 AND name LIKE 'B%'")
        let messages = [Fixtures.full, Fixtures.empty, Fixtures.typical]
        let expected = messages.map { selector.matches($0) }
        XCTAssertEqual(expected, [true, false, false])
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for i in 0..<2_000 where selector.matches(messages[i % 3]) != expected[i % 3] {
                failures.increment()
            }
        }
        XCTAssertEqual(failures.value, 0)
    }

    func testDescriptionAndDescriptor() throws {
        XCTAssertEqual(try Selector("a = 1").description, "a = 1")
        XCTAssertEqual(Selector.filterDescriptorName, "apache.org:selector-filter:string")
        XCTAssertEqual(Selector.filterDescriptorCode, 0x0000_468C_0000_0004)
    }
}

/// A counter the concurrent test's threads share.
final class Counter: @unchecked Sendable {
    // Guarded by `lock`.
    private var count = 0
    private let lock = NSLock()
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

extension SelectorTests {
    /// The examples in Docs/Selectors.md compile.
    func testDocumentationExamples() throws {
        let examples = [
            "color = 'red' AND weight > 10",
            "(color = 'red' OR color = 'blue') AND NOT weight < 10",
            "JMSPriority >= 7 OR JMSType = 'urgent'",
            "JMSCorrelationID = 'ID:AMQP_UUID:01234567-89ab-cdef-fedc-ba9876543210'",
            "code LIKE '10!%%' ESCAPE '!'",
            "region IN ('EU', 'UK') AND price BETWEEN 10 AND 99.99",
            "quantity * price / 100 > 1e3 AND discount IS NULL",
            "amqp.subject = 'news' AND \"x-custom\" <> 'skip'",
        ]
        for e in examples { XCTAssertNoThrow(try Selector(e), e) }
        XCTAssertEqual(try Selector("code LIKE '10!%%' ESCAPE '!'").evaluate(full), true)
    }
}

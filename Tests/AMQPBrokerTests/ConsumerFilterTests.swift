@testable import AMQPBroker
import AMQPCodec
import XCTest

/// Reading a consumer's filter set: which entries the broker applies (and echoes), which it
/// leaves out, and the errors that refuse the link; a message's `to` for the relay.
final class ConsumerFilterTests: XCTestCase {
    private let selectorCode = AMQPValue.ulong(0x0000_468C_0000_0004)
    private let selectorName = AMQPValue.symbol("apache.org:selector-filter:string")

    private func message(_ properties: AMQPMap, to: String? = nil) -> QueuedMessage {
        var m = Message(value: .string("body"))
        m.applicationProperties = properties
        if let to { m.properties = Properties(to: to) }
        return QueuedMessage(sequence: 0, bytes: m.encoded, origin: 1)
    }

    func testASelectorByNameOrCodeIsAppliedAndEchoed() throws {
        for descriptor in [selectorCode, selectorName] {
            let set: AMQPMap = [.symbol("jms-selector"): .described(descriptor: descriptor, value: .string("colour = 'green'"))]
            let parsed = try ConsumerFilter.parse(set, connection: 1)
            XCTAssertEqual(parsed.applied, set)
            let filter = try XCTUnwrap(parsed.filter)
            XCTAssertEqual(filter.selector?.text, "colour = 'green'")
            XCTAssertNil(filter.localConnection)
            var green = message(["colour": .string("green")]), red = message(["colour": .string("red")]), none = message([:])
            var work = ConsumerFilter.Work()
            XCTAssertEqual([filter.matches(&green, &work), filter.matches(&red, &work), filter.matches(&none, &work)], [true, false, false])
            XCTAssertNotNil(green.head, "decoded once, kept on the message")
            XCTAssertTrue(filter.matches(&green, &work))
            XCTAssertEqual([work.checks, work.decodes], [4, 3], "the second look decodes nothing")
        }
    }

    func testUnknownFiltersAreLeftOutOfTheEcho() throws {
        let topic = AMQPValue.described(descriptor: .symbol("apache.org:legacy-amqp-topic-binding:string"), value: .string("a.#"))
        let selector = AMQPValue.described(descriptor: selectorCode, value: .string("n > 2"))
        let parsed = try ConsumerFilter.parse([.symbol("topic"): topic, .symbol("selector"): selector, .symbol("plain"): .string("x")],
                                              connection: 1)
        XCTAssertEqual(parsed.applied, [.symbol("selector"): selector])
        let onlyUnknown = try ConsumerFilter.parse([.symbol("topic"): topic], connection: 1)
        XCTAssertNil(onlyUnknown.filter)
        XCTAssertNil(onlyUnknown.applied)
    }

    func testNoLocalSkipsTheConsumersOwnConnection() throws {
        for descriptor in [AMQPValue.symbol("apache.org:no-local-filter:list"), .ulong(0x0000_468C_0000_0003)] {
            let set: AMQPMap = [.symbol("no-local"): .described(descriptor: descriptor, value: .list([]))]
            let parsed = try ConsumerFilter.parse(set, connection: 7)
            XCTAssertEqual(parsed.applied, set)
            let filter = try XCTUnwrap(parsed.filter)
            XCTAssertNil(filter.selector)
            var own = QueuedMessage(sequence: 0, bytes: [], origin: 7), other = QueuedMessage(sequence: 1, bytes: [], origin: 8)
            var work = ConsumerFilter.Work()
            XCTAssertEqual([filter.matches(&own, &work), filter.matches(&other, &work)], [false, true])
            XCTAssertEqual([work.checks, work.decodes], [0, 0], "no selector at work")
            XCTAssertNil(other.head, "no selector: nothing decoded")
        }
    }

    func testABadSelectorIsRefusedWithItsError() {
        let cases: [(AMQPValue, String)] = [
            (.string("colour = "), "expected an expression at column 10"),
            (.string("(a = 1"), "expected ')' at column 7"),
            (.long(5), "a selector filter's value must be a string"),
        ]
        for (value, text) in cases {
            do {
                _ = try ConsumerFilter.parse([.symbol("s"): .described(descriptor: selectorCode, value: value)], connection: 1)
                XCTFail("\(value) was accepted")
            } catch {
                XCTAssertEqual(error.error, AMQPError(condition: ErrorCondition.invalidField, description: text))
            }
        }
        do {
            _ = try ConsumerFilter.parse([.symbol("a"): .described(descriptor: selectorCode, value: .string("x = 1")),
                                          .symbol("b"): .described(descriptor: selectorName, value: .string("y = 1"))], connection: 1)
            XCTFail("two selectors were accepted")
        } catch {
            XCTAssertEqual(error.error, AMQPError(condition: ErrorCondition.invalidField, description: "more than one selector filter"))
        }
    }

    /// A message that does not parse matches no selector (and stays for other consumers).
    func testUndecodableBytesMatchNoSelector() throws {
        let filter = try XCTUnwrap(try ConsumerFilter.parse([.symbol("s"): .described(descriptor: selectorCode, value: .string("a IS NULL"))],
                                                            connection: 1).filter)
        var junk = QueuedMessage(sequence: 0, bytes: [0x00, 0x53, 0x74, 0xff], origin: 1)
        var work = ConsumerFilter.Work()
        XCTAssertFalse(filter.matches(&junk, &work))
        XCTAssertFalse(filter.matches(&junk, &work))
        XCTAssertEqual([work.checks, work.decodes], [2, 1], "a failed decode is kept too")
        XCTAssertNil(junk.head?.message)
    }

    func testTheRelayReadsToAndStopsBeforeTheBody() {
        XCTAssertEqual(MessageHead.to(in: message([:], to: "dynamic-3").bytes[...]), "dynamic-3")
        XCTAssertNil(MessageHead.to(in: message(["a": .long(1)]).bytes[...]))
        var m = Message(value: .string("x"))
        m.header = Header(durable: true)
        m.messageAnnotations = [.symbol("x-opt-a"): .long(1)]
        m.properties = Properties(messageID: .string("id"), to: "q")
        var bytes = m.encoded
        bytes.append(contentsOf: [0xff, 0xff])   // a broken tail after the properties is not read
        XCTAssertEqual(MessageHead.to(in: bytes[...]), "q")
        XCTAssertNil(MessageHead.to(in: [0x01, 0x02][...]))
    }
}

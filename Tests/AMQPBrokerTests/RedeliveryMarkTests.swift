@testable import AMQPBroker
import AMQPCodec
import XCTest

/// A message going back to its queue gets a new header (delivery-count, first-acquirer) and, for a
/// `modified` outcome with annotations, merged message-annotations; every other section keeps its
/// bytes exactly.
final class RedeliveryMarkTests: XCTestCase {
    private let failed = RedeliveryMark(failedAttempt: true)
    private let released = RedeliveryMark(failedAttempt: false)

    /// Properties, application properties, a body and a footer: the part that must never change.
    private func bareAndFooter() -> [UInt8] {
        var m = Message(value: .string("body"))
        m.properties = Properties(messageID: "id-1", to: "q")
        m.applicationProperties = ["k": .int(7)]
        m.footer = [.symbol("x-hash"): .binary(Binary([1, 2, 3]))]
        return m.encoded
    }

    private func sections(header: Header? = nil, deliveryAnnotations: AMQPMap? = nil, messageAnnotations: AMQPMap? = nil) -> [UInt8] {
        Message(header: header, deliveryAnnotations: deliveryAnnotations, messageAnnotations: messageAnnotations).encoded + bareAndFooter()
    }

    func testAMessageWithoutHeaderGetsOneCountingTheAttempt() throws {
        let bytes = bareAndFooter()
        let marked = failed.apply(to: bytes)
        let header = Header(deliveryCount: 1)
        XCTAssertEqual(marked, header.encoded + bytes, "a header in front, the rest byte for byte")
        XCTAssertEqual(try Message(decoding: marked).header, header)
    }

    func testAHeaderKeepsItsOtherFieldsAndLosesFirstAcquirer() throws {
        let header = Header(durable: true, priority: 9, ttl: 60_000, firstAcquirer: true, deliveryCount: 3)
        let marked = failed.apply(to: sections(header: header))
        let expected = Header(durable: true, priority: 9, ttl: 60_000, firstAcquirer: false, deliveryCount: 4)
        XCTAssertEqual(marked, expected.encoded + bareAndFooter())
    }

    func testAHeaderWithASymbolicDescriptorIsRead() throws {
        // described(symbol "amqp:header:list", list[durable true, null, null, null, uint 2])
        var bytes: [UInt8] = [0x00, 0xa3, 16] + Array("amqp:header:list".utf8)
        bytes += [0xc0, 7, 5, 0x41, 0x40, 0x40, 0x40, 0x52, 2]
        let marked = failed.apply(to: bytes + bareAndFooter())
        XCTAssertEqual(marked, Header(durable: true, deliveryCount: 3).encoded + bareAndFooter())
    }

    func testReleasedChangesNothingWhenThereIsNothingToChange() {
        let plain = bareAndFooter()
        XCTAssertEqual(released.apply(to: plain), plain, "no header, none needed: the same bytes")
        let counted = sections(header: Header(durable: true, deliveryCount: 2))
        XCTAssertEqual(released.apply(to: counted), counted, "released does not count an attempt")
        XCTAssertEqual(released.apply(to: sections(header: Header(firstAcquirer: true, deliveryCount: 2))),
                       Header(deliveryCount: 2).encoded + bareAndFooter(), "but first-acquirer goes")
    }

    func testTheCountSaturates() {
        let marked = failed.apply(to: sections(header: Header(deliveryCount: .max)))
        XCTAssertEqual(marked, Header(deliveryCount: .max).encoded + bareAndFooter())
    }

    func testModifiedAnnotationsAreMergedAndDeliveryAnnotationsKept() throws {
        let delivery: AMQPMap = [.symbol("x-opt-delivery"): .string("kept")]
        let existing: AMQPMap = [.symbol("x-opt-a"): .string("old"), .symbol("x-opt-b"): .int(1)]
        let bytes = sections(header: Header(deliveryCount: 1), deliveryAnnotations: delivery, messageAnnotations: existing)
        let mark = RedeliveryMark(failedAttempt: true, annotations: [.symbol("x-opt-a"): .string("new"), .symbol("x-opt-c"): .bool(true)])
        let marked = mark.apply(to: bytes)
        let merged: AMQPMap = [.symbol("x-opt-a"): .string("new"), .symbol("x-opt-b"): .int(1), .symbol("x-opt-c"): .bool(true)]
        XCTAssertEqual(marked, Message(header: Header(deliveryCount: 2), deliveryAnnotations: delivery, messageAnnotations: merged).encoded
                       + bareAndFooter())
    }

    func testModifiedAnnotationsMakeASectionWhenThereIsNone() throws {
        let delivery: AMQPMap = [.symbol("x-opt-delivery"): .string("kept")]
        let mark = RedeliveryMark(failedAttempt: false, annotations: [.symbol("x-opt-reason"): .string("busy")])
        XCTAssertEqual(mark.apply(to: sections(deliveryAnnotations: delivery)),
                       Message(deliveryAnnotations: delivery, messageAnnotations: [.symbol("x-opt-reason"): .string("busy")]).encoded
                       + bareAndFooter())
        XCTAssertEqual(mark.apply(to: bareAndFooter()),
                       Message(messageAnnotations: [.symbol("x-opt-reason"): .string("busy")]).encoded + bareAndFooter())
    }

    func testBytesThatAreNotSectionsComeBackUnchanged() {
        let garbage: [UInt8] = [0x00, 0x53, 0x70, 0xc0, 0xff, 0x05]   // a header list longer than the bytes
        XCTAssertEqual(failed.apply(to: garbage), garbage)
        XCTAssertEqual(failed.apply(to: []), Header(deliveryCount: 1).encoded, "an empty message gets a header")
    }
}

import AMQPCodec
@testable import AMQPEngine
import XCTest

/// The transfer hot path must read and write exactly what the general codec does.
final class TransferCodecTests: XCTestCase {
    private static let tags: [DeliveryTag?] = [nil, .counter(0), .counter(.max), .bytes([]), .bytes(Binary(Array(0..<32))), .bytes(Binary(Array(repeating: 7, count: 300)))]

    private func forEachTransfer(_ body: (Transfer, DeliveryTag?) -> Void) {
        for handle: UInt32 in [0, 5, 300, .max] {
            for id: UInt32? in [nil, 0, 255, 70_000] {
                for tag in Self.tags {
                    for format: UInt32? in [nil, 0, 0x8000_0001] {
                        for settled: Bool? in [nil, true, false] {
                            for more in [false, true] {
                                let t = Transfer(handle: handle, deliveryID: id, deliveryTag: tag?.binary, messageFormat: format,
                                                 settled: settled, more: more)
                                body(t, tag)
                            }
                        }
                    }
                }
            }
        }
    }

    func testEncodingIsTheGeneralCodecs() {
        let payload: [UInt8] = Array("hello".utf8)
        forEachTransfer { t, tag in
            var fast: [UInt8] = []
            TransferCodec.append(channel: 3, handle: t.handle, deliveryID: t.deliveryID, tag: tag, messageFormat: t.messageFormat,
                                 settled: t.settled, more: t.more, payload: payload[...], into: &fast)
            let parsed = try? Frame.parse(fast[...])
            XCTAssertEqual(parsed, Frame(channel: 3, .transfer(t), payload: payload[...]), "\(t)")
            if (tag?.count ?? 0) <= 200 {
                XCTAssertEqual(fast, Frame(channel: 3, .transfer(t), payload: payload[...]).encoded, "\(t)")
            }
        }
    }

    func testDecodingMatchesTheGeneralCodec() {
        forEachTransfer { t, _ in
            for extra in [Transfer(handle: 0), Transfer(handle: 0, rcvSettleMode: .second), Transfer(handle: 0, aborted: true), Transfer(handle: 0, batchable: true)] {
                var full = t
                full.rcvSettleMode = extra.rcvSettleMode
                full.aborted = extra.aborted
                full.batchable = extra.batchable
                let bytes = Frame(channel: 9, .transfer(full), payload: [1, 2, 3]).encoded
                guard let (channel, f, start) = TransferCodec.decode(bytes[...]) else { return XCTFail("not decoded: \(full)") }
                XCTAssertEqual(channel, 9)
                XCTAssertEqual(f.handle, full.handle)
                XCTAssertEqual(f.deliveryID, full.deliveryID)
                XCTAssertEqual(f.tagRange.map { Binary(bytes[$0]) }, full.deliveryTag)
                XCTAssertEqual(f.messageFormat, full.messageFormat)
                XCTAssertEqual(f.settled, full.settled)
                XCTAssertEqual(f.more, full.more)
                XCTAssertEqual(f.aborted, full.aborted)
                XCTAssertEqual(Array(bytes[start...]), [1, 2, 3])
            }
        }
    }

    /// Our own tags are distinct and ASCII, so Proton Python 0.39+ (which decodes tags as UTF-8)
    /// can read them.
    func testCounterTagsAreDistinctASCII() {
        var seen = Set<Binary>()
        let samples: [UInt64] = Array(0..<20_000) + [1 << 35, .max - 1, .max]   // group boundaries 128, 16384 inside
        for n in samples {
            let tag = DeliveryTag.counter(n).binary
            XCTAssertEqual(tag.count, DeliveryTag.counter(n).count)
            XCTAssertTrue(tag.allSatisfy { $0 < 0x80 }, "tag of \(n): \(tag)")
            XCTAssertTrue(seen.insert(tag).inserted, "tag of \(n) repeats")
        }
        XCTAssertEqual(DeliveryTag.counter(.max).count, 10)
        XCTAssertEqual(DeliveryTag.counter(0).binary, [0])
        XCTAssertEqual(DeliveryTag.counter(300).binary, [0x02, 0x2c])
    }

    func testWhatTheHotPathDoesNotHandleGoesToTheGeneralPath() {
        let withState = Frame(channel: 0, .transfer(Transfer(handle: 1, deliveryID: 0, state: .accepted))).encoded
        XCTAssertNil(TransferCodec.decode(withState[...]))
        let resuming = Frame(channel: 0, .transfer(Transfer(handle: 1, deliveryID: 0, resume: true))).encoded
        XCTAssertNil(TransferCodec.decode(resuming[...]))
        let flow = Frame(channel: 0, .flow(Flow(incomingWindow: 1, nextOutgoingID: 0, outgoingWindow: 1))).encoded
        XCTAssertNil(TransferCodec.decode(flow[...]))
        let sasl = Frame(kind: .sasl, channel: 0, .transfer(Transfer(handle: 1))).encoded
        XCTAssertNil(TransferCodec.decode(sasl[...]))
    }

    /// Truncated and mutated frames: the hot path may refuse anything, but what it accepts the
    /// general codec must accept with the same fields, so it is never the more permissive.
    func testNeverMorePermissiveThanTheGeneralCodec() {
        var rng = SystemRandomNumberGenerator()
        let base = Frame(channel: 1, .transfer(Transfer(handle: 2, deliveryID: 300, deliveryTag: Binary(Array(0..<8)), messageFormat: 0,
                                                        settled: false, more: true)), payload: [9, 9]).encoded
        for n in 0..<base.count { _ = TransferCodec.decode(base[0..<n]) }
        for _ in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 4..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            guard let (channel, f, start) = TransferCodec.decode(bytes[...]) else { continue }
            guard let frame = try? Frame.parse(bytes[...]), case .transfer(let t)? = frame.performative else {
                return XCTFail("hot path accepted what the general codec refuses: \(bytes)")
            }
            XCTAssertEqual(channel, frame.channel)
            XCTAssertEqual(f.handle, t.handle)
            XCTAssertEqual(f.deliveryID, t.deliveryID)
            XCTAssertEqual(f.tagRange.map { Binary(bytes[$0]) }, t.deliveryTag)
            XCTAssertEqual(f.settled, t.settled)
            XCTAssertEqual(f.more, t.more)
            XCTAssertEqual(Array(bytes[start...]), Array(frame.payload))
        }
    }
}

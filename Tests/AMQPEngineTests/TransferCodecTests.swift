import AMQPCodec
@testable import AMQPEngine
import SharedFixtures
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
    /// general codec must accept with the same fields, so it is never the more permissive; and what
    /// it refuses that the general codec takes must be something our encoder never writes.
    func testNeverMorePermissiveThanTheGeneralCodec() {
        var rng = SplitMix64(seed: SplitMix64.testSeed)
        let seed = SplitMix64.replay
        let base = Frame(channel: 1, .transfer(Transfer(handle: 2, deliveryID: 300, deliveryTag: Binary(Array(0..<8)), messageFormat: 0,
                                                        settled: false, more: true)), payload: [9, 9]).encoded
        XCTAssertEqual(base.count, 36)
        // Cut short: refused by both until the performative is whole (34 bytes; the payload is 2).
        for n in 0..<base.count {
            let fast = TransferCodec.decode(base[0..<n]) != nil
            var general = false
            if let frame = try? Frame.parse(base[0..<n]), case .transfer? = frame.performative { general = true }
            XCTAssertEqual(fast, n >= 34, "the first \(n) bytes")
            XCTAssertEqual(general, n >= 34, "the first \(n) bytes, general codec")
        }
        var fastAccepted = 0, bothRefused = 0, generalOnly = 0
        for i in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 4..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var general: (Frame, Transfer)?
            if let frame = try? Frame.parse(bytes[...]), case .transfer(let t)? = frame.performative { general = (frame, t) }
            guard let (channel, f, start) = TransferCodec.decode(bytes[...]) else {
                guard let (frame, _) = general else {
                    bothRefused += 1
                    continue
                }
                generalOnly += 1
                // Another width of a field, a descriptor as ubyte, a SASL frame type: never what our
                // encoder writes for the transfer it decodes to.
                XCTAssertFalse(frame.kind == .amqp && frame.encoded == bytes,
                               "mutant \(i), \(seed): the hot path refused a transfer as our encoder writes it: \(bytes)")
                continue
            }
            fastAccepted += 1
            guard let (frame, t) = general else {
                return XCTFail("mutant \(i), \(seed): hot path accepted what the general codec refuses: \(bytes)")
            }
            XCTAssertEqual(channel, frame.channel, "mutant \(i), \(seed)")
            XCTAssertEqual(f.handle, t.handle, "mutant \(i), \(seed)")
            XCTAssertEqual(f.deliveryID, t.deliveryID, "mutant \(i), \(seed)")
            XCTAssertEqual(f.tagRange.map { Binary(bytes[$0]) }, t.deliveryTag, "mutant \(i), \(seed)")
            XCTAssertEqual(f.messageFormat, t.messageFormat, "mutant \(i), \(seed)")
            XCTAssertEqual(f.settled, t.settled, "mutant \(i), \(seed)")
            XCTAssertEqual(f.more, t.more, "mutant \(i), \(seed)")
            XCTAssertEqual(f.aborted, t.aborted, "mutant \(i), \(seed)")
            XCTAssertEqual(Array(bytes[start...]), Array(frame.payload), "mutant \(i), \(seed)")
        }
        // Both verdicts must occur, or the mutants test nothing.
        XCTAssertGreaterThan(fastAccepted, 1000, "mutants the hot path accepted, \(seed)")
        XCTAssertGreaterThan(bothRefused, 1000, "mutants both refused, \(seed)")
        if SplitMix64.testSeed == SplitMix64.defaultSeed {
            // The default seed's exact split (it changes only with the generator or the codecs).
            XCTAssertEqual([fastAccepted, bothRefused, generalOnly], [6450, 13537, 13], "accepted, both refused, general only; \(seed)")
        }
    }
}

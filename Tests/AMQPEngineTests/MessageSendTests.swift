import AMQPCodec
@testable import AMQPEngine
import AMQPEngineTesting
import XCTest

/// `Link.send(_ message:)` encodes a message that can go at once straight into the output, and
/// queues an encoded copy otherwise; both must put the same bytes on the wire.
final class MessageSendTests: XCTestCase {
    /// The messages that arrived, decoded, and the deliveries that carried them.
    private func received(_ pair: DriverPair) throws -> [(Delivery, Message)] {
        // A delivery in several transfers posts an event for each: keep its last.
        var seen = Set<ObjectIdentifier>()
        return try pair.deliveries(pair.serverEvents).reversed().filter { !$0.isPartial && seen.insert(ObjectIdentifier($0)).inserted }
            .reversed().map { ($0, try $0.message()) }
    }

    func testMessageSentAtOnceArrivesWholeInOneTransfer() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 10)
        pair.serverEvents.removeAll()
        let d = sender.send(quiverMessage(42))
        XCTAssertEqual(d.id, 0, "sent at once: the delivery has its id before any pump")
        XCTAssertTrue(d.payload.isEmpty, "nothing kept: the message went straight into the output")
        XCTAssertEqual(sender.queued, 0)
        XCTAssertEqual(sender.credit, 9)
        let expected = quiverMessage(42).encoded
        XCTAssertEqual(pair.client.pendingOutput.count, expected.count + 21,
                       "frame header 8, descriptor 3, list8 header 3, handle 1, delivery-id 1, tag 3, format 1, settled 1")
        pair.pump()
        let got = try received(pair)
        XCTAssertEqual(got.map(\.1), [quiverMessage(42)])
        XCTAssertEqual(got.first.map { Array($0.0.payload) }, expected)
        XCTAssertNil(pair.firstTransportError)
    }

    /// Encoded bytes that can go at once take the same path as a message: straight into the
    /// output, nothing queued or kept; without credit they queue, and arrive in order.
    func testBytesSentAtOnceAreNotQueued() throws {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 1)
        pair.serverEvents.removeAll()
        let first = sender.send(quiverMessage(1).encoded)
        XCTAssertEqual(first.id, 0)
        XCTAssertTrue(first.payload.isEmpty)
        XCTAssertTrue(first.hasBeenSent)
        XCTAssertEqual(sender.queued, 0)
        XCTAssertEqual(pair.client.pendingOutput.count, quiverMessage(1).encoded.count + 21)
        let second = sender.send(quiverMessage(2).encoded)
        XCTAssertNil(second.id, "no credit left: queued")
        XCTAssertEqual(sender.queued, 1)
        receiver.flow(credit: 1)
        pair.pump()
        XCTAssertEqual(second.id, 1)
        XCTAssertEqual(try received(pair).map(\.1), [quiverMessage(1), quiverMessage(2)])
    }

    func testWithoutCreditTheMessageIsQueuedEncodedAndSentLater() throws {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 0)
        let queued = (0..<3).map { sender.send(quiverMessage(Int64($0))) }
        XCTAssertEqual(sender.queued, 3)
        XCTAssertEqual(queued.map { Array($0.payload) }, (0..<3).map { quiverMessage(Int64($0)).encoded })
        // Even with credit now, a message may not overtake the queue.
        receiver.flow(credit: 2)
        pair.pump()
        let late = sender.send(quiverMessage(3))
        XCTAssertEqual(sender.queued, 2, "one of the queue still waits for credit; the new one queues behind it")
        XCTAssertEqual(Array(late.payload), quiverMessage(3).encoded)
        receiver.flow(credit: 2)
        pair.pump()
        XCTAssertEqual(try received(pair).map(\.1), (0..<4).map { quiverMessage(Int64($0)) })
    }

    /// A pair whose both sides take frames of at most 512 bytes.
    private func smallFramePair() -> DriverPair {
        var client = DriverConfiguration(containerID: "client")
        client.maxFrameSize = 512
        var server = DriverConfiguration(containerID: "server")
        server.maxFrameSize = 512
        return DriverPair(client: client, server: server)
    }

    func testMessageLargerThanAFrameIsSplit() throws {
        let pair = smallFramePair()
        let (sender, _) = pair.openLinkPair(credit: 10)
        pair.serverEvents.removeAll()
        let big = quiverMessage(7, body: 2000)
        let d = sender.send(big)
        XCTAssertTrue(d.payload.isEmpty, "with credit and window, every piece went out at once")
        pair.pump()
        XCTAssertEqual(pair.deliveries(pair.serverEvents).count, 5, "2030 bytes in frames of at most 512: one event per transfer")
        XCTAssertEqual(try received(pair).map(\.1), [big])
    }

    /// A message is encoded into the output before its size is known; one too big for a frame is
    /// taken back out whole (no stray bytes, no id or credit used) and sent the long way, and the
    /// next message follows it with the next id.
    func testAMessageTooBigForOneFrameLeavesNothingBehindWhenTakenBack() throws {
        let pair = smallFramePair()
        let (sender, _) = pair.openLinkPair(credit: 10)
        pair.serverEvents.removeAll()
        let small = quiverMessage(1)
        let first = sender.send(small)
        let afterSmall = pair.client.pendingOutput.count
        XCTAssertEqual(afterSmall, small.encoded.count + 21)
        let big = quiverMessage(2, body: 600)
        let second = sender.send(big)
        XCTAssertEqual(second.id, 1)
        XCTAssertEqual(sender.credit, 8)
        // After the small one's frame: the big one's frames and nothing else.
        let frames = try frameList(Array(pair.client.pendingOutput.dropFirst(afterSmall)))
        let transfers = frames.compactMap { if case .transfer(let t)? = $0.performative { return t } else { return nil } }
        XCTAssertEqual(transfers.count, frames.count)
        XCTAssertEqual(transfers.map(\.more), [true, false])
        XCTAssertEqual(transfers.first?.deliveryID, 1)
        XCTAssertEqual(frames.flatMap { Array($0.payload) }, big.encoded)
        let third = sender.send(small)
        XCTAssertEqual([first.id, third.id], [0, 2])
        pair.pump()
        XCTAssertEqual(try received(pair).map(\.1), [small, big, small])
    }

    func testOverTheReceiversMaxMessageSizeFailsWithoutSending() {
        let pair = DriverPair { $0.maxMessageSize = 50 }
        let (sender, _) = pair.openLinkPair(credit: 10)
        pair.serverEvents.removeAll()
        let d = sender.send(quiverMessage(1))
        XCTAssertEqual(d.error?.condition, ErrorCondition.messageSizeExceeded)
        XCTAssertEqual(sender.credit, 10, "no credit used")
        pair.pump()
        XCTAssertTrue(pair.deliveries(pair.serverEvents).isEmpty)
    }

    func testTracingTakesTheGeneralPathAndTracesTheTransfer() throws {
        let lines = LinesBox()
        var client = DriverConfiguration(containerID: "client")
        client.trace = { lines.append($0) }
        let pair = DriverPair(client: client)
        let (sender, _) = pair.openLinkPair(credit: 10)
        pair.serverEvents.removeAll()
        sender.send(quiverMessage(5))
        pair.pump()
        XCTAssertEqual(lines.lines.filter { $0.hasPrefix("-> [0] transfer") }.count, 1)
        XCTAssertEqual(try received(pair).map(\.1), [quiverMessage(5)])
    }

    func testDrainAfterASendAtOnceGivesTheRestOfTheCreditBack() {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair()
        receiver.flow(credit: 5, drain: true)
        pair.pump()
        XCTAssertTrue(sender.drain)
        sender.send(quiverMessage(1))
        XCTAssertEqual(sender.credit, 0, "the unused 4 are given back at once")
        pair.pump()
        XCTAssertEqual(receiver.credit, 0)
        XCTAssertEqual(receiver.deliveryCount, 5)
    }

    func testReceivedTagsKeepTheirExactBytes() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100)
        pair.serverEvents.removeAll()
        let tags: [Binary] = [Binary([]), Binary([0]), Binary([0xff]), Binary(Array(1...8)), Binary(Array(repeating: 0, count: 8)),
                              Binary(Array(1...9)), Binary(Array(0..<32))]
        for t in tags { sender.send([1, 2, 3], tag: t) }
        pair.pump()
        XCTAssertEqual(pair.deliveries(pair.serverEvents).map(\.tag), tags)
    }
}

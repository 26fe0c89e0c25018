import AMQPCodec
@testable import AMQPEngine
import AMQPEngineTesting
import XCTest

/// `ConnectionDriver.setEarlyWrite(threshold:_:)`: the host gets the output during a long send
/// loop, once enough of it waits, and whatever it writes then is gone from the pending output.
final class EarlyWriteTests: XCTestCase {
    func testTheHostWritesDuringASendLoopAndThePeerGetsEveryMessageOnce() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100)
        pair.serverEvents.removeAll()
        var written: [UInt8] = []
        var calls: [Int] = []
        pair.client.setEarlyWrite(threshold: 1000) { driver in
            let out = driver.pendingOutput
            calls.append(out.count)
            written += out
            driver.writeDone(out.count)
        }
        XCTAssertEqual(pair.client.pendingOutput.count, 0)
        for i in 0..<50 { sender.send(quiverMessage(Int64(i))) }
        // A message is 145 bytes with its transfer frame (the first 144: its tag is a byte
        // shorter): a write after every 7, the last one left.
        XCTAssertEqual(calls, [1014, 1015, 1015, 1015, 1015, 1015, 1015])
        XCTAssertEqual(written.count, 144 + 48 * 145)
        XCTAssertEqual(pair.client.pendingOutput.count, 145, "what was written early is no longer pending")
        // The rest goes the usual way; the server sees the early bytes first, then the rest.
        pair.server.read(written)
        pair.pump()
        try assertServerReceivedQuiverMessages(pair, 50)
    }

    func testNoHookOrABigThresholdWritesNothingEarly() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100)
        var calls = 0
        pair.client.setEarlyWrite(threshold: 1 << 20) { _ in calls += 1 }
        for i in 0..<50 { sender.send(quiverMessage(Int64(i))) }
        XCTAssertEqual(calls, 0, "under the threshold")
        pair.client.setEarlyWrite(threshold: 1, nil)
        for i in 0..<50 { sender.send(quiverMessage(Int64(i))) }
        XCTAssertEqual(calls, 0, "turned off")
        XCTAssertEqual(pair.client.pendingOutput.count, 144 + 99 * 145)
    }

    /// Deliveries sent as bytes are offered too; a host that writes nothing in the hook loses
    /// nothing, and is asked again only once another threshold's worth waits.
    func testAHookThatWritesNothingLosesNothing() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 20)
        pair.serverEvents.removeAll()
        var calls = 0
        pair.client.setEarlyWrite(threshold: 500) { _ in calls += 1 }
        for i in 0..<20 { sender.send(quiverMessage(Int64(i)).encoded) }
        // 500 bytes pending at the 4th message; the hook wrote nothing, so it is asked again once
        // another 500 bytes wait, not on every send: at the 8th, 12th, 16th and 20th.
        XCTAssertEqual(calls, 5)
        pair.pump()
        let messages = try pair.deliveries(pair.serverEvents).filter { !$0.isPartial }.map { try $0.message() }
        XCTAssertEqual(messages, (0..<20).map { quiverMessage(Int64($0)) })
    }

    /// A grant that at least doubles a receiver's credit is written at once, below the threshold,
    /// with the dispositions queued before it (the flow first); a small top-up is not.
    func testACreditGrantASenderMayWaitForIsWrittenAtOnce() throws {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 10)
        for i in 0..<10 { sender.send(quiverMessage(Int64(i))) }
        pair.pump()
        XCTAssertEqual(receiver.credit, 0)
        var frames: [[UInt8]] = []
        pair.server.setEarlyWrite(threshold: 1 << 20) { driver in
            let out = driver.pendingOutput
            frames.append(Array(out))
            driver.writeDone(out.count)
        }
        for d in pair.deliveries(pair.serverEvents) { d.accept() }
        XCTAssertEqual(frames.count, 0, "dispositions alone wait for the end of the batch")
        receiver.flow(credit: 10)
        XCTAssertEqual(frames.count, 1, "credit from 0 to 10: written at once")
        let written = try frameList(frames[0])
        XCTAssertEqual(written.count, 2)
        guard case .flow(let flow)? = written.first?.performative, case .disposition(let disposition)? = written.last?.performative else {
            return XCTFail("expected a flow and a disposition: \(written)")
        }
        XCTAssertEqual(disposition.first, 0)
        XCTAssertEqual(disposition.last, 9)
        XCTAssertEqual(flow.linkCredit, 10)
        XCTAssertEqual(flow.deliveryCount, 10)
        receiver.flow(credit: 1)
        XCTAssertEqual(frames.count, 1, "10 to 11 is a top-up: it waits")
        receiver.flow(credit: 11)
        XCTAssertEqual(frames.count, 2, "11 more on 11 left doubles it")
    }
}

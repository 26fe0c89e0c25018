import AMQPCodec
@testable import AMQPEngine
import AMQPEngineTesting
import XCTest

/// `ConnectionDriver.setEarlyWrite(threshold:_:)`: the host gets the output during a long send
/// loop, once enough of it waits, and whatever it writes then is gone from the pending output.
final class EarlyWriteTests: XCTestCase {
    private func message(_ n: Int64) -> Message {
        var m = Message(value: .string(String(repeating: "x", count: 100)))
        m.applicationProperties = ["SendTime": .long(n)]
        return m
    }

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
        for i in 0..<50 { sender.send(message(Int64(i))) }
        // A message is 145 bytes with its transfer frame (the first 144: its tag is a byte
        // shorter): a write after every 7, the last one left.
        XCTAssertEqual(calls, [1014, 1015, 1015, 1015, 1015, 1015, 1015])
        XCTAssertEqual(written.count, 144 + 48 * 145)
        XCTAssertEqual(pair.client.pendingOutput.count, 145, "what was written early is no longer pending")
        // The rest goes the usual way; the server sees the early bytes first, then the rest.
        pair.server.read(written)
        pair.pump()
        let messages = try pair.deliveries(pair.serverEvents).filter { !$0.isPartial }.map { try $0.message() }
        XCTAssertEqual(messages, (0..<50).map { message(Int64($0)) })
        XCTAssertNil(pair.firstTransportError)
    }

    func testNoHookOrABigThresholdWritesNothingEarly() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100)
        var calls = 0
        pair.client.setEarlyWrite(threshold: 1 << 20) { _ in calls += 1 }
        for i in 0..<50 { sender.send(message(Int64(i))) }
        XCTAssertEqual(calls, 0, "under the threshold")
        pair.client.setEarlyWrite(threshold: 1, nil)
        for i in 0..<50 { sender.send(message(Int64(i))) }
        XCTAssertEqual(calls, 0, "turned off")
        XCTAssertEqual(pair.client.pendingOutput.count, 144 + 99 * 145)
    }

    /// Queued deliveries (sent as bytes, flushed when credit comes) are offered too, and a host
    /// that writes nothing in the hook loses nothing.
    func testAHookThatWritesNothingLosesNothing() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 20)
        pair.serverEvents.removeAll()
        var calls = 0
        pair.client.setEarlyWrite(threshold: 500) { _ in calls += 1 }
        for i in 0..<20 { sender.send(message(Int64(i)).encoded) }
        XCTAssertEqual(calls, 17, "every send from the 4th on finds 500 bytes or more waiting")
        pair.pump()
        let messages = try pair.deliveries(pair.serverEvents).filter { !$0.isPartial }.map { try $0.message() }
        XCTAssertEqual(messages, (0..<20).map { message(Int64($0)) })
    }
}

import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Opening and closing endpoints (AMQP 1.0 §2.4–§2.7), driven frame by frame by a scripted peer.
final class LifecycleTests: XCTestCase {
    private let message: [UInt8] = [0x00, 0x53, 0x77, 0x40]

    /// Everything the driver wrote after its close frame: must be nothing (§2.7.9).
    private func afterClose(_ out: [PeerInput]) -> [PeerInput] {
        guard let i = out.firstIndex(where: { if case .close? = $0.performative { return true } else { return false } }) else {
            XCTFail("no close in \(out)")
            return []
        }
        return Array(out[(i + 1)...])
    }

    /// Defect 7: once our close is out, no frame follows it, whatever the application or the peer
    /// does next: credit, dispositions, echo and drain answers, aborts, ends, detaches, heartbeats.
    func testNothingFollowsOurClose() {
        let peer2 = ScriptedPeer.withSession(window: 1, maxFrameSize: 512, credit: 10)
        let receiver = peer2.attachSender(handle: 0, name: "in")
        let sender = peer2.attachReceiver(handle: 1, name: "out")
        peer2.grant(handle: 1, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 1)
        let big = sender.send([UInt8](repeating: 1, count: 3000))
        peer2.transfer(handle: 0, id: 0)
        let inbound = peer2.takeEvents().deliveries
        XCTAssertEqual(inbound.count, 1)
        _ = peer2.read()
        peer2.driver.connection.close()
        // The application carries on as if nothing happened...
        receiver.flow(credit: 5)
        inbound.first?.accept()
        XCTAssertTrue(big.abort())
        sender.send(message)
        receiver.detach()
        // ...and so does the peer, which has not seen our close yet.
        peer2.grant(handle: 1, deliveryCount: 1, credit: 10, nextIncomingID: 1, window: 100, drain: true, echo: true)
        peer2.transfer(handle: 0, id: 1)
        peer2.write(.flow(Flow(nextIncomingID: 1, incomingWindow: 100, nextOutgoingID: 2, outgoingWindow: .max, echo: true)))
        peer2.session.end()
        _ = peer2.driver.tick(now: .now)
        _ = peer2.driver.tick(now: ContinuousClock.now.advanced(by: .seconds(100)))
        let out = peer2.read()
        XCTAssertEqual(afterClose(out), [], "§2.7.9: nothing after close")
        XCTAssertEqual(out.compactMap(\.performative).last?.name, "close")
        XCTAssertEqual(peer2.read(), [])
    }

    /// The connection closed on a violation: the error close is the last frame too.
    func testNothingFollowsAnErrorClose() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        // A frame on a channel with no session closes the connection with not-found...
        peer.write(frames: [(7, .end(End())), (0, .flow(Flow(nextIncomingID: 0, incomingWindow: 10, nextOutgoingID: 0, outgoingWindow: 10, echo: true)))])
        let out = peer.read()
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.notFound])
        XCTAssertEqual(out.compactMap(\.performative).names, ["close"], "the flow in the same read is not looked at")
    }

    /// Frames after the peer's close in the same read are not processed.
    func testFramesAfterThePeersCloseInTheSameReadAreIgnored() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        _ = peer.takeEvents()
        var bytes = Frame(channel: 0, .close(Close())).encoded
        bytes += Frame(channel: 0, .transfer(Transfer(handle: 0, deliveryID: 0, deliveryTag: Binary([1]))), payload: message[...]).encoded
        peer.write(bytes: bytes)
        let events = peer.takeEvents()
        XCTAssertEqual(events.deliveries.count, 0)
        XCTAssertEqual(events.transportErrors, [])
        XCTAssertEqual(peer.driver.connection.remoteState, .closed)
        XCTAssertTrue(peer.driver.isTailClosed)
        // The application (Responder) answered the close: our close goes out and the driver finishes.
        XCTAssertEqual(peer.readNames(), ["close"])
        XCTAssertTrue(peer.driver.isHeadClosed)
    }

    /// Defect 8: a session ended before the peer answered its begin keeps its channel until the
    /// peer's end, so the late answer binds to it instead of failing the connection.
    func testEndingASessionBeforeThePeersBeginKeepsTheChannel() {
        let peer = ScriptedPeer(driverMode: .client, configuration: DriverConfiguration(containerID: "driver"))
        let c = peer.driver.connection
        c.open()
        let s = c.session()
        s.begin()
        s.end()
        XCTAssertEqual(peer.readPerformatives().names, ["open", "begin", "end"])
        peer.write(header: .amqp)
        peer.write(.open(Open(containerID: "peer")))
        // The peer answers the begin, then the end.
        peer.begin(channel: 3, remoteChannel: 0)
        XCTAssertEqual(peer.transportErrors, [])
        XCTAssertEqual(s.remoteState, .active)
        XCTAssertEqual(c.allSessions.count, 1, "the channel is still held")
        // A new session meanwhile must not take channel 0.
        let s2 = c.session()
        s2.begin()
        XCTAssertEqual(s2.localChannel, 1)
        peer.write(.end(End()), channel: 3)
        XCTAssertEqual(s.remoteState, .closed)
        XCTAssertEqual(c.allSessions.map { $0 === s2 }, [true], "ended both ways: gone")
        XCTAssertTrue(s.isReleased)
        XCTAssertEqual(peer.transportErrors, [])
        // Channel 0 is free again.
        let s3 = c.session()
        s3.begin()
        XCTAssertEqual(s3.localChannel, 0)
        XCTAssertEqual(peer.readPerformatives().begins.count, 2)
    }

    /// Defect 10: a link the application never attached can still be closed when the peer
    /// detaches: we answer with attach then detach, and the peer is not left waiting.
    func testAnsweringADetachOfALinkWeNeverAttached() {
        let peer = ScriptedPeer.withSession()
        peer.application = nil
        peer.write(.attach(Attach(name: "x", handle: 0, role: .sender, source: Source(address: "q"), target: .target(Target()))))
        let link = peer.session.allLinks[0]
        XCTAssertEqual(link.localState, .uninitialized)
        peer.write(.detach(Detach(handle: 0, closed: true)))
        link.close()
        XCTAssertEqual(peer.readPerformatives().names, ["attach", "detach"])
        XCTAssertEqual(link.localState, .closed)
        XCTAssertEqual(peer.session.allLinks.count, 0, "detached both ways: gone")
    }

    /// Defect 10: the same for a session the application never began.
    func testAnsweringAnEndOfASessionWeNeverBegan() {
        let peer = ScriptedPeer.withSession()
        peer.application = nil
        peer.begin(channel: 1)
        let s = peer.driver.connection.allSessions[1]
        XCTAssertEqual(s.localState, .uninitialized)
        peer.write(.end(End()), channel: 1)
        s.end()
        let out = peer.read()
        XCTAssertEqual(out.compactMap(\.performative).names, ["begin", "end"])
        XCTAssertEqual(out.compactMap(\.performative).begins.first?.remoteChannel, 1)
        XCTAssertEqual(peer.driver.connection.allSessions.count, 1)
    }

    /// Defect 10: refusing a link (§2.6.3): attach with a null terminus on our side, then a
    /// closing detach with the error.
    func testRefusingALink() {
        let peer = ScriptedPeer.withSession()
        peer.application = nil
        peer.write(.attach(Attach(name: "x", handle: 0, role: .sender, source: Source(address: "nowhere"), target: .target(Target()))))
        let link = peer.session.allLinks[0]
        link.refuse(AMQPError(condition: ErrorCondition.notFound, description: "no such node"))
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["attach", "detach"])
        XCTAssertNil(out.attaches.first?.target, "null target: we are the receiver refusing")
        XCTAssertEqual(out.detaches.first?.closed, true)
        XCTAssertEqual(out.detaches.first?.error, AMQPError(condition: ErrorCondition.notFound, description: "no such node"))
    }

    /// Defect 11: the peer's end detaches the session's links and drops their deliveries; our end
    /// then takes the session out of the tree.
    func testRemoteEndCleansUp() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        let sender = peer.attachReceiver(handle: 1, name: "out")
        peer.grant(handle: 1, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 100)
        sender.send(message)
        peer.transfer(handle: 0, id: 0)
        peer.transfer(handle: 0, id: 1, more: true)
        let s = peer.session
        XCTAssertEqual(s.unsettledIncoming.count, 2)
        XCTAssertEqual(s.unsettledOutgoing.count, 1)
        weak var partial = receiver.current
        XCTAssertNotNil(partial)
        peer.write(.end(End()), channel: 0)   // the Responder ends too
        XCTAssertEqual(receiver.remoteState, .closed)
        XCTAssertEqual(sender.remoteState, .closed)
        XCTAssertEqual(s.unsettledIncoming.count, 0)
        XCTAssertEqual(s.unsettledOutgoing.count, 0)
        XCTAssertEqual(peer.driver.connection.allSessions.count, 0)
        XCTAssertTrue(s.isReleased && receiver.isReleased && sender.isReleased)
        XCTAssertNil(receiver.current)
    }

    /// Defect 11: a long-lived connection that begins and ends 100,000 sessions holds one at a time.
    func testHundredThousandSessionsInConstantMemory() {
        let peer = ScriptedPeer.withSession()
        peer.write(.end(End()), channel: 0)
        _ = peer.read()
        weak var first: Session?
        var biggest = 0
        for i in 0..<100_000 {
            peer.begin(channel: 5)
            if i == 0 { first = peer.driver.connection.allSessions.first }
            biggest = max(biggest, peer.driver.connection.allSessions.count)
            peer.write(.end(End()), channel: 5)
            if i % 1000 == 0 { _ = peer.read(); _ = peer.takeEvents() }
        }
        let out = peer.readPerformatives()
        XCTAssertEqual(peer.driver.connection.allSessions.count, 0)
        XCTAssertEqual(biggest, 1)
        XCTAssertNil(first, "the first session was freed")
        XCTAssertEqual(out.begins.last?.remoteChannel, 5)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// A link detached with closed=false can be attached again by name (§2.6.4).
    func testDetachThenReattachTheSameName() {
        let peer = ScriptedPeer.withSession(credit: 5)
        let first = peer.attachSender(handle: 0, name: "resumable")
        peer.write(.detach(Detach(handle: 0, closed: false)))
        XCTAssertEqual(peer.readPerformatives().detaches.map(\.closed), [false])
        XCTAssertTrue(first.isReleased)
        let second = peer.attachSender(handle: 0, name: "resumable")
        XCTAssertFalse(first === second)
        XCTAssertEqual(second.localState, .active)
        peer.transfer(handle: 0, id: 0)
        XCTAssertEqual(peer.takeEvents().deliveries.map { $0.link === second }, [true])
        XCTAssertEqual(peer.session.allLinks.count, 1)
    }

    /// Closing while transfers are in flight: the close goes out after what was written, and what
    /// was still queued stays queued, unsent.
    func testCloseWithTransfersInFlight() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 2, nextIncomingID: 0, window: 100)
        for _ in 0..<5 { sender.send(message) }
        peer.driver.connection.close(AMQPError(condition: ErrorCondition.connectionForced, description: "bye"))
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["attach", "transfer", "transfer", "close"])
        XCTAssertEqual(sender.queued, 3)
        peer.grant(handle: 0, deliveryCount: 2, credit: 10, nextIncomingID: 2, window: 100)
        XCTAssertEqual(peer.readPerformatives(), [], "credit after close sends nothing")
        peer.write(.close(Close()))
        XCTAssertTrue(peer.driver.isTailClosed && peer.driver.isHeadClosed)
    }

    /// Ending a session with unsettled deliveries both ways drops them.
    func testEndWithUnsettledDeliveries() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        let sender = peer.attachReceiver(handle: 1, name: "out")
        peer.grant(handle: 1, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 100)
        let out = sender.send(message)
        peer.transfer(handle: 0, id: 0)
        let s = peer.session
        let inbound = peer.takeEvents().deliveries
        s.end()
        XCTAssertEqual(peer.readPerformatives().names, ["attach", "attach", "transfer", "flow", "end"])
        inbound.first?.accept()
        XCTAssertEqual(peer.readPerformatives(), [], "no disposition after end")
        peer.write(.end(End()), channel: 0)
        XCTAssertEqual(s.unsettledIncoming.count + s.unsettledOutgoing.count, 0)
        XCTAssertEqual(peer.driver.connection.allSessions.count, 0)
        XCTAssertFalse(out.remotelySettled)
    }
}

extension LifecycleTests {
    /// A link the peer attached on a session we had not begun, closed by the application before
    /// the begin: attach and detach follow the begin, in that order.
    func testALinkClosedBeforeItsSessionBeganIsAttachedAndDetachedAfterTheBegin() {
        let peer = ScriptedPeer.withSession()
        peer.application = nil
        peer.begin(channel: 1)
        peer.write(.attach(Attach(name: "early", handle: 0, role: .sender, source: Source(address: "q"), target: .target(Target()))), channel: 1)
        let s = peer.driver.connection.allSessions[1]
        let link = s.allLinks[0]
        link.close(AMQPError(condition: ErrorCondition.notFound))
        XCTAssertEqual(peer.readPerformatives(), [], "nothing before our begin")
        s.begin()
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["begin", "attach", "detach"])
        XCTAssertEqual(out.detaches.first?.closed, true)
        XCTAssertEqual(out.detaches.first?.error?.condition, ErrorCondition.notFound)
    }
}

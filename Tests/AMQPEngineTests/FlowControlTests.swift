import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Credit and session windows (AMQP 1.0 §2.5.6, §2.6.7), driven frame by frame by a scripted peer.
final class FlowControlTests: XCTestCase {
    private let message: [UInt8] = [0x00, 0x53, 0x77, 0x40]

    /// Defect 1: a receiver that cuts credit to 0 while 7 transfers are in flight leaves us no
    /// credit, not 2^32 - 7.
    func testCreditCutWithTransfersInFlightIsZeroNotHuge() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 100)
        for _ in 0..<7 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 7)
        XCTAssertEqual(sender.credit, 3)
        // Sent before the 7 transfers reached the receiver: its delivery-count is still 0.
        peer.grant(handle: 0, deliveryCount: 0, credit: 0, nextIncomingID: 0, window: 100)
        XCTAssertEqual(sender.credit, 0)
        for _ in 0..<5 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 0, "no credit, no transfer")
        XCTAssertEqual(sender.queued, 5)
        // The same receiver grants 2 more once it has counted the 7.
        peer.grant(handle: 0, deliveryCount: 7, credit: 2, nextIncomingID: 7, window: 100)
        XCTAssertEqual(peer.readPerformatives().transfers.count, 2)
    }

    /// Defect 1: a session window shrunk to 0 with 7 transfers in flight leaves no window.
    func testWindowCutWithTransfersInFlightIsZeroNotHuge() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 100, nextIncomingID: 0, window: 10)
        for _ in 0..<7 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 7)
        peer.grant(handle: 0, deliveryCount: 7, credit: 93, nextIncomingID: 0, window: 0)
        XCTAssertEqual(peer.session.remoteIncomingWindow, 0)
        for _ in 0..<5 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 0, "no window, no transfer")
        // The window reopens by 3 beyond what the peer has received.
        peer.grant(handle: 0, deliveryCount: 7, credit: 93, nextIncomingID: 7, window: 3)
        XCTAssertEqual(peer.readPerformatives().transfers.count, 3)
        XCTAssertEqual(peer.session.remoteIncomingWindow, 0)
    }

    /// Defect 2: our receiver's flow before the sender's attach carries no delivery-count
    /// (§2.7.4), so a sender starting at 2^32 - 5 (as RabbitMQ 4 does) grants exactly what we asked.
    func testReceiverFlowBeforeTheSendersAttachHasNoDeliveryCount() {
        let peer = ScriptedPeer.withSession()
        let receiver = peer.session.receiver(name: "in", source: "q")
        receiver.attach()
        receiver.flow(credit: 100)
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["attach", "flow"])
        XCTAssertNil(out.flows.first?.deliveryCount, "§2.7.4: not before the sender's attach")
        XCTAssertEqual(out.flows.first?.linkCredit, 100)
        // The peer's sender computes its credit from its own initial count: exactly 100 transfers.
        let start: UInt32 = .max - 4
        peer.write(.attach(Attach(name: "in", handle: 0, role: .sender, source: Source(address: "q"), target: .target(Target()),
                                  initialDeliveryCount: start)))
        XCTAssertEqual(receiver.deliveryCount, start)
        for i in 0..<100 { peer.transfer(handle: 0, id: UInt32(i), settled: true) }
        XCTAssertEqual(peer.takeEvents().deliveries.count, 100)
        XCTAssertEqual(receiver.deliveryCount, 95, "wrapped past 2^32")
        XCTAssertEqual(receiver.credit, 0)
        XCTAssertEqual(receiver.localState, .active)
        // Now that the attach is here, our flows carry delivery-count.
        receiver.flow(credit: 1)
        XCTAssertEqual(peer.readPerformatives().flows.last?.deliveryCount, 95)
    }

    /// Defect 2: a flow without delivery-count comes from a receiver that has not seen our attach:
    /// it counts from our initial delivery-count, not our current one (§2.6.7).
    func testFlowWithoutDeliveryCountCountsFromOurInitialCount() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.session.sender(name: "out", target: "q")
        sender.deliveryCountNumber = SerialNumber(100)
        sender.attach()
        XCTAssertEqual(peer.readPerformatives().attaches.first?.initialDeliveryCount, 100)
        peer.write(.attach(Attach(name: "out", handle: 0, role: .receiver, source: Source(), target: .target(Target(address: "q")))))
        // Two flows the peer sent before our attach reached it: 5, then 10 in all.
        peer.grant(handle: 0, deliveryCount: nil, credit: 5, nextIncomingID: nil, window: 100)
        for _ in 0..<8 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 5)
        peer.grant(handle: 0, deliveryCount: nil, credit: 10, nextIncomingID: nil, window: 100)
        XCTAssertEqual(sender.credit, 2, "100 + 10 - 105 after the three queued went out")
        XCTAssertEqual(peer.readPerformatives().transfers.count, 3)
    }

    /// Defect 3: a flow naming one link reopens the session window for every sender of the session.
    func testAFlowNamingOneLinkRestartsEverySenderOfTheSession() {
        let peer = ScriptedPeer.withSession(window: 0)
        let a = peer.attachReceiver(handle: 0, name: "a")
        let b = peer.attachReceiver(handle: 1, name: "b")
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 0)
        peer.grant(handle: 1, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 0)
        a.send(message)
        b.send(message)
        XCTAssertEqual(peer.readPerformatives().transfers.count, 0, "window 0")
        // Proton reopens a window with a flow that names one link.
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 100)
        XCTAssertEqual(peer.readPerformatives().transfers.map(\.handle).sorted(), [0, 1])
        XCTAssertEqual(a.queued + b.queued, 0)
    }

    /// Defect 4: transfers still arriving for a link we detached use up the incoming window, which
    /// must still be reopened, or a new link on the session stalls.
    func testTransfersForADetachedLinkStillReopenTheWindow() {
        let peer = ScriptedPeer.withSession(credit: 10) { $0.sessionIncomingWindow = 4 }
        let old = peer.attachSender(handle: 0, name: "old")
        XCTAssertEqual(peer.readPerformatives().names, ["attach", "flow"])
        old.close()
        XCTAssertEqual(peer.readPerformatives().detaches.count, 1)
        for i in 0..<4 { peer.transfer(handle: 0, id: UInt32(i)) }
        XCTAssertEqual(peer.takeEvents().deliveries.count, 0, "dropped, not delivered")
        let flows = peer.readPerformatives().flows
        XCTAssertEqual(flows.last?.incomingWindow, 4, "the window is granted again")
        XCTAssertEqual(flows.last?.nextIncomingID, 4)
        // The peer's detach, then a new link carries on within the window.
        peer.write(.detach(Detach(handle: 0, closed: true)))
        peer.attachSender(handle: 0, name: "new")
        _ = peer.read()
        for i in 4..<8 { peer.transfer(handle: 0, id: UInt32(i)) }
        XCTAssertEqual(peer.takeEvents().deliveries.count, 4)
        XCTAssertEqual(peer.transportErrors, [])
        XCTAssertEqual(peer.session.localState, .active)
    }

    /// Defect 5: an abort waits for the window like any transfer, instead of wrapping it to 2^32 - 1.
    func testAbortWaitsForTheSessionWindow() {
        let peer = ScriptedPeer.withSession(window: 3, maxFrameSize: 512)
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 3)
        let big = sender.send([UInt8](repeating: 7, count: 5000))
        XCTAssertEqual(peer.readPerformatives().transfers.map(\.more), [true, true, true])
        XCTAssertTrue(big.abort())
        sender.send(message)
        XCTAssertEqual(peer.readPerformatives(), [], "the window is closed")
        XCTAssertEqual(peer.session.remoteIncomingWindow, 0)
        XCTAssertFalse(big.isAborted, "not yet sent")
        peer.grant(handle: 0, deliveryCount: 1, credit: 9, nextIncomingID: 3, window: 2)
        let out = peer.readPerformatives().transfers
        XCTAssertEqual(out.map(\.aborted), [true, false])
        XCTAssertEqual(out.last?.deliveryID, 1)
        XCTAssertTrue(big.isAborted)
        XCTAssertEqual(peer.session.remoteIncomingWindow, 0)
        XCTAssertEqual(peer.session.unsettledOutgoing.count, 1, "only the second delivery")
    }

    /// A sender's flow that overtakes its own transfers (RabbitMQ 3.10 writes them so): its
    /// delivery-count runs ahead of what has arrived, but no drain was asked for, so the transfers
    /// still to come are counted when they do come, within our credit; they must not be taken for
    /// transfers without credit (which detaches the link with amqp:link:transfer-limit-exceeded).
    func testASenderFlowAheadOfItsTransfersCostsNoCredit() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        XCTAssertEqual(receiver.credit, 10)
        peer.write(.flow(Flow(nextIncomingID: 0, incomingWindow: 2048, nextOutgoingID: 10, outgoingWindow: .max,
                              handle: 0, deliveryCount: 10, linkCredit: 0)))
        XCTAssertEqual(receiver.credit, 10, "the flow alone uses no credit")
        for i in 0..<10 { peer.transfer(handle: 0, id: UInt32(i)) }
        XCTAssertEqual(peer.takeEvents().deliveries.count, 10)
        XCTAssertEqual(receiver.credit, 0)
        XCTAssertEqual(receiver.deliveryCount, 10)
        XCTAssertEqual(receiver.localState, .active, "not detached")
        XCTAssertEqual(peer.readPerformatives().detaches.count, 0)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// RabbitMQ 3.10 (rabbitmq-server#2597) resets its consumer's credit without counting the
    /// messages already on their way and overshoots: 100 granted, 3 arrive, it confirms 97 more,
    /// then sends 100. The overshoot is taken and counted; the next grant starts from it.
    func testATransferBeyondCreditWithinTheOverrunLimitIsTaken() {
        let peer = ScriptedPeer.withSession(credit: 100)
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        for i in 0..<103 { peer.transfer(handle: 0, id: UInt32(i)) }
        XCTAssertEqual(peer.takeEvents().deliveries.count, 103)
        XCTAssertEqual(receiver.credit, 0)
        XCTAssertEqual(receiver.deliveryCount, 103, "the overshoot counts as delivered")
        XCTAssertEqual(receiver.localState, .active, "not detached")
        receiver.flow(credit: 10)
        let flow = peer.readPerformatives().flows.last
        XCTAssertEqual(flow?.deliveryCount, 103)
        XCTAssertEqual(flow?.linkCredit, 10)
        XCTAssertEqual(peer.readPerformatives().detaches.count, 0)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// Past ``DriverConfiguration/creditOverrunLimit`` transfers beyond credit detach the link
    /// with amqp:link:transfer-limit-exceeded; a grant in between starts the count again.
    func testTransfersBeyondTheOverrunLimitDetachTheLink() {
        let peer = ScriptedPeer.withSession(credit: 2) { $0.creditOverrunLimit = 3 }
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        for i in 0..<4 { peer.transfer(handle: 0, id: UInt32(i)) }   // 2 in credit, 2 over
        receiver.flow(credit: 1)
        for i in 4..<8 { peer.transfer(handle: 0, id: UInt32(i)) }   // 1 in credit, 3 over: the limit
        XCTAssertEqual(peer.takeEvents().deliveries.count, 8)
        XCTAssertEqual(receiver.localState, .active)
        peer.transfer(handle: 0, id: 8)
        let detach = peer.readPerformatives().detaches.last
        XCTAssertEqual(detach?.error?.condition, ErrorCondition.transferLimitExceeded)
        XCTAssertEqual(detach?.error?.description, "4 transfers beyond the credit granted")
        XCTAssertEqual(receiver.localState, .closed)
    }

    /// With a limit of 0 the first transfer without credit detaches the link.
    func testAStrictReceiverDetachesOnTheFirstTransferWithoutCredit() {
        let peer = ScriptedPeer.withSession(credit: 1) { $0.creditOverrunLimit = 0 }
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        peer.transfer(handle: 0, id: 0)
        peer.transfer(handle: 0, id: 1)
        XCTAssertEqual(peer.takeEvents().deliveries.count, 1)
        XCTAssertEqual(peer.readPerformatives().detaches.last?.error?.condition, ErrorCondition.transferLimitExceeded)
        XCTAssertEqual(receiver.localState, .closed)
    }

    /// Defect 6: a delivery settled on its last transfer leaves the unsettled table.
    func testSettledOnAContinuationTransferIsForgotten() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        peer.transfer(handle: 0, id: 0, settled: false, more: true)
        XCTAssertEqual(peer.session.unsettledIncoming.count, 1)
        peer.write(.transfer(Transfer(handle: 0, settled: true, more: false)), payload: [1, 2])
        let d = peer.takeEvents().deliveries.last
        XCTAssertEqual(d?.remotelySettled, true)
        XCTAssertEqual(d?.isPartial, false)
        XCTAssertEqual(peer.session.unsettledIncoming.count, 0)
    }

    /// Defect 6 at scale: 65,537 deliveries settled on their continuation must not end the session.
    func testManyDeliveriesSettledOnContinuationDoNotFillTheTable() {
        let peer = ScriptedPeer.withSession(credit: 100) { $0.maxUnsettledDeliveries = 100 }
        let receiver = peer.attachSender(handle: 0, name: "in")
        for i in 0..<300 {
            peer.transfer(handle: 0, id: UInt32(i), settled: false, more: true)
            peer.write(.transfer(Transfer(handle: 0, settled: true)), payload: [1])
            if i % 50 == 49 { receiver.flow(credit: 50); _ = peer.read() }
        }
        XCTAssertEqual(peer.session.localState, .active)
        XCTAssertEqual(peer.session.unsettledIncoming.count, 0)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// A sender asked to drain with nothing to send uses up its credit and says so (§2.6.7).
    func testDrainWithNothingToSend() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 5, nextIncomingID: 0, window: 100, drain: true)
        let flows = peer.readPerformatives().flows
        XCTAssertEqual(flows.count, 1, "one answer, not two")
        XCTAssertEqual(flows.first?.deliveryCount, 5)
        XCTAssertEqual(flows.first?.linkCredit, 0)
        XCTAssertEqual(flows.first?.handle, 0)
        XCTAssertEqual(sender.credit, 0)
        XCTAssertEqual(sender.deliveryCount, 5)
    }

    /// A peer that begins with incoming-window 0 and opens it later with a session flow.
    func testWindowZeroAtBeginOpenedLaterByAFlow() {
        let peer = ScriptedPeer.withSession(window: 0)
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 0)
        for _ in 0..<3 { sender.send(message) }
        XCTAssertEqual(peer.readPerformatives().transfers.count, 0)
        peer.write(.flow(Flow(nextIncomingID: 0, incomingWindow: 2, nextOutgoingID: 0, outgoingWindow: .max)))
        XCTAssertEqual(peer.readPerformatives().transfers.map(\.deliveryID), [0, 1])
        XCTAssertEqual(sender.queued, 1)
    }

    /// The peer echoes for our state: a flow with echo=true gets one back (§2.7.4).
    func testEchoIsAnswered() {
        let peer = ScriptedPeer.withSession()
        peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 3, nextIncomingID: 0, window: 100, echo: true)
        let flows = peer.readPerformatives().flows
        XCTAssertEqual(flows.count, 1)
        XCTAssertEqual(flows.first?.linkCredit, 3)
        XCTAssertEqual(flows.first?.available, 0)
    }
}

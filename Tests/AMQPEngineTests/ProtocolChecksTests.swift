import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Checks on what the peer sends and on what we may send (AMQP 1.0 §2.6–§2.8, §5.3).
final class ProtocolChecksTests: XCTestCase {
    private let message: [UInt8] = [0x00, 0x53, 0x77, 0x40]

    /// §2.8.3: under rcv-settle-mode second, accept() leaves the delivery unsettled until the
    /// sender settles, then settles it without another frame.
    func testAcceptUnderSettleModeSecondWaitsForTheSender() {
        let peer = ScriptedPeer.withSession()
        peer.application = nil
        let receiver = peer.session.receiver(name: "in", source: "q")
        receiver.receiverSettleMode = .second
        receiver.attach()
        receiver.flow(credit: 1)
        peer.write(.attach(Attach(name: "in", handle: 0, role: .sender, rcvSettleMode: .second, source: Source(address: "q"),
                                  target: .target(Target()), initialDeliveryCount: 0)))
        _ = peer.read()
        peer.transfer(handle: 0, id: 0)
        let d = peer.takeEvents().deliveries[0]
        d.accept()
        let first = peer.readPerformatives().dispositions
        XCTAssertEqual(first.map(\.settled), [false])
        XCTAssertEqual(first.first?.state, .accepted)
        XCTAssertFalse(d.locallySettled)
        peer.write(.disposition(Disposition(role: .sender, first: 0, settled: true, state: .accepted)))
        XCTAssertTrue(d.remotelySettled)
        XCTAssertTrue(d.locallySettled)
        XCTAssertEqual(peer.readPerformatives(), [], "settling after the sender needs no frame")
        XCTAssertEqual(peer.session.unsettledIncoming.count, 0)
    }

    /// §2.7.5: every transfer of a delivery carries its delivery-id if any; a different one while
    /// a delivery is incomplete fails the link.
    func testANewDeliveryIDWhileADeliveryIsPartialDetachesTheLink() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        peer.transfer(handle: 0, id: 0, more: true)
        peer.transfer(handle: 0, id: 1)
        XCTAssertEqual(receiver.localError?.condition, ErrorCondition.invalidField)
        XCTAssertEqual(receiver.localError?.description, "transfer with delivery-id 1 while delivery 0 is incomplete")
        XCTAssertEqual(peer.readPerformatives().detaches.map(\.error?.condition), [ErrorCondition.invalidField])
        XCTAssertEqual(peer.session.unsettledIncoming.count, 0)
    }

    /// A continuation that repeats the delivery-id is fine.
    func testAContinuationRepeatingItsDeliveryIDIsAccepted() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        peer.transfer(handle: 0, id: 0, more: true, payload: [0x00, 0x53])
        peer.transfer(handle: 0, id: 0, payload: [0x77, 0x40])
        let ds = peer.takeEvents().deliveries
        XCTAssertEqual(ds.last?.payload.map { $0 }, message)
        XCTAssertEqual(ds.last?.isPartial, false)
        XCTAssertTrue(ds.allSatisfy { $0 === ds[0] })
    }

    /// §2.7.5: the first transfer of a delivery must carry a delivery-tag.
    func testFirstTransferWithoutATagDetachesTheLink() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        peer.write(.transfer(Transfer(handle: 0, deliveryID: 0)), payload: message)
        XCTAssertEqual(receiver.localError, AMQPError(condition: ErrorCondition.invalidField, description: "first transfer of delivery 0 without delivery-tag"))
        XCTAssertEqual(peer.takeEvents().deliveries.count, 0)
    }

    /// §2.7.1: an attach larger than the peer's max-frame-size is not sent; the link fails on our
    /// side with amqp:frame-size-too-small and the connection goes on.
    func testAnAttachOverThePeersMaxFrameSizeFailsTheLinkOnly() {
        let peer = ScriptedPeer.withSession(maxFrameSize: 512)
        let link = peer.session.sender(name: "fat", target: "q")
        link.properties = [.symbol("padding"): .string(String(repeating: "x", count: 600))]
        link.attach()
        XCTAssertEqual(peer.readPerformatives(), [])
        XCTAssertEqual(link.localState, .closed)
        XCTAssertEqual(link.localError?.condition, ErrorCondition.frameSizeTooSmall)
        XCTAssertEqual(peer.driver.connection.localState, .active)
        let thin = peer.session.sender(name: "thin", target: "q")
        thin.attach()
        XCTAssertEqual(peer.readPerformatives().attaches.map(\.name), ["thin"])
    }

    /// Any other performative over the peer's max-frame-size closes the connection clearly.
    func testAnOpenOverTheLimitBeforeThePeersOpenClosesWithFrameSizeTooSmall() {
        var config = DriverConfiguration(containerID: "d")
        config.properties = [.symbol("padding"): .string(String(repeating: "x", count: 600))]
        let peer = ScriptedPeer(driverMode: .client, configuration: config)
        peer.driver.connection.open()
        // §2.7.1: before the peer's open, frames are held to 512 bytes.
        let out = peer.read()
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.frameSizeTooSmall])
        XCTAssertEqual(out.compactMap(\.performative).names, ["open", "close"], "a small open replaces it, then the close")
        XCTAssertTrue(out.compactMap(\.performative).allSatisfy { Frame(channel: 0, $0).encoded.count <= 512 })
    }

    /// §5.3.1: a server that requires SASL answers a plain AMQP header with the SASL header only.
    func testServerRequiringSASLAnswersTheAMQPHeaderWithTheSASLHeader() {
        var config = DriverConfiguration(containerID: "d")
        config.saslServer = .plain { _ in true }
        let peer = ScriptedPeer(configuration: config)
        peer.write(header: .amqp)
        XCTAssertEqual(peer.read(), [.header(.sasl)])
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertTrue(peer.driver.isTailClosed && peer.driver.isHeadClosed)
    }

    /// §5.3.3.6: the additional-data of a successful outcome reaches the client's mechanism, which
    /// may refuse it (as SCRAM does when the server's proof is wrong).
    func testSASLOutcomeAdditionalDataReachesTheMechanism() {
        let seen = LinesBox()
        for verdict in [true, false] {
            var config = DriverConfiguration(containerID: "d")
            config.saslClient = SASLClientConfiguration(mechanisms: [
                .custom(name: "X-TEST", initialResponse: [1], respond: { _ in nil },
                        verifyOutcome: { data in seen.append(String(decoding: data ?? [], as: UTF8.self)); return verdict }),
            ])
            let peer = ScriptedPeer(driverMode: .client, configuration: config)
            XCTAssertEqual(peer.read(), [.header(.sasl)])
            peer.write(header: .sasl)
            peer.write(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["X-TEST"])))
            XCTAssertEqual(peer.readNames(), ["sasl-init"])
            peer.write(.saslOutcome(SASLOutcome(code: .ok, additionalData: Binary(Array("server-proof".utf8)))))
            if verdict {
                XCTAssertEqual(peer.read(), [.header(.amqp)])
                XCTAssertEqual(peer.transportErrors, [])
            } else {
                XCTAssertEqual(peer.transportErrors.map(\.description), ["SASL X-TEST: the server's outcome did not verify"])
                XCTAssertTrue(peer.driver.isTailClosed)
            }
        }
        XCTAssertEqual(seen.lines, ["server-proof", "server-proof"])
    }

    /// Two updates before the output is taken go out as one disposition, with the latest state.
    func testUpdateTwiceBeforeAFlushSendsTheLatestStateOnce() {
        let peer = ScriptedPeer.withSession(credit: 10)
        peer.attachSender(handle: 0, name: "in")
        peer.transfer(handle: 0, id: 0)
        _ = peer.read()
        let d = peer.takeEvents().deliveries[0]
        d.update(.received(Received(sectionNumber: 0, sectionOffset: 1)))
        d.update(.accepted, settle: true)
        let dispositions = peer.readPerformatives().dispositions
        XCTAssertEqual(dispositions.count, 1)
        XCTAssertEqual(dispositions.first?.state, .accepted)
        XCTAssertEqual(dispositions.first?.settled, true)
    }

    /// wake() posts a connection-wake event and does nothing else.
    func testWakePostsAnEvent() {
        let peer = ScriptedPeer.withSession()
        peer.driver.wake()
        let events = peer.takeEvents()
        XCTAssertEqual(events.count, 1)
        if case .connectionWake(let c)? = events.first { XCTAssertTrue(c === peer.driver.connection) } else { XCTFail("\(events)") }
        XCTAssertEqual(peer.read(), [])
    }

    /// writeClose() drops pending output and closes the head; the driver is finished once the
    /// input is closed too.
    func testWriteCloseDropsOutputAndClosesTheHead() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        XCTAssertFalse(peer.driver.pendingOutput.isEmpty, "the attach is pending")
        peer.driver.writeClose()
        XCTAssertTrue(peer.driver.isHeadClosed)
        XCTAssertEqual(peer.driver.pendingOutput.count, 0)
        sender.send(message)
        XCTAssertEqual(peer.driver.pendingOutput.count, 0, "nothing is written any more")
        XCTAssertFalse(peer.driver.isFinished)
        peer.driver.readClose()
        let events = peer.takeEvents()
        XCTAssertEqual(events.transportErrors.map(\.condition), [ErrorCondition.connectionForced])
        XCTAssertTrue(events.contains { if case .transportClosed = $0 { return true } else { return false } })
        XCTAssertTrue(peer.driver.isFinished)
    }

    /// Calls on endpoints whose driver is gone do nothing, instead of reaching freed memory.
    func testCallsAfterTheDriverIsGoneDoNothing() {
        var peer: ScriptedPeer? = ScriptedPeer.withSession(credit: 10)
        let sender = peer!.attachReceiver(handle: 0, name: "out")
        peer!.attachSender(handle: 1, name: "in")
        peer!.transfer(handle: 1, id: 0)
        let delivery = peer!.takeEvents().deliveries[0]
        let session = sender.session
        let connection = session.connection
        weak var driver = peer!.driver
        peer = nil
        XCTAssertNil(driver)
        XCTAssertTrue(connection.isReleased && session.isReleased && sender.isReleased)
        let d = sender.send(message)
        XCTAssertEqual(d.error?.condition, ErrorCondition.illegalState)
        sender.flow(credit: 1)
        sender.close()
        delivery.accept()
        delivery.link.flow(credit: 3)
        session.end()
        connection.close()
        XCTAssertEqual(connection.localState, .active, "close did nothing")
    }
}

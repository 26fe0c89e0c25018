import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Issue 22's engine findings, each with the frame sequence that showed it: a disposition sent
/// after its link's detach, a drain answered before the sender's application was asked, a close
/// before the AMQP header that never went out, and the rest.
final class DeliveryIntegrityTests: XCTestCase {
    private let message: [UInt8] = [0x00, 0x53, 0x77, 0x40]

    // MARK: finding 2: a disposition queued before a detach goes out before it

    /// A receiver that accepts a message and closes its link in the same turn (a container
    /// handler calling `link.close()` in `onMessage`): the accept must precede the detach, or the
    /// peer forgets the delivery at the detach and redelivers a message the application accepted.
    func testAnAcceptBeforeACloseGoesOutBeforeTheDetach() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        peer.transfer(handle: 0, id: 0)
        let delivery = peer.takeEvents().deliveries.first
        XCTAssertNotNil(delivery)
        delivery?.accept()
        receiver.close()
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["disposition", "detach"])
        XCTAssertEqual(out.dispositions.first?.first, 0)
        XCTAssertEqual(out.dispositions.first?.state, .accepted)
        XCTAssertEqual(out.dispositions.first?.settled, true)
    }

    /// The same for credit: a flow queued before the detach goes before it.
    func testCreditQueuedBeforeADetachGoesOutBeforeIt() {
        let peer = ScriptedPeer.withSession()
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        receiver.flow(credit: 3)
        receiver.detach()
        XCTAssertEqual(peer.readNames(), ["flow", "detach"])
    }

    // MARK: finding 3: a drain waits for the sending application's turn

    /// A flow with drain=true reaches a sender with nothing queued: the application is asked
    /// first (linkFlow, the container's onSendable), and what it sends in its turn uses the credit;
    /// only the rest is drained. An on-demand sender (a broker) otherwise never serves a drain.
    func testADrainIsAnsweredAfterTheApplicationSent() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        _ = peer.read()
        let payload = message
        peer.application = { event in
            Responder().respond(to: event)
            if case .linkFlow(let l) = event, l === sender, l.drain {
                l.send(payload)
                l.send(payload)
            }
        }
        peer.grant(handle: 0, deliveryCount: 0, credit: 5, nextIncomingID: 0, window: 100, drain: true)
        let out = peer.readPerformatives()
        XCTAssertEqual(out.names, ["transfer", "transfer", "flow"])
        XCTAssertEqual(out.transfers.map(\.deliveryID), [0, 1])
        XCTAssertEqual(out.flows.first?.deliveryCount, 5, "two sent, three drained")
        XCTAssertEqual(out.flows.first?.linkCredit, 0)
        XCTAssertEqual(out.flows.first?.drain, true)
        XCTAssertEqual(sender.credit, 0)
    }

    /// A drain the application leaves alone is still answered, once, when the output is read.
    func testADrainTheApplicationIgnoresIsAnsweredOnce() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        _ = peer.read()
        peer.grant(handle: 0, deliveryCount: 0, credit: 4, nextIncomingID: 0, window: 100, drain: true)
        XCTAssertEqual(peer.takeEvents().compactMap { if case .linkFlow(let l) = $0 { return l.credit } else { return nil } }, [UInt32(4)],
                       "the application sees the credit it may use")
        let flows = peer.readPerformatives().flows
        XCTAssertEqual(flows.count, 1)
        XCTAssertEqual(flows.first?.deliveryCount, 4)
        XCTAssertEqual(flows.first?.linkCredit, 0)
        XCTAssertEqual(peer.readNames(), [])
        XCTAssertEqual(sender.deliveryCount, 4)
    }

    // MARK: finding 4: close before the AMQP header

    /// A client that closes while SASL is still going: once SASL succeeds, the AMQP header, the
    /// open and the close go out, in that order. Before, the close flipped the output gate and
    /// none of the three was ever written: both sides waited forever.
    func testAClientClosingDuringSASLStillWritesHeaderOpenAndClose() {
        var config = DriverConfiguration(containerID: "client")
        config.saslClient = .anonymous
        let peer = ScriptedPeer(driverMode: .client, configuration: config)
        peer.driver.connection.open()
        peer.driver.connection.close()
        XCTAssertEqual(peer.read(), [.header(.sasl)])
        peer.write(header: .sasl)
        peer.write(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["ANONYMOUS"])))
        XCTAssertEqual(peer.readNames(), ["sasl-init"])
        peer.write(.saslOutcome(SASLOutcome(code: .ok)))
        let out = peer.read()
        XCTAssertEqual(out.first, .header(.amqp))
        XCTAssertEqual(out.compactMap(\.performative).names, ["open", "close"])
        peer.write(header: .amqp)
        peer.write(.open(Open(containerID: "server")))
        peer.write(.close(Close()))
        _ = peer.read()
        XCTAssertTrue(peer.driver.isHeadClosed)
        XCTAssertTrue(peer.driver.isTailClosed)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// A server that refuses a connection as soon as it exists (on connectionInit): the client's
    /// header is answered with the AMQP header, an open and the close, then the output ends.
    func testAServerRefusingOnConnectionInitAnswersHeaderOpenClose() {
        let peer = ScriptedPeer(driverMode: .server)
        peer.driver.connection.close(AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "too many connections"))
        XCTAssertEqual(peer.read(), [])
        peer.write(header: .amqp)
        peer.write(.open(Open(containerID: "client")))
        let out = peer.read()
        XCTAssertEqual(out.first, .header(.amqp))
        let performatives = out.compactMap(\.performative)
        XCTAssertEqual(performatives.names, ["open", "close"])
        if case .close(let c)? = performatives.last {
            XCTAssertEqual(c.error?.condition, ErrorCondition.resourceLimitExceeded)
        }
        peer.write(.close(Close()))
        _ = peer.read()
        XCTAssertTrue(peer.driver.isFinished || peer.driver.isHeadClosed && peer.driver.isTailClosed)
    }

    // MARK: finding 5: a SASL failure after open() ends the transport

    /// The client opened (the open waits for SASL), then the server refused the credentials while
    /// the client's sasl-init was still unwritten: once that is written the output closes and
    /// transport-closed is posted, so a container sees the failure and may reconnect.
    func testASASLFailureAfterOpenClosesTheTransport() {
        var config = DriverConfiguration(containerID: "client")
        config.saslClient = .plain(username: "user", password: "wrong")
        let peer = ScriptedPeer(driverMode: .client, configuration: config)
        peer.driver.connection.open()
        XCTAssertEqual(peer.read(), [.header(.sasl)])
        var bytes = ProtocolHeader.sasl.bytes
        bytes += Frame(kind: .sasl, channel: 0, .saslMechanisms(SASLMechanisms(saslServerMechanisms: ["PLAIN"]))).encoded
        bytes += Frame(kind: .sasl, channel: 0, .saslOutcome(SASLOutcome(code: .auth))).encoded
        peer.write(bytes: bytes)
        XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.unauthorizedAccess])
        XCTAssertEqual(peer.readNames(), ["sasl-init"])
        XCTAssertTrue(peer.driver.isHeadClosed, "nothing more can be written")
        XCTAssertTrue(peer.events.contains { if case .transportClosed = $0 { return true } else { return false } })
        XCTAssertTrue(peer.driver.isFinished)
    }

    // MARK: finding 6: a closed link's unsettled deliveries leave the session

    /// Deliveries left unsettled on a link that is then closed both ways are forgotten (§2.6.6):
    /// they no longer count toward maxUnsettledDeliveries, so the session goes on.
    func testUnsettledDeliveriesOfAClosedLinkNoLongerCount() {
        let peer = ScriptedPeer.withSession(credit: 10) { $0.maxUnsettledDeliveries = 3 }
        let first = peer.attachSender(handle: 0, name: "first")
        for id: UInt32 in 0..<3 { peer.transfer(handle: 0, id: id) }
        XCTAssertEqual(peer.session.unsettledIncoming.count, 3)
        first.close()
        peer.write(.detach(Detach(handle: 0, closed: true)))
        XCTAssertEqual(peer.session.unsettledIncoming.count, 0)
        peer.attachSender(handle: 0, name: "second")
        for id: UInt32 in 3..<6 { peer.transfer(handle: 0, id: id) }
        XCTAssertEqual(peer.session.localState, .active)
        XCTAssertEqual(peer.session.unsettledIncoming.count, 3)
        XCTAssertEqual(peer.readPerformatives().ends, [])
    }

    /// The same on the sending side: deliveries awaiting an outcome on a closed link are dropped.
    func testUnsettledOutgoingDeliveriesOfAClosedLinkAreDropped() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 5, nextIncomingID: 0, window: 100)
        for _ in 0..<3 { sender.send(message) }
        XCTAssertEqual(peer.session.unsettledOutgoing.count, 3)
        sender.close()
        peer.write(.detach(Detach(handle: 0, closed: true)))
        XCTAssertEqual(peer.session.unsettledOutgoing.count, 0)
    }

    // MARK: finding 7: delivery tags

    /// A tag over 32 bytes (§2.8.7) is refused: the delivery fails with invalid-field, nothing is sent.
    func testATagOverThirtyTwoBytesIsRefused() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 5, nextIncomingID: 0, window: 100)
        _ = peer.read()
        let d = sender.send(message, tag: Binary([UInt8](repeating: 7, count: 33)))
        XCTAssertEqual(d.error?.condition, ErrorCondition.invalidField)
        XCTAssertTrue(d.locallySettled)
        XCTAssertEqual(peer.readPerformatives().transfers.count, 0)
        let ok = sender.send(message, tag: Binary([UInt8](repeating: 7, count: 32)))
        XCTAssertNil(ok.error)
        XCTAssertEqual(peer.readPerformatives().transfers.first?.deliveryTag, Binary([UInt8](repeating: 7, count: 32)))
    }

    /// An application tag equal to the tag of an unsettled delivery of the same link is refused;
    /// the counter's tags step over the application's.
    func testTagsOfUnsettledDeliveriesDoNotCollide() {
        let peer = ScriptedPeer.withSession()
        let sender = peer.attachReceiver(handle: 0, name: "out")
        peer.grant(handle: 0, deliveryCount: 0, credit: 10, nextIncomingID: 0, window: 100)
        let counted = sender.send(message)
        let clash = sender.send(message, tag: counted.tag)
        XCTAssertEqual(clash.error?.condition, ErrorCondition.invalidField)
        // An application tag that the counter would produce next is stepped over.
        let next = DeliveryTag.counter(sender.nextTag).binary
        let own = sender.send(message, tag: next)
        XCTAssertNil(own.error)
        let after = sender.send(message)
        XCTAssertNotEqual(after.tag, next)
        let tags = peer.readPerformatives().transfers.compactMap(\.deliveryTag)
        XCTAssertEqual(tags.count, 3)
        XCTAssertEqual(Set(tags).count, 3, "every unsettled tag distinct: \(tags)")
    }

    /// A peer's tag over 32 bytes detaches the link with invalid-field.
    func testAPeersTagOverThirtyTwoBytesDetachesTheLink() {
        let peer = ScriptedPeer.withSession(credit: 10)
        let receiver = peer.attachSender(handle: 0, name: "in")
        _ = peer.read()
        peer.transfer(handle: 0, id: 0, tag: [UInt8](repeating: 1, count: 33))
        XCTAssertEqual(peer.takeEvents().deliveries.count, 0)
        XCTAssertEqual(receiver.localError?.condition, ErrorCondition.invalidField)
        XCTAssertEqual(peer.readPerformatives().detaches.first?.error?.condition, ErrorCondition.invalidField)
    }

    // MARK: finding 8: a message larger than the session buffer never stalls

    /// A message bigger than the session may buffer, to a receiver that reads whole messages only:
    /// the link is refused with message-size-exceeded instead of the window staying shut forever.
    func testAMessageOverTheSessionBufferIsRefusedNotStalled() {
        var server = DriverConfiguration(containerID: "server")
        server.sessionBufferLimit = 20_000
        server.maxFrameSize = 4096
        server.sessionIncomingWindow = 8
        let pair = DriverPair(client: DriverConfiguration(containerID: "client"), server: server)
        let (sender, receiver) = pair.openLinkPair(credit: 1)
        let d = sender.send([UInt8](repeating: 0x41, count: 100_000))
        pair.pump()
        XCTAssertEqual(receiver.localError?.condition, ErrorCondition.messageSizeExceeded)
        XCTAssertEqual(sender.remoteError?.condition, ErrorCondition.messageSizeExceeded)
        XCTAssertEqual(sender.remoteState, .closed)
        XCTAssertFalse(d.remotelySettled && d.remoteState == .accepted)
        XCTAssertEqual(receiver.session.bufferedBytes, 0, "the partial message's bytes are given back")
    }

    /// A receiver that streams (reads partials as they come) is not refused: it keeps the buffer low.
    func testAStreamingReceiverTakesAMessageOverTheSessionBuffer() {
        var server = DriverConfiguration(containerID: "server")
        server.sessionBufferLimit = 20_000
        server.maxFrameSize = 4096
        server.sessionIncomingWindow = 8
        let pair = DriverPair(client: DriverConfiguration(containerID: "client"), server: server)
        let (sender, receiver) = pair.openLinkPair(credit: 1)
        sender.send([UInt8](repeating: 0x41, count: 100_000))
        var received = 0
        var complete = false
        // As a host runs: input, then the application's turn, then output.
        for _ in 0..<10_000 where !complete {
            let moved = pair.move(from: pair.client, to: pair.server)
            while let e = pair.server.nextEvent() {
                if case .delivery(let d) = e {
                    received += d.readPayload().count
                    complete = !d.isPartial
                }
            }
            let back = pair.move(from: pair.server, to: pair.client)
            while pair.client.nextEvent() != nil {}
            if moved == 0 && back == 0 { break }
        }
        XCTAssertTrue(complete)
        XCTAssertEqual(received, 100_000)
        XCTAssertNil(receiver.localError)
    }

    // MARK: finding 9

    /// §2.7.2: a handle above our handle-max is a framing error on flow, transfer and detach too.
    func testAHandleAboveHandleMaxIsAFramingError() {
        let frames: [Performative] = [
            .flow(Flow(nextIncomingID: 0, incomingWindow: 10, nextOutgoingID: 0, outgoingWindow: 10, handle: 11, deliveryCount: 0, linkCredit: 1)),
            .transfer(Transfer(handle: 11, deliveryID: 0, deliveryTag: Binary([0]))),
            .detach(Detach(handle: 11, closed: true)),
        ]
        for frame in frames {
            let peer = ScriptedPeer.withSession { $0.handleMax = 10 }
            peer.write(frame, payload: frame.name == "transfer" ? message : [])
            XCTAssertEqual(peer.transportErrors.map(\.condition), [ErrorCondition.framingError], frame.name)
            XCTAssertEqual(peer.readNames(), ["close"], frame.name)
        }
    }

    /// §2.4.1 / §2.7.1: before the peer's open tells its channel-max, only channel 0 is safe; a
    /// second session's begin waits for the open.
    func testBeginsBeforeThePeersOpenUseChannelZeroOnly() {
        let peer = ScriptedPeer(driverMode: .client)
        let c = peer.driver.connection
        c.open()
        let first = c.session()
        first.begin()
        let second = c.session()
        second.begin()
        let early = peer.read().compactMap { if case .frame(let ch, let p?, _) = $0 { return "\(ch):\(p.name)" } else { return nil } }
        XCTAssertEqual(early, ["0:open", "0:begin"])
        peer.write(header: .amqp)
        peer.write(.open(Open(containerID: "server", channelMax: 7)))
        let late = peer.read().compactMap { if case .frame(let ch, let p?, _) = $0 { return "\(ch):\(p.name)" } else { return nil } }
        XCTAssertEqual(late, ["1:begin"])
        XCTAssertEqual(second.localChannel, 1)
    }

    /// A peer announcing an idle-time-out under 100 ms gets heartbeats at half of it.
    func testAShortIdleTimeoutOfThePeerIsHonoured() {
        let peer = ScriptedPeer(driverMode: .server)
        peer.application = { Responder().respond(to: $0) }
        peer.connect(Open(containerID: "peer", idleTimeOut: 60))
        let start = ContinuousClock.now
        let deadline = peer.driver.tick(now: start)
        XCTAssertNotNil(deadline)
        if let deadline { XCTAssertLessThanOrEqual(deadline - start, .milliseconds(30)) }
        _ = peer.driver.tick(now: start.advanced(by: .milliseconds(31)))
        XCTAssertEqual(peer.read(), [.frame(channel: 0, performative: nil, payload: [])], "a heartbeat within 30 ms")
    }

    /// §2.6.1: a second attach of the same name and role from the same container steals the link:
    /// the old one is detached with amqp:link:stolen, the new one is attached.
    func testASecondAttachOfTheSameNameStealsTheLink() {
        let peer = ScriptedPeer.withSession(credit: 5)
        let old = peer.attachSender(handle: 0, name: "dup")
        _ = peer.read()
        peer.write(.attach(Attach(name: "dup", handle: 1, role: .sender, source: Source(address: "q"), target: .target(Target()),
                                  initialDeliveryCount: 0)))
        XCTAssertEqual(old.localError?.condition, ErrorCondition.stolen)
        let out = peer.readPerformatives()
        XCTAssertEqual(out.detaches.first?.handle, 0)
        XCTAssertEqual(out.detaches.first?.error?.condition, ErrorCondition.stolen)
        XCTAssertEqual(out.attaches.first?.name, "dup")
        let new = peer.session.allLinks.first { $0.name == "dup" && $0 !== old }
        XCTAssertEqual(new?.remoteState, .active)
        XCTAssertEqual(new?.localState, .active)
        XCTAssertEqual(peer.transportErrors, [])
    }

    /// Before the peer's open its max-frame-size is 512 (§2.7.1): a larger attach waits for the
    /// open instead of failing the link.
    func testAnAttachOver512BytesWaitsForThePeersOpen() {
        let peer = ScriptedPeer(driverMode: .client)
        let c = peer.driver.connection
        c.open()
        let s = c.session()
        s.begin()
        let link = s.sender(name: String(repeating: "n", count: 700), target: "q")
        link.attach()
        XCTAssertEqual(peer.readNames(), ["open", "begin"])
        XCTAssertNil(link.localError)
        peer.write(header: .amqp)
        peer.write(.open(Open(containerID: "server", maxFrameSize: 65_536)))
        XCTAssertEqual(peer.readNames(), ["attach"])
        XCTAssertNil(link.localError)
        XCTAssertEqual(link.localState, .active)
    }
}

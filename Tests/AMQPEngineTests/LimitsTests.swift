import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Limits on channels, handles, unsettled deliveries and buffered bytes, and the streaming
/// receive that keeps a large message from sitting whole in memory.
final class LimitsTests: XCTestCase {
    /// A server driver fed raw frames from a hand-written client.
    private func serverFed(_ frames: [Frame], configure: (inout DriverConfiguration) -> Void = { _ in }) -> (ConnectionDriver, [AMQPEvent]) {
        var config = DriverConfiguration(containerID: "server")
        configure(&config)
        let d = ConnectionDriver(mode: .server, configuration: config)
        d.read(ProtocolHeader.amqp.bytes + frames.flatMap(\.encoded))
        var events: [AMQPEvent] = []
        while let e = d.nextEvent() { events.append(e) }
        return (d, events)
    }

    private func firstError(_ events: [AMQPEvent]) -> AMQPError? {
        events.lazy.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }.first
    }

    private func remoteEndError(_ events: [AMQPEvent]) -> AMQPError? {
        events.lazy.compactMap { if case .sessionRemoteEnd(let s) = $0 { return s.remoteError } else { return nil } }.first
    }

    func testAttachAboveHandleMaxIsAFramingError() {
        let (d, events) = serverFed([
            Frame(channel: 0, .open(Open(containerID: "c"))),
            Frame(channel: 0, .begin(Begin(nextOutgoingID: 0, incomingWindow: 10, outgoingWindow: 10))),
            Frame(channel: 0, .attach(Attach(name: "l", handle: 9, role: .sender))),
        ]) { $0.handleMax = 4 }
        XCTAssertEqual(firstError(events)?.condition, ErrorCondition.framingError)
        XCTAssertTrue(d.isTailClosed)
        XCTAssertEqual(d.connection.localError?.condition, ErrorCondition.framingError)
    }

    /// A storm of attaches over two sessions: the connection holds `maxLinks` links, and the one
    /// after closes it with amqp:resource-limit-exceeded.
    func testAttachesBeyondMaxLinksCloseTheConnection() {
        let begin = { (ch: UInt16) in Frame(channel: ch, .begin(Begin(nextOutgoingID: 0, incomingWindow: 10, outgoingWindow: 10))) }
        let attach = { (ch: UInt16, h: UInt32) in Frame(channel: ch, .attach(Attach(name: "l\(ch)-\(h)", handle: h, role: .sender))) }
        let (d, events) = serverFed([Frame(channel: 0, .open(Open(containerID: "c"))), begin(0), begin(1)]
            + (0..<3).map { attach(0, $0) } + (0..<2).map { attach(1, $0) }) { $0.maxLinks = 5 }
        XCTAssertNil(firstError(events), "5 links are allowed")
        XCTAssertEqual(d.connection.allSessions.map(\.allLinks.count), [3, 2])
        d.read(attach(1, 2).encoded)
        var more: [AMQPEvent] = []
        while let e = d.nextEvent() { more.append(e) }
        XCTAssertEqual(firstError(more)?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertEqual(firstError(more)?.description, "attach beyond the 5 links a connection may hold")
        XCTAssertTrue(d.isTailClosed)
    }

    func testFrameAboveChannelMaxIsAFramingError() {
        let (d, events) = serverFed([
            Frame(channel: 0, .open(Open(containerID: "c"))),
            Frame(channel: 7, .begin(Begin(nextOutgoingID: 0, incomingWindow: 10, outgoingWindow: 10))),
        ]) { $0.channelMax = 3 }
        XCTAssertEqual(firstError(events)?.condition, ErrorCondition.framingError)
        XCTAssertTrue(d.isTailClosed)
    }

    func testOurBeginAnnouncesHandleMax() {
        let pair = DriverPair { $0.handleMax = 2 }
        _ = pair.openLinkPair()
        let clientSession = pair.client.connection.allSessions[0]
        XCTAssertEqual(clientSession.remoteHandleMax, 2)
    }

    func testWeStayWithinThePeersHandleMax() {
        let pair = DriverPair { $0.handleMax = 1 }
        _ = pair.openLinkPair()       // handle 0
        let session = pair.client.connection.allSessions[0]
        let second = session.sender(name: "second", target: "q")
        second.attach()               // handle 1
        let third = session.sender(name: "third", target: "q")
        third.attach()                // no handle left
        pair.pump()
        let serverSide = pair.server.connection.allSessions[0].allLinks.map(\.name)
        XCTAssertEqual(serverSide, ["to-server", "second"])
        XCTAssertEqual(second.localHandle, 1)
        XCTAssertEqual(third.localError?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertEqual(third.remoteState, .uninitialized)
        XCTAssertNil(pair.firstTransportError, "staying inside the limit must not upset the peer")
    }

    func testWeStayWithinThePeersChannelMax() {
        let pair = DriverPair { $0.channelMax = 0 }
        _ = pair.openLinkPair()       // channel 0
        let extra = pair.client.connection.session()
        extra.begin()
        pair.pump()
        XCTAssertEqual(extra.localError?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertNil(extra.localChannel)
        XCTAssertNil(pair.firstTransportError)
    }

    func testTooManyUnsettledDeliveriesEndTheSession() {
        let pair = DriverPair { $0.maxUnsettledDeliveries = 10 }
        let (sender, _) = pair.openLinkPair(credit: 100)
        for i in 0..<11 { sender.send(Message(value: .int(Int32(i)))) }
        pair.pump()
        XCTAssertEqual(pair.deliveries(pair.serverEvents).count, 10)
        let serverSession = pair.server.connection.allSessions[0]
        XCTAssertEqual(serverSession.localError?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertEqual(remoteEndError(pair.clientEvents)?.condition, ErrorCondition.resourceLimitExceeded)
    }

    func testSlowReaderThrottlesTheSender() {
        let pair = DriverPair { $0.sessionBufferLimit = 10_000; $0.sessionIncomingWindow = 4 }
        let (sender, _) = pair.openLinkPair(credit: 1000)
        let body = [UInt8](repeating: 7, count: 1000)
        for _ in 0..<50 { sender.send(body) }
        pair.pump()
        let first = pair.deliveries(pair.serverEvents)
        let session = pair.server.connection.allSessions[0]
        XCTAssertLessThan(first.count, 50, "an unread buffer must close the window")
        XCTAssertGreaterThan(sender.queued, 0)
        XCTAssertLessThanOrEqual(session.bufferedBytes, 10_000 + 4 * 1000)
        // Reading releases the buffer and the rest flows.
        var received = 0
        for _ in 0..<100 where received < 50 {
            for d in pair.deliveries(pair.serverEvents) where !d.locallySettled {
                _ = d.readPayload()
                d.accept()
                received += 1
            }
            pair.serverEvents.removeAll()
            pair.pump()
        }
        XCTAssertEqual(received, 50)
        XCTAssertEqual(sender.queued, 0)
        XCTAssertEqual(session.bufferedBytes, 0)
    }

    func testStreamingReceiveOfALargeMessage() {
        let pair = DriverPair { $0.maxFrameSize = 512 }
        pair.chunk = 4096
        let (sender, _) = pair.openLinkPair(credit: 1)
        let message = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        sender.send(message)
        var got: [UInt8] = []
        var largestHeld = 0
        var done = false
        pair.pumpServerDeliveries(rounds: 10_000) { d in
            largestHeld = max(largestHeld, d.payload.count)
            got += d.readPayload()
            if !d.isPartial { done = true; d.accept() }
            return done
        }
        XCTAssertTrue(done)
        XCTAssertEqual(got, message)
        XCTAssertLessThanOrEqual(largestHeld, 8192, "the message must not accumulate when it is read as it streams")
        XCTAssertEqual(pair.server.connection.allSessions[0].bufferedBytes, 0)
    }

    func testMaxMessageSizeCountsStreamedBytes() {
        // A sender that ignores our announced limit: 20,000 bytes in 500-byte transfers, read as
        // they stream in, must still detach the link once 10,000 have arrived.
        var config = DriverConfiguration(containerID: "driver")
        config.maxMessageSize = 10_000
        let peer = ScriptedPeer(configuration: config)
        peer.application = { Responder(initialCredit: 1).respond(to: $0) }
        peer.connect()
        peer.begin()
        peer.write(.attach(Attach(name: "big", handle: 0, role: .sender, source: Source(), target: .target(Target()), initialDeliveryCount: 0)))
        let attach = peer.readPerformatives().compactMap { if case .attach(let a) = $0 { return a } else { return nil } }.first
        XCTAssertEqual(attach?.maxMessageSize, 10_000, "our attach announces the limit")
        for i in 0..<40 {
            let first = i == 0
            peer.write(.transfer(Transfer(handle: 0, deliveryID: first ? 0 : nil, deliveryTag: first ? Binary([1]) : nil, more: i < 39)),
                       payload: [UInt8](repeating: 1, count: 500))
            for case .delivery(let d) in peer.takeEvents() { _ = d.readPayload() }
        }
        let receiver = peer.driver.connection.allSessions[0].allLinks[0]
        XCTAssertEqual(receiver.localError?.condition, ErrorCondition.messageSizeExceeded)
        let detach = peer.readPerformatives().compactMap { if case .detach(let d) = $0 { return d } else { return nil } }
        XCTAssertEqual(detach.map(\.error?.condition), [ErrorCondition.messageSizeExceeded])
        XCTAssertEqual(detach.first?.closed, true)
        XCTAssertEqual(peer.driver.connection.allSessions[0].unsettledIncoming.count, 0, "the dropped delivery is forgotten")
        XCTAssertEqual(peer.driver.connection.allSessions[0].bufferedBytes, 0)
    }

    func testSenderRefusesAMessageOverThePeersMaxMessageSize() {
        let pair = DriverPair { $0.maxMessageSize = 1000 }
        let (sender, receiver) = pair.openLinkPair(credit: 5)
        let big = sender.send([UInt8](repeating: 1, count: 1001))
        let small = sender.send([UInt8](repeating: 2, count: 1000))
        pair.pump()
        XCTAssertEqual(big.error?.condition, ErrorCondition.messageSizeExceeded)
        XCTAssertEqual(big.error?.description, "message of 1001 bytes exceeds the receiver's max-message-size 1000")
        XCTAssertNil(big.id, "never sent")
        XCTAssertTrue(pair.deliveries(pair.clientEvents).contains { $0 === big }, "the application hears of it")
        XCTAssertNil(small.error)
        XCTAssertEqual(pair.deliveries(pair.serverEvents).map(\.payload.count), [1000])
        XCTAssertEqual(receiver.remoteState, .active, "the link stays up")
        XCTAssertEqual(sender.credit, 4)
    }

    func testReceiverSettlesSecond() {
        let pair = DriverPair()
        pair.client.connection.open()
        let cs = pair.client.connection.session()
        cs.begin()
        let sender = cs.sender(name: "l", target: "q")
        sender.receiverSettleMode = .second
        sender.attach()
        pair.pump()
        pair.server.connection.open()
        pair.server.connection.allSessions[0].begin()
        let receiver = pair.server.connection.allSessions[0].allLinks[0]
        XCTAssertEqual(receiver.remoteAttach?.rcvSettleMode, .second)
        receiver.receiverSettleMode = .second
        receiver.attach()
        receiver.flow(credit: 5)
        pair.pump()
        let sent = sender.send(Message(value: "twice"))
        pair.pump()
        // Receiver: accept, but settle only after the sender has.
        let got = pair.deliveries(pair.serverEvents)[0]
        got.update(.accepted)
        pair.pump()
        XCTAssertEqual(sent.remoteState, .accepted)
        XCTAssertFalse(sent.remotelySettled)
        sent.settle()
        pair.pump()
        XCTAssertTrue(got.remotelySettled)
        let framesBefore = pair.server.pendingOutput.count
        got.settle()
        XCTAssertEqual(pair.server.pendingOutput.count, framesBefore, "settling after the sender needs no frame")
        XCTAssertTrue(got.locallySettled)
    }

    func testSettlingAPresettledDeliverySendsNothing() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 5)
        sender.send(Message(value: .int(1)), settled: true)
        pair.pump()
        let d = pair.deliveries(pair.serverEvents)[0]
        XCTAssertTrue(d.remotelySettled)
        d.settle()
        XCTAssertTrue(pair.server.pendingOutput.isEmpty)
        XCTAssertEqual(pair.server.connection.allSessions[0].bufferedBytes, 0)
    }
}

final class HostContractTests: XCTestCase {
    func testHasEventSeesEventsPostedByWriteDone() {
        let d = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "s"))
        d.read(Array("HTTP/1.1".utf8))
        while d.nextEvent() != nil {}
        XCTAssertFalse(d.hasEvent)
        d.writeDone(d.pendingOutput.count)   // the header is out: the head closes
        XCTAssertTrue(d.hasEvent)
        while d.nextEvent() != nil {}
        XCTAssertTrue(d.isFinished)
    }
}

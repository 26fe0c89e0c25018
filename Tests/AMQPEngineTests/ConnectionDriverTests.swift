import AMQPCodec
@testable import AMQPEngine
import Synchronization
import XCTest

final class ConnectionDriverTests: XCTestCase {
    func testOpenAndCloseBothWays() {
        let pair = DriverPair()
        pair.client.connection.open()
        pair.pump()
        XCTAssertEqual(pair.server.connection.remoteState, .active)
        XCTAssertEqual(pair.server.connection.remoteOpen?.containerID, "client")
        pair.server.connection.open()
        pair.pump()
        XCTAssertEqual(pair.client.connection.remoteOpen?.containerID, "server")
        pair.client.connection.close()
        pair.pump()
        XCTAssertEqual(pair.server.connection.remoteState, .closed)
        pair.server.connection.close()
        pair.pump()
        XCTAssertTrue(pair.client.isFinished, "client finished")
        XCTAssertTrue(pair.server.isFinished, "server finished")
        XCTAssertTrue(pair.clientEvents.contains { if case .transportClosed = $0 { return true } else { return false } })
    }

    func testCloseWithErrorReachesThePeer() {
        let pair = DriverPair()
        pair.client.connection.open()
        pair.server.connection.open()
        pair.pump()
        pair.server.connection.close(AMQPError(condition: ErrorCondition.connectionForced, description: "going down"))
        pair.pump()
        XCTAssertEqual(pair.client.connection.remoteError?.condition, ErrorCondition.connectionForced)
        XCTAssertEqual(pair.client.connection.remoteError?.description, "going down")
    }

    func testTransfersSettleAndAccept() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 1000)
        XCTAssertEqual(sender.credit, 1000)
        for i in 0..<1000 {
            sender.send(Message(value: .int(Int32(i))))
        }
        pair.pump()
        let received = pair.deliveries(pair.serverEvents)
        XCTAssertEqual(received.count, 1000)
        XCTAssertEqual(try received.map { try $0.message().body }, (0..<1000).map { .value(.int(Int32($0))) })
        for d in received { d.accept() }
        pair.pump()
        let outcomes = pair.deliveries(pair.clientEvents)
        XCTAssertEqual(outcomes.count, 1000)
        XCTAssertTrue(outcomes.allSatisfy { $0.remoteState == .accepted && $0.remotelySettled })
        XCTAssertEqual(sender.credit, 0)
        XCTAssertEqual(sender.session.unsettledOutgoing.count, 0)
    }

    func testDispositionsAreBatchedIntoRanges() {
        var frames: [String] = []
        let box = LinesBox()
        var serverConfig = DriverConfiguration(containerID: "server")
        serverConfig.trace = { box.append($0) }
        let pair = DriverPair(server: serverConfig)
        let (sender, _) = pair.openLinkPair(credit: 100)
        for _ in 0..<50 { sender.send([0x00, 0x53, 0x77, 0x40]) }
        pair.pump()
        for d in pair.deliveries(pair.serverEvents) { d.accept() }
        pair.pump()
        frames = box.lines.filter { $0.hasPrefix("-> ") && $0.contains("disposition") }
        XCTAssertEqual(frames.count, 1, "one disposition covers 50 consecutive accepted deliveries: \(frames)")
        XCTAssertEqual(pair.deliveries(pair.clientEvents).count, 50)
    }

    func testEveryDispositionState() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 10)
        let states: [DeliveryState] = [
            .accepted, .released,
            .rejected(Rejected(error: AMQPError(condition: ErrorCondition.decodeError, description: "nope"))),
            .modified(Modified(deliveryFailed: true, undeliverableHere: true, messageAnnotations: [.symbol("x"): .int(1)])),
            .received(Received(sectionNumber: 2, sectionOffset: 7)),
        ]
        let sent = states.map { _ in sender.send([0x00, 0x53, 0x77, 0x40]) }
        pair.pump()
        let got = pair.deliveries(pair.serverEvents)
        for (d, s) in zip(got, states) { d.update(s, settle: s.isOutcome) }
        pair.pump()
        XCTAssertEqual(sent.map(\.remoteState), states)
    }

    func testLargeMessageSplitAtFrameSizeAndReassembled() throws {
        var c = DriverConfiguration(containerID: "client")
        c.maxFrameSize = 512
        var s = DriverConfiguration(containerID: "server")
        s.maxFrameSize = 512
        let pair = DriverPair(client: c, server: s)
        let (sender, _) = pair.openLinkPair(credit: 1)
        let body = Binary((0..<(10 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        sender.send(Message(data: body))
        pair.pump()
        let ds = pair.deliveries(pair.serverEvents)
        XCTAssertGreaterThan(ds.count, 10_000, "one delivery event per 512-byte frame")
        let last = ds.last!
        XCTAssertFalse(last.isPartial)
        XCTAssertTrue(ds.dropLast().allSatisfy { $0 === last })
        XCTAssertEqual(try last.message().body, .data([body]))
    }

    func testSessionWindowOfOneFrameThrottlesTheSender() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100, sessionWindow: nil)
        // The server session's window is what throttles the client's sender.
        let serverSession = pair.server.connection.allSessions[0]
        XCTAssertEqual(serverSession.incomingWindow, 2048)
        let pair2 = DriverPair(server: { var s = DriverConfiguration(containerID: "server"); s.sessionIncomingWindow = 1; return s }())
        let (sender2, _) = pair2.openLinkPair(credit: 100)
        for i in 0..<20 { sender2.send(Message(value: .int(Int32(i)))) }
        pair2.pump()
        let got = pair2.deliveries(pair2.serverEvents)
        XCTAssertEqual(got.count, 20, "every message arrives one frame at a time")
        XCTAssertEqual(try got.map { try $0.message().body }, (0..<20).map { .value(.int(Int32($0))) })
        _ = sender
    }

    func testTransferBeyondTheWindowEndsTheSession() {
        let pair = DriverPair()
        _ = pair.openLinkPair(credit: 10)
        // Hand-craft a transfer when the server's window is used up.
        let serverSession = pair.server.connection.allSessions[0]
        serverSession.incomingWindowLeft = 0
        let clientSession = pair.client.connection.allSessions[0]
        clientSession.remoteIncomingWindow = 10
        clientSession.links[0].send([0x00, 0x53, 0x77, 0x40])
        pair.pump()
        XCTAssertEqual(pair.client.connection.allSessions[0].remoteError?.condition, ErrorCondition.windowViolation)
    }

    func testAbortMidMessage() {
        var c = DriverConfiguration(containerID: "client")
        c.maxFrameSize = 512
        let pair = DriverPair(client: c, server: { var s = DriverConfiguration(containerID: "server"); s.maxFrameSize = 512; return s }())
        let (sender, _) = pair.openLinkPair(credit: 2)
        // Let only three frames of the message out, then abort it.
        pair.client.connection.allSessions[0].remoteIncomingWindow = 3
        let big = sender.send([UInt8](repeating: 7, count: 5000))
        pair.pump()
        XCTAssertTrue(pair.deliveries(pair.serverEvents).last?.isPartial ?? false)
        big.abort()
        pair.client.connection.allSessions[0].remoteIncomingWindow = 100
        sender.send(Message(value: "after"))
        XCTAssertTrue(big.isAborted)
        pair.pump()
        let ds = pair.deliveries(pair.serverEvents)
        XCTAssertTrue(ds.contains { $0.isAborted && $0.payload.isEmpty })
        XCTAssertEqual(try ds.last?.message().body, .value("after"))
    }

    func testDrainUsesUpCredit() {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair()
        sender.send(Message(value: .int(1)))
        receiver.flow(credit: 5, drain: true)
        pair.pump()
        XCTAssertEqual(pair.deliveries(pair.serverEvents).count, 1)
        XCTAssertEqual(sender.credit, 0)
        XCTAssertEqual(sender.deliveryCount, 5, "one sent, four drained")
        XCTAssertEqual(receiver.credit, 0)
        XCTAssertEqual(receiver.deliveryCount, 5)
    }

    func testDeliveryCountWrapsAround() {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair()
        sender.deliveryCountNumber = SerialNumber(UInt32.max - 2)
        receiver.deliveryCountNumber = SerialNumber(UInt32.max - 2)
        receiver.flow(credit: 10)
        pair.pump()
        XCTAssertEqual(sender.credit, 10)
        for i in 0..<6 { sender.send(Message(value: .int(Int32(i)))) }
        pair.pump()
        XCTAssertEqual(pair.deliveries(pair.serverEvents).count, 6)
        XCTAssertEqual(sender.deliveryCount, 3, "wrapped past 2^32")
        XCTAssertEqual(sender.credit, 4)
        receiver.flow(credit: 0)
        pair.pump()
        XCTAssertEqual(sender.credit, 4)
    }

    func testTransferIDWrapsAround() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 10)
        let cs = pair.client.connection.allSessions[0]
        let ss = pair.server.connection.allSessions[0]
        cs.nextOutgoingID = SerialNumber(UInt32.max - 1)
        ss.nextIncomingID = SerialNumber(UInt32.max - 1)
        cs.nextDeliveryID = SerialNumber(UInt32.max)
        for _ in 0..<5 { sender.send([0x00, 0x53, 0x77, 0x40]) }
        pair.pump()
        let ds = pair.deliveries(pair.serverEvents)
        XCTAssertEqual(ds.compactMap(\.id), [UInt32.max, 0, 1, 2, 3])
        for d in ds { d.accept() }
        pair.pump()
        XCTAssertEqual(cs.unsettledOutgoing.count, 0)
        XCTAssertEqual(ss.nextIncomingID, SerialNumber(3))
    }

    /// Both sides open; the server closes a peer silent for `serverIdleTimeout` ms.
    private func openPair(serverIdleTimeout: UInt32) -> DriverPair {
        let pair = DriverPair { $0.idleTimeout = serverIdleTimeout }
        pair.client.connection.open()
        pair.server.connection.open()
        pair.pump()
        return pair
    }

    func testHeartbeatsAndIdleTimeout() {
        let pair = openPair(serverIdleTimeout: 1000)
        let t0 = ContinuousClock.now
        _ = pair.server.tick(now: t0)
        // The server announces half its 1000 ms; the client sends something every 250 ms.
        XCTAssertEqual(pair.client.connection.remoteOpen?.idleTimeOut, 500)
        XCTAssertEqual(pair.client.tick(now: t0), t0.advanced(by: .milliseconds(250)))
        XCTAssertEqual(pair.client.tick(now: t0.advanced(by: .milliseconds(600))), t0.advanced(by: .milliseconds(850)))
        XCTAssertEqual(Array(pair.client.pendingOutput), [0, 0, 0, 8, 2, 0, 0, 0], "an empty frame")
        pair.pump()
        XCTAssertEqual(pair.server.tick(now: t0.advanced(by: .milliseconds(700))), t0.advanced(by: .milliseconds(1700)))
        XCTAssertEqual(pair.server.connection.localState, .active)
        // Then silence: the server closes the connection.
        _ = pair.server.tick(now: t0.advanced(by: .milliseconds(1800)))
        pair.pump()
        XCTAssertEqual(pair.server.connection.localError?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertEqual(pair.client.connection.remoteError?.condition, ErrorCondition.resourceLimitExceeded)
    }

    func testHeartbeatsKeepHalfTheIdleTimeoutApart() {
        let pair = openPair(serverIdleTimeout: 1000)
        let t0 = ContinuousClock.now
        var beats: [Int] = []
        // A host ticking every 50 ms and writing at once: its own empty frames must not delay the next.
        for ms in stride(from: 0, through: 3000, by: 50) {
            _ = pair.client.tick(now: t0.advanced(by: .milliseconds(ms)))
            let n = pair.client.pendingOutput.count
            if n == 8 { beats.append(ms) }
            pair.client.writeDone(n)
        }
        let gaps = zip(beats.dropFirst(), beats).map { $0 - $1 }
        XCTAssertGreaterThanOrEqual(beats.count, 5, "\(beats)")
        XCTAssertEqual(Set(gaps), [250], "heartbeats every 250 ms, half of the 500 ms announced: \(beats)")
    }

    func testQueuedDispositionsAndCreditGoOutBeforeClose() {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 5)
        sender.send(Message(value: "last"))
        pair.pump()
        pair.deliveries(pair.serverEvents)[0].accept()
        receiver.flow(credit: 1)
        pair.server.connection.close()
        var frames: [String] = []
        var out = Array(pair.server.pendingOutput)
        while !out.isEmpty {
            let size = Int(out[0]) << 24 | Int(out[1]) << 16 | Int(out[2]) << 8 | Int(out[3])
            if let p = try? Frame.parse(out[0..<size]).performative { frames.append(p.name) }
            out.removeFirst(size)
        }
        XCTAssertEqual(frames, ["flow", "disposition", "close"], "nothing may follow close (§2.7.9)")
    }

    func testBadHeaderGetsOurHeaderAndClose() {
        let d = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "s"))
        d.read(Array("HTTP/1.1 200".utf8))
        var events: [AMQPEvent] = []
        while let e = d.nextEvent() { events.append(e) }
        XCTAssertEqual(Array(d.pendingOutput), ProtocolHeader.amqp.bytes, "our header and nothing else")
        XCTAssertEqual(events.transportErrors, [AMQPError(condition: ErrorCondition.notImplemented,
                                                          description: "unexpected protocol header: bytes that are not an AMQP header")])
        XCTAssertFalse(d.isHeadClosed, "the header must be written before the head closes")
        d.writeDone(d.pendingOutput.count)
        while let e = d.nextEvent() { events.append(e) }
        XCTAssertTrue(d.isFinished)
    }

    func testFrameOverMaxFrameSizeClosesWithFramingError() {
        var s = DriverConfiguration(containerID: "s")
        s.maxFrameSize = 512
        let d = ConnectionDriver(mode: .server, configuration: s)
        d.read(ProtocolHeader.amqp.bytes + [0, 0, 0x10, 0, 2, 0, 0, 0])
        var errors: [AMQPError] = []
        while let e = d.nextEvent() { if case .transportError(let x) = e { errors.append(x) } }
        XCTAssertEqual(errors, [AMQPError(condition: ErrorCondition.framingError, description: "frame of 4096 bytes exceeds max-frame-size 512")])
        var out = Array(d.pendingOutput)
        XCTAssertEqual(Array(out.prefix(8)), ProtocolHeader.amqp.bytes)
        out.removeFirst(8)
        var names: [String] = []
        while out.count >= 8 {
            let size = Int(out[0]) << 24 | Int(out[1]) << 16 | Int(out[2]) << 8 | Int(out[3])
            let frame = try? Frame.parse(out[0..<size])
            names.append(frame?.performative?.name ?? "?")
            if case .close(let c)? = frame?.performative { XCTAssertEqual(c.error?.condition, ErrorCondition.framingError) }
            out.removeFirst(size)
        }
        XCTAssertEqual(names, ["open", "close"], "open and close were written")
        XCTAssertTrue(d.isTailClosed)
    }

    func testGarbageBodyClosesWithDecodeError() {
        let d = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "s"))
        d.read(ProtocolHeader.amqp.bytes + [0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0xc0])
        var errors: [AMQPError] = []
        while let e = d.nextEvent() { if case .transportError(let x) = e { errors.append(x) } }
        XCTAssertEqual(errors.map(\.condition), [ErrorCondition.decodeError])
    }

    func testPartialReadsByteByByte() throws {
        let pair = DriverPair()
        pair.chunk = 1
        let (sender, _) = pair.openLinkPair(credit: 3)
        sender.send(Message(value: "one"))
        sender.send(Message(value: "two"))
        pair.pump()
        XCTAssertEqual(try pair.deliveries(pair.serverEvents).map { try $0.message().body }, [.value("one"), .value("two")])
    }

    func testDetachAndEnd() {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 1)
        sender.close(AMQPError(condition: ErrorCondition.detachForced))
        pair.pump()
        XCTAssertEqual(receiver.remoteState, .closed)
        XCTAssertEqual(receiver.remoteError?.condition, ErrorCondition.detachForced)
        sender.session.end()
        pair.pump()
        XCTAssertEqual(pair.server.connection.allSessions[0].remoteState, .closed)
    }
}

/// Collects trace lines from the driver's @Sendable trace hook.
final class LinesBox: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func append(_ s: String) { storage.withLock { $0.append(s) } }
}

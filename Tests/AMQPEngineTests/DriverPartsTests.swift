import AMQPCodec
@testable import AMQPEngine
import XCTest

/// The driver's parts, each on its own: the output gate, the input buffer, the idle timer and
/// the SASL state machine.
final class OutputBufferTests: XCTestCase {
    func testFramesWaitForTheAMQPHeaderThenFollowIt() {
        var out = OutputBuffer()
        out.writeHeader(.sasl)
        XCTAssertTrue(out.writeAMQPFrame { $0 += [1, 2, 3] }, "held, not refused")
        XCTAssertEqual(Array(out.pending), ProtocolHeader.sasl.bytes)
        out.openAMQP()
        XCTAssertEqual(Array(out.pending), ProtocolHeader.sasl.bytes + ProtocolHeader.amqp.bytes + [1, 2, 3])
        XCTAssertEqual(out.gate, .open)
    }

    func testNothingFollowsClose() {
        var out = OutputBuffer()
        out.openAMQP()
        out.writeClose { $0 += [9] }
        XCTAssertEqual(out.gate, .closeWritten)
        XCTAssertFalse(out.writeAMQPFrame { $0 += [1] })
        out.writeClose { $0 += [2] }
        XCTAssertEqual(Array(out.pending), ProtocolHeader.amqp.bytes + [9])
    }

    func testClosingDropsEverything() {
        var out = OutputBuffer()
        out.openAMQP()
        _ = out.writeAMQPFrame { $0 += [1] }
        out.close()
        XCTAssertTrue(out.isEmpty)
        out.writeHeader(.amqp)
        XCTAssertFalse(out.writeAMQPFrame { $0 += [1] })
        XCTAssertTrue(out.isEmpty)
    }

    func testConsumedBytesAreDroppedBeforeTheNextAppend() {
        var out = OutputBuffer()
        out.openAMQP()
        out.consumed(8)
        XCTAssertTrue(out.isEmpty)
        _ = out.writeAMQPFrame { $0 += [5, 6] }
        XCTAssertEqual(Array(out.pending), [5, 6])
        out.consumed(1)
        XCTAssertEqual(Array(out.pending), [6])
    }
}

final class InputBufferTests: XCTestCase {
    func testSpaceGrowsWhenFilledAndConsumeMovesTheRest() {
        var input = InputBuffer()
        let first = input.space()
        XCTAssertEqual(first.count, InputBuffer.initialCapacity)
        for i in 0..<first.count { first[i] = UInt8(truncatingIfNeeded: i) }
        XCTAssertTrue(input.filled(first.count), "filled all it was offered")
        XCTAssertEqual(input.count, InputBuffer.initialCapacity)
        input.growAfterFullRead()
        XCTAssertEqual(input.capacity, 2 * InputBuffer.initialCapacity)
        input.consume(100)
        XCTAssertEqual(input.count, InputBuffer.initialCapacity - 100)
        XCTAssertEqual(input.bytes.first, 100)
        XCTAssertEqual(input.declaredFrameSize(at: 0), 100 << 24 | 101 << 16 | 102 << 8 | 103)
    }

    func testGreedyGrowthStopsAt64KiB() {
        var input = InputBuffer()
        while input.capacity < InputBuffer.greedyLimit { input.growAfterFullRead() }
        input.growAfterFullRead()
        XCTAssertEqual(input.capacity, InputBuffer.greedyLimit)
        input.reserve(100_000)
        XCTAssertEqual(input.capacity, 100_008, "a large frame gets room for itself")
    }
}

final class IdleTimerTests: XCTestCase {
    func testExpiryAndHeartbeatDecisions() {
        var timer = IdleTimer(localTimeout: 1000)
        timer.remoteTimeout = 400
        let t0 = ContinuousClock.now
        var d = timer.tick(now: t0, watchInput: true, mayHeartbeat: true)
        XCTAssertEqual(d, IdleTimer.Decision(expired: false, heartbeat: false, deadline: t0.advanced(by: .milliseconds(200))))
        d = timer.tick(now: t0.advanced(by: .milliseconds(200)), watchInput: true, mayHeartbeat: true)
        XCTAssertEqual(d, IdleTimer.Decision(expired: false, heartbeat: true, deadline: t0.advanced(by: .milliseconds(400))))
        d = timer.tick(now: t0.advanced(by: .milliseconds(1000)), watchInput: true, mayHeartbeat: true)
        XCTAssertTrue(d.expired)
    }

    func testInputPostponesExpiryAndNoHeartbeatWhenNotAllowed() {
        var timer = IdleTimer(localTimeout: 1000)
        timer.remoteTimeout = 400
        let t0 = ContinuousClock.now
        _ = timer.tick(now: t0, watchInput: true, mayHeartbeat: false)
        timer.inputSinceTick = true
        let d = timer.tick(now: t0.advanced(by: .milliseconds(900)), watchInput: true, mayHeartbeat: false)
        XCTAssertEqual(d, IdleTimer.Decision(expired: false, heartbeat: false, deadline: t0.advanced(by: .milliseconds(1900))))
    }
}

final class SASLNegotiationTests: XCTestCase {
    func testClientPlainExchange() {
        var sasl = SASLNegotiation()
        sasl.startClient(.plain(username: "u", password: "p"))
        XCTAssertTrue(sasl.isActive)
        guard case .send(.saslInit(let i)) = sasl.receive(.saslMechanisms(SASLMechanisms(saslServerMechanisms: ["ANONYMOUS", "PLAIN"])),
                                                         hostname: "h", server: .anonymous) else { return XCTFail("no init") }
        XCTAssertEqual(i.mechanism, "PLAIN")
        XCTAssertEqual(i.initialResponse.map { Array($0) }, [0] + Array("u".utf8) + [0] + Array("p".utf8))
        XCTAssertEqual(i.hostname, "h")
        guard case .succeed(nil) = sasl.receive(.saslOutcome(SASLOutcome(code: .ok)), hostname: nil, server: .anonymous) else { return XCTFail("no success") }
        XCTAssertTrue(sasl.hasSucceeded)
        XCTAssertEqual(sasl.outcome, .ok)
    }

    func testServerRefusesAnUnofferedMechanism() {
        var sasl = SASLNegotiation()
        let server = SASLServerConfiguration.plain { _ in true }
        _ = sasl.startServer(server)
        guard case .fail(let error, .saslOutcome(let o)?) = sasl.receive(.saslInit(SASLInit(mechanism: "X-NONE")), hostname: nil, server: server) else {
            return XCTFail("not refused")
        }
        XCTAssertEqual(o.code, .auth)
        XCTAssertEqual(error.condition, ErrorCondition.unauthorizedAccess)
        XCTAssertEqual(sasl.mechanism, "X-NONE")
        XCTAssertFalse(sasl.isActive)
    }

    func testAnOutOfTurnFrameFails() {
        var sasl = SASLNegotiation()
        sasl.startClient(.anonymous)
        guard case .fail(let error, nil) = sasl.receive(.saslOutcome(SASLOutcome(code: .ok)), hostname: nil, server: .anonymous) else {
            return XCTFail("accepted out of turn")
        }
        XCTAssertEqual(error, AMQPError(condition: ErrorCondition.illegalState, description: "unexpected sasl-outcome during SASL negotiation"))
    }
}

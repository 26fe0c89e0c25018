import AMQPCodec
import AMQPEngine
@testable import AMQPMessaging
import XCTest

/// The reconnect schedule alone, with the time and the jitter given: exact waits, URLs and reasons.
final class ReconnectScheduleTests: XCTestCase {
    private let t0 = ContinuousClock.now
    private let refused = ConnectionFacts(transportError: AMQPError(condition: "proton:io", description: "connect to 127.0.0.1:1: connection refused"))

    private func options(delay: Duration = .milliseconds(100), multiplier: Double = 2, maxDelay: Duration = .milliseconds(400),
                         _ configure: (inout ReconnectOptions) -> Void = { _ in }) -> ReconnectOptions {
        var o = ReconnectOptions()
        o.delay = delay
        o.multiplier = multiplier
        o.maxDelay = maxDelay
        o.jitter = { $0.upperBound }
        configure(&o)
        return o
    }

    /// The steps after `count` failed attempts in a row, all at `t0`.
    private func steps(_ schedule: inout ReconnectSchedule, _ count: Int, _ facts: ConnectionFacts? = nil) -> [ReconnectSchedule.Step] {
        (0..<count).map { _ in schedule.next(after: facts ?? refused, now: t0) }
    }

    func testOneURLFirstRetryAtOnceThenBackOffUpToMaxDelay() {
        var s = ReconnectSchedule(options: options(), urlCount: 1)
        XCTAssertEqual(steps(&s, 6), [
            .retry(url: 0, wait: .zero, attempt: 1),
            .retry(url: 0, wait: .milliseconds(100), attempt: 2),
            .retry(url: 0, wait: .milliseconds(200), attempt: 3),
            .retry(url: 0, wait: .milliseconds(400), attempt: 4),
            .retry(url: 0, wait: .milliseconds(400), attempt: 5),
            .retry(url: 0, wait: .milliseconds(400), attempt: 6),
        ])
    }

    func testARoundOfFailoverURLsAtOnceThenEachRoundAfterABackOff() {
        var s = ReconnectSchedule(options: options(), urlCount: 3)
        XCTAssertEqual(steps(&s, 9), [
            .retry(url: 1, wait: .zero, attempt: 1), .retry(url: 2, wait: .zero, attempt: 2), .retry(url: 0, wait: .zero, attempt: 3),
            .retry(url: 1, wait: .milliseconds(100), attempt: 4), .retry(url: 2, wait: .zero, attempt: 5), .retry(url: 0, wait: .zero, attempt: 6),
            .retry(url: 1, wait: .milliseconds(200), attempt: 7), .retry(url: 2, wait: .zero, attempt: 8), .retry(url: 0, wait: .zero, attempt: 9),
        ])
    }

    func testTheJitterPicksWithinTheRoundsBoundsAndIsClampedIntoThem() {
        let bounds = options(multiplier: 1.5, maxDelay: .seconds(1)).waitBounds
        XCTAssertEqual([1, 2, 3, 4, 5, 6, 7].map { bounds($0) }, [
            .milliseconds(100) ... .milliseconds(100), .milliseconds(100) ... .milliseconds(150),
            .milliseconds(100) ... .milliseconds(225), .milliseconds(100) ... .microseconds(337_500),
            .milliseconds(100) ... .microseconds(506_250), .milliseconds(100) ... .microseconds(759_375),
            .milliseconds(100) ... .seconds(1),
        ])
        // The default jitter: uniform within the bounds, not a constant.
        var o = options(maxDelay: .seconds(10))
        o.jitter = ReconnectOptions.uniform
        var s = ReconnectSchedule(options: o, urlCount: 1)
        _ = s.next(after: refused, now: t0)                                       // round 0: at once
        _ = (1...4).map { _ in s.next(after: refused, now: t0) }                  // rounds 1-4
        var waits: [Duration] = []
        for _ in 0..<500 {
            var copy = s                                                          // round 5 each time
            guard case .retry(_, let wait, 6) = copy.next(after: refused, now: t0) else { return XCTFail() }
            waits.append(wait)
        }
        XCTAssertGreaterThanOrEqual(waits.min()!, .milliseconds(100))
        XCTAssertLessThanOrEqual(waits.max()!, .milliseconds(1600))
        XCTAssertGreaterThan(Set(waits).count, 400, "random, not fixed")
        // A jitter that strays is clamped.
        o.jitter = { _ in .seconds(-5) }
        s = ReconnectSchedule(options: o, urlCount: 1)
        XCTAssertEqual(steps(&s, 3).last, .retry(url: 0, wait: .milliseconds(100), attempt: 3))
        o.jitter = { _ in .seconds(500) }
        s = ReconnectSchedule(options: o, urlCount: 1)
        XCTAssertEqual(steps(&s, 3).last, .retry(url: 0, wait: .milliseconds(200), attempt: 3))
    }

    func testAConnectionMadeStartsTheScheduleOverButARefusalAtOpenDoesNot() {
        var s = ReconnectSchedule(options: options(), urlCount: 1)
        _ = steps(&s, 3)
        let made = ConnectionFacts(peerOpened: true, peerBegan: true,
                                   transportError: AMQPError(condition: "amqp:connection:forced", description: "connection aborted"))
        XCTAssertEqual(s.next(after: made, now: t0), .retry(url: 0, wait: .zero, attempt: 1), "made: at once again")
        // Opened and closed at once with an error, no session: a failed attempt, the back-off goes on.
        var r = ReconnectSchedule(options: options(), urlCount: 1)
        let refusal = ConnectionFacts(peerOpened: true, peerCloseError: AMQPError(condition: "amqp:resource-limit-exceeded", description: "too many connections"))
        XCTAssertEqual(steps(&r, 4, refusal), [
            .retry(url: 0, wait: .zero, attempt: 1), .retry(url: 0, wait: .milliseconds(100), attempt: 2),
            .retry(url: 0, wait: .milliseconds(200), attempt: 3), .retry(url: 0, wait: .milliseconds(400), attempt: 4),
        ])
        // The peer closing without an error after its open: a connection that was made.
        XCTAssertEqual(r.next(after: ConnectionFacts(peerOpened: true), now: t0), .retry(url: 0, wait: .zero, attempt: 1))
    }

    func testMaxAttemptsGivesUpWithTheLastError() {
        var s = ReconnectSchedule(options: options { $0.maxAttempts = 3 }, urlCount: 1)
        XCTAssertEqual(steps(&s, 4).last, .stop(AMQPError(condition: "proton:io", description:
            "gave up after 3 reconnect attempts (maxAttempts); the last: connect to 127.0.0.1:1: connection refused")))
    }

    func testTimeoutGivesUpWhenTheNextAttemptWouldStartTooLate() {
        var s = ReconnectSchedule(options: options { $0.timeout = .milliseconds(350) }, urlCount: 1)
        XCTAssertEqual(s.next(after: refused, now: t0), .retry(url: 0, wait: .zero, attempt: 1))
        XCTAssertEqual(s.next(after: refused, now: t0 + .milliseconds(10)), .retry(url: 0, wait: .milliseconds(100), attempt: 2))
        XCTAssertEqual(s.next(after: refused, now: t0 + .milliseconds(120)), .retry(url: 0, wait: .milliseconds(200), attempt: 3),
                       "starts at 320 ms: within 350")
        XCTAssertEqual(s.next(after: refused, now: t0 + .milliseconds(330)), .stop(AMQPError(condition: "proton:io", description:
            "gave up after 3 reconnect attempts: no connection within the timeout of 0.35 seconds; the last: connect to 127.0.0.1:1: connection refused")),
                       "would start at 730 ms")
    }

    func testRefusalsThatRetryingCannotFixStopAtOnce() {
        let sasl = AMQPError(condition: ErrorCondition.unauthorizedAccess, description: "SASL authentication failed: outcome auth (mechanism PLAIN)")
        let closedUnauthorized = AMQPError(condition: ErrorCondition.unauthorizedAccess, description: "no")
        let notFound = AMQPError(condition: ErrorCondition.notFound, description: "no such virtual host")
        let cases: [(ConnectionFacts, ReconnectSchedule.Step)] = [
            (ConnectionFacts(transportError: sasl, saslOutcome: .auth), .stop(sasl)),
            (ConnectionFacts(transportError: sasl, saslOutcome: .sysPerm), .stop(sasl)),
            (ConnectionFacts(transportError: sasl, saslOutcome: .sysTemp), .retry(url: 0, wait: .zero, attempt: 1)),
            (ConnectionFacts(peerOpened: true, peerCloseError: closedUnauthorized), .stop(closedUnauthorized)),
            (ConnectionFacts(peerOpened: true, peerBegan: true, peerCloseError: closedUnauthorized), .stop(closedUnauthorized)),
            (ConnectionFacts(peerOpened: true, peerCloseError: notFound), .stop(notFound)),
            // Not at open: the peer had begun a session; and a not-found of our own engine.
            (ConnectionFacts(peerOpened: true, peerBegan: true, peerCloseError: notFound), .retry(url: 0, wait: .zero, attempt: 1)),
            (ConnectionFacts(peerOpened: true, transportError: notFound), .retry(url: 0, wait: .zero, attempt: 1)),
        ]
        for (i, (facts, expected)) in cases.enumerated() {
            var s = ReconnectSchedule(options: options(), urlCount: 1)
            XCTAssertEqual(s.next(after: facts, now: t0), expected, "case \(i)")
        }
    }
}

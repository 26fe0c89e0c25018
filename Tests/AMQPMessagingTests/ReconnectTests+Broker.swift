import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import InMemoryLogging
import Logging
import SharedFixtures
import XCTest

/// Reconnect against the project's broker (`amqp broker`, a process of its own) that is killed and
/// started again on the same port: the retries' timing, the reconnection flag, messages again.
extension ReconnectTests {
    struct Seen: Sendable {
        /// `MessagingConnection.isReconnect` at each `onConnectionOpen`.
        var opens: [Bool] = []
        /// Each transport error: when, and its condition.
        var errors: [(at: ContinuousClock.Instant, condition: String)] = []
        var received: [String] = []
        var stopped: [String] = []
        var closed = false
    }

    /// On each connection: a receiver and a sender on queue `q`, and `perConnection` messages
    /// "<connection>-<n>" through the broker and back.
    final class BrokerClient: MessagingHandler {
        let seen: LockedValue<Seen>
        let perConnection: Int
        private var connection = 0, sent = 0
        init(_ seen: LockedValue<Seen>, perConnection: Int) { self.seen = seen; self.perConnection = perConnection }
        func onConnectionOpen(_ c: MessagingConnection) {
            connection += 1
            sent = 0
            seen.withLock { $0.opens.append(c.isReconnect) }
            c.openReceiver("q")
            c.openSender("q")
        }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            while sender.credit > 0 && sent < perConnection {
                sender.send(Message(value: .string("\(connection)-\(sent)")))
                sent += 1
            }
        }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            if case .value(.string(let s))? = m.body { seen.withLock { $0.received.append(s) } }
        }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            let now = ContinuousClock.now
            seen.withLock { $0.errors.append((now, e.condition.rawValue)) }
        }
        func onReconnectStopped(_ c: MessagingConnection, _ e: AMQPError) { seen.withLock { $0.stopped.append("\(e)") } }
        func onTransportClose(_ c: MessagingConnection) {
            seen.withLock { $0.closed = true }
            c.container.stop()
        }
    }

    private func startBroker(_ port: UInt16) throws -> BuiltProgram {
        let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", "epoll"])
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker listens on \(port)")
        return broker
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) {
        let deadline = ContinuousClock.now + timeout
        while !condition() && ContinuousClock.now < deadline { usleep(1_000) }
        XCTAssertTrue(condition(), "timed out waiting for \(what)")
    }

    /// The "reconnecting" records of the log: (attempt, URL, wait) each.
    private func reconnects(_ logs: InMemoryLogHandler) -> [(attempt: String, url: String, wait: String)] {
        logs.entries.filter { $0.message.description == "reconnecting" }.map {
            ($0.metadata["amqp.attempt"]?.description ?? "", $0.metadata["amqp.url"]?.description ?? "", $0.metadata["amqp.delay"]?.description ?? "")
        }
    }

    /// Runs `container` on a thread; the result tells whether run() has returned.
    private func runInBackground(_ container: Container) -> LockedValue<Bool> {
        let finished = LockedValue(false)
        Thread { try? container.run(threads: 2); finished.withLock { $0 = true } }.start()
        return finished
    }

    /// One URL and a fixed jitter (the upper bound): the waits are exactly 0, 200, 400, 800, 800 ms.
    func testABrokerStoppedAndStartedAgainRetriesAtOnceThenBacksOff() throws {
        let port = ProtonArrow.freePort()
        let first = try startBroker(port)
        let logs = InMemoryLogHandler()
        let container = try Container(id: "broker-client", observability: ContainerObservability(logger: Logger(label: "test") { _ in logs }))
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.delay = .milliseconds(200)
        reconnect.multiplier = 2
        reconnect.maxDelay = .milliseconds(800)
        reconnect.jitter = { $0.upperBound }
        options.reconnect = reconnect
        let seen = LockedValue(Seen())
        let queue = try container.connect("amqp://127.0.0.1:\(port)", options: options, handler: BrokerClient(seen, perConnection: 20))
        container.schedule(after: .seconds(60)) { container.stop() }   // watchdog
        let finished = runInBackground(container)

        waitUntil("20 messages through the first broker") { seen.withLock { $0.received.count } == 20 }
        kill(first.process.processIdentifier, SIGKILL)
        _ = first.finish()
        // The drop, then attempts at 0, 200, 600 and 1400 ms, each refused; the next comes 800 ms later.
        waitUntil("the drop and four refused attempts") { seen.withLock { $0.errors.count } == 5 }
        let second = try startBroker(port)
        defer { second.terminate(); _ = second.finish() }
        waitUntil("20 messages through the second broker") { seen.withLock { $0.received.count } == 40 }
        XCTAssertTrue(queue.add { c in c.close() })
        waitUntil("run() to return") { finished.withLock { $0 } }

        let s = seen.withLock { $0 }
        XCTAssertEqual(s.opens, [false, true], "the second open is a reconnection, and says so")
        XCTAssertEqual(s.received, (0..<20).map { "1-\($0)" } + (0..<20).map { "2-\($0)" }, "messages flow again")
        XCTAssertEqual(s.stopped, [])
        XCTAssertTrue(s.closed)
        XCTAssertTrue(["amqp:connection:forced", "proton:io"].contains(s.errors[0].condition), "the drop: \(s.errors[0].condition)")
        XCTAssertEqual(Set(s.errors.dropFirst().map(\.condition)), ["proton:io"], "refused connects")

        let r = reconnects(logs)
        XCTAssertGreaterThanOrEqual(r.count, 5)
        XCTAssertEqual(r.map(\.attempt), (1...r.count).map { "\($0)" })
        XCTAssertEqual(Set(r.map(\.url)), ["amqp://127.0.0.1:\(port)"])
        let waits: [Duration] = [.zero, .milliseconds(200), .milliseconds(400), .milliseconds(800)] + Array(repeating: .milliseconds(800), count: r.count - 4)
        XCTAssertEqual(r.map(\.wait), waits.map { "\($0)" })
        // Each attempt starts its wait after the error before it is reported, so a gap is never
        // shorter than the wait; the slack above it is for a loaded machine.
        let gaps = zip(s.errors.dropFirst(), s.errors).map { $0.at - $1.at }
        XCTAssertLessThan(gaps[0], .milliseconds(150), "the first retry at once: \(gaps[0])")
        for (gap, wait) in zip(gaps.dropFirst(), waits.dropFirst()) {
            XCTAssertGreaterThanOrEqual(gap, wait)
            XCTAssertLessThan(gap, wait + .milliseconds(500), "waited \(gap) for \(wait)")
        }
    }

    /// A failover URL where nobody listens, and the default (random) jitter: each round tries the
    /// dead URL after a back-off within its bounds and the broker's at once, until the broker is back.
    func testAFailoverRoundAtOnceThenJitteredBackOffUntilTheBrokerIsBack() throws {
        let port = ProtonArrow.freePort(), dead = ProtonArrow.freePort()
        let first = try startBroker(port)
        let logs = InMemoryLogHandler()
        let container = try Container(id: "failover-client", observability: ContainerObservability(logger: Logger(label: "test") { _ in logs }))
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.delay = .milliseconds(100)
        reconnect.maxDelay = .milliseconds(400)
        reconnect.failoverURLs = ["amqp://127.0.0.1:\(dead)"]
        options.reconnect = reconnect
        let seen = LockedValue(Seen())
        let queue = try container.connect("amqp://127.0.0.1:\(port)", options: options, handler: BrokerClient(seen, perConnection: 10))
        container.schedule(after: .seconds(60)) { container.stop() }   // watchdog
        let finished = runInBackground(container)

        waitUntil("10 messages through the first broker") { seen.withLock { $0.received.count } == 10 }
        kill(first.process.processIdentifier, SIGKILL)
        _ = first.finish()
        waitUntil("the drop and four rounds refused") { seen.withLock { $0.errors.count } == 9 }
        let second = try startBroker(port)
        defer { second.terminate(); _ = second.finish() }
        waitUntil("10 messages through the second broker") { seen.withLock { $0.received.count } == 20 }
        XCTAssertTrue(queue.add { c in c.close() })
        waitUntil("run() to return") { finished.withLock { $0 } }

        let s = seen.withLock { $0 }
        XCTAssertEqual(s.opens, [false, true])
        XCTAssertEqual(s.received, (0..<10).map { "1-\($0)" } + (0..<10).map { "2-\($0)" })
        let r = reconnects(logs)
        XCTAssertGreaterThanOrEqual(r.count, 9)
        XCTAssertEqual(r.map(\.url), (0..<r.count).map { $0 % 2 == 0 ? "amqp://127.0.0.1:\(dead)" : "amqp://127.0.0.1:\(port)" },
                       "the failover first, then the broker's own URL, in turn")
        // Waits as the log says them ("0.123 seconds"); the broker's URL is tried at once after the dead one.
        let waits = r.map { Duration.milliseconds(Int64((Double($0.wait.split(separator: " ")[0]) ?? -1) * 1000)) }
        for (i, wait) in waits.enumerated() {
            let round = i / 2
            if i % 2 == 1 || round == 0 {
                XCTAssertEqual(wait, .zero, "attempt \(i + 1)")
            } else {
                let high = min(.milliseconds(400), .milliseconds(100) * (1 << (round - 1)))
                XCTAssertTrue(wait >= .milliseconds(100) && wait <= high, "attempt \(i + 1) waited \(wait), outside 0.1...\(high)")
            }
        }
        XCTAssertGreaterThan(Set(waits.enumerated().filter { $0.offset % 2 == 0 && $0.offset >= 4 }.map(\.element)).count, 1,
                             "jitter: the backed-off waits differ")
        let gaps = zip(s.errors.dropFirst(), s.errors).map { $0.at - $1.at }
        for (i, gap) in gaps.enumerated() where i < waits.count {
            XCTAssertGreaterThanOrEqual(gap, waits[i] - .milliseconds(1), "attempt \(i + 1)")   // the log rounds to the millisecond here
            XCTAssertLessThan(gap, waits[i] + .milliseconds(500), "attempt \(i + 1)")
        }
    }
}

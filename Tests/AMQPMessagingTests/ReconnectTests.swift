import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// Reconnect loses nothing it promised: the peer (Proton C's arrow) is killed mid-stream and a new
/// one started on the same port; every message is accepted in the end, or was reported failed and
/// sent again.
final class ReconnectTests: XCTestCase {
    struct Progress: Sendable {
        var accepted = Set<Int>()
        var failed = 0
        var opens = 0
        var transportErrors = 0
        var closed = false
    }

    /// Sends messages 0..<total, each with its number as SendTime; resends what is reported failed.
    final class ResendingSender: MessagingHandler {
        let total: Int
        let progress: LockedValue<Progress>
        private var pending: [Int]
        private var inFlight: [ObjectIdentifier: Int] = [:]
        private var sender: Link?
        init(total: Int, progress: LockedValue<Progress>) {
            self.total = total
            self.progress = progress
            pending = Array(0..<total)
        }
        func onConnectionOpen(_ c: MessagingConnection) {
            progress.withLock { $0.opens += 1 }
            sender = c.openSender("q")
        }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            while sender.credit > 0, !pending.isEmpty {
                let n = pending.removeFirst()
                var m = Message(value: .string("message \(n)"))
                m.applicationProperties = ["SendTime": .long(Int64(n))]
                inFlight[ObjectIdentifier(sender.send(m))] = n
            }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) {
            guard let n = inFlight.removeValue(forKey: ObjectIdentifier(tracker)) else { return }
            let done = progress.withLock { p in p.accepted.insert(n); return p.accepted.count == total }
            if done { c.close() }
        }
        func onTrackerFail(_ c: MessagingConnection, _ tracker: Delivery, _ error: AMQPError) {
            guard let n = inFlight.removeValue(forKey: ObjectIdentifier(tracker)) else { return }
            progress.withLock { $0.failed += 1 }
            pending.append(n)
        }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { progress.withLock { $0.transportErrors += 1 } }
        func onTransportClose(_ c: MessagingConnection) {
            progress.withLock { $0.closed = true }
            c.container.stop()
        }
    }

    private func arrow(_ port: UInt16) throws -> ProtonArrow.Running {
        try ProtonArrow.Running(["connection-mode=server", "operation=receive", "host=127.0.0.1", "port=\(port)",
                                 "path=q", "count=1000000", "credit-window=200"])
    }

    func testAPeerKilledMidStreamLosesNothing() throws {
        let port = ProtonArrow.freePort()
        let total = 20_000
        let first = try arrow(port)
        XCTAssertTrue(ProtonArrow.waitForListener(port: port))
        let progress = LockedValue(Progress())
        let container = try Container(id: "reconnecting")
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.delay = .milliseconds(20)
        reconnect.maxDelay = .milliseconds(200)
        options.reconnect = reconnect
        try container.connect("amqp://127.0.0.1:\(port)", options: options, handler: ResendingSender(total: total, progress: progress))
        container.schedule(after: .seconds(90)) { container.stop() }   // watchdog

        let finished = LockedValue(false)
        let runner = Thread {
            try? container.run(threads: 2)
            finished.withLock { $0 = true }
        }
        runner.start()
        func waitUntil(_ condition: () -> Bool) {
            let deadline = ContinuousClock.now + .seconds(90)
            while !condition() && ContinuousClock.now < deadline { usleep(1_000) }
        }
        waitUntil { progress.withLock { $0.accepted.count } >= 3_000 }
        kill(first.process.processIdentifier, SIGKILL)   // mid-stream, with messages in flight
        usleep(300_000)
        let second = try arrow(port)
        defer { second.kill() }
        waitUntil { finished.withLock { $0 } }

        let p = progress.withLock { $0 }
        XCTAssertTrue(p.closed, "the sender finished and closed (not the watchdog)")
        XCTAssertEqual(p.accepted, Set(0..<total), "every message was accepted in the end")
        XCTAssertGreaterThanOrEqual(p.opens, 2, "it reconnected")
        XCTAssertGreaterThanOrEqual(p.transportErrors, 1, "the drop was reported")
        XCTAssertGreaterThan(p.failed, 0, "messages in flight at the kill were reported failed, then resent")

        // What the two peers received together covers every message: nothing was dropped silently.
        let firstLines = first.finish().lines
        second.kill()
        let secondLines = second.finish().lines
        let seen = Set((firstLines + secondLines).compactMap { $0.split(separator: ",").first.flatMap { Int($0) } })
        XCTAssertTrue(Set(0..<total).isSubset(of: seen), "\(Set(0..<total).subtracting(seen).count) messages never reached a peer")
        XCTAssertGreaterThan(secondLines.count, 0)
    }

    func testFailoverURLsAreTriedInTurn() throws {
        let dead = ProtonArrow.freePort()   // nobody listens here
        let port = ProtonArrow.freePort()
        let peer = try arrow(port)
        defer { peer.kill() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port))
        let progress = LockedValue(Progress())
        let container = try Container(id: "failover")
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.failoverURLs = ["amqp://127.0.0.1:\(port)"]
        options.reconnect = reconnect
        try container.connect("amqp://127.0.0.1:\(dead)", options: options, handler: ResendingSender(total: 100, progress: progress))
        container.schedule(after: .seconds(30)) { container.stop() }
        try container.run()
        let p = progress.withLock { $0 }
        XCTAssertEqual(p.accepted, Set(0..<100), "sent through the failover URL")
        XCTAssertEqual(p.opens, 1)
        XCTAssertEqual(p.transportErrors, 1, "the dead URL, once")
        XCTAssertTrue(p.closed)
    }

    func testGivesUpAfterMaxAttempts() throws {
        let dead = ProtonArrow.freePort()
        let progress = LockedValue(Progress())
        let container = try Container(id: "give-up")
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.maxAttempts = 3
        reconnect.delay = .milliseconds(5)
        options.reconnect = reconnect
        try container.connect("amqp://127.0.0.1:\(dead)", options: options, handler: ResendingSender(total: 10, progress: progress))
        container.schedule(after: .seconds(30)) { container.stop() }
        try container.run()
        let p = progress.withLock { $0 }
        XCTAssertEqual(p.transportErrors, 4, "the first try and 3 more")
        XCTAssertTrue(p.closed, "then the transport closes for good")
        XCTAssertEqual(p.opens, 0)
    }
}

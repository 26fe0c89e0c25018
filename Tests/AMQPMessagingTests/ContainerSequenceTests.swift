import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import XCTest

/// The sequence guarantee: one connection's handler calls and work never run at once, with many
/// connections, several threads, and work and wakes arriving from outside threads. Run under the
/// thread sanitizer in CI (Scripts/test.sh): an overlap is a data race on `inside` as well as a
/// counted violation.
final class ContainerSequenceTests: XCTestCase {
    struct Totals: Sendable {
        var violations = 0
        var received = 0
        var wakes = 0
        var work = 0
    }

    final class Sequenced: MessagingHandler {
        let totals: LockedValue<Totals>
        let isClient: Bool
        private var inside = false   // deliberately unsynchronized: the container must serialize us
        private var sender: Link?
        private var queued = 0
        init(_ totals: LockedValue<Totals>, isClient: Bool) { self.totals = totals; self.isClient = isClient }

        /// Marks a call; an overlapping one on another thread is a violation (and a race).
        func step(_ body: () -> Void = {}) {
            if inside { totals.withLock { $0.violations += 1 } }
            inside = true
            body()
            inside = false
        }

        func sendOne(_ c: MessagingConnection) {
            step {
                queued += 1
                flush()
                totals.withLock { $0.work += 1 }
            }
        }
        private func flush() {
            guard let s = sender else { return }
            while queued > 0 && s.credit > 0 {
                s.send(Message(value: .string("work")))
                queued -= 1
            }
        }
        func onConnectionOpen(_ c: MessagingConnection) { step { if isClient { sender = c.openSender("q") } } }
        func onSendable(_ c: MessagingConnection, _ sender: Link) { step { flush() } }
        func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
            step { totals.withLock { $0.received += 1 } }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) { step() }
        func onConnectionWake(_ c: MessagingConnection) { step { totals.withLock { $0.wakes += 1 } } }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { step() }
    }

    func testOneConnectionsCallsNeverOverlap() throws {
        let connections = 8, perThread = 150, outsideThreads = 2
        let totals = LockedValue(Totals())
        let container = try Container(id: "sequence")
        let listener = try container.listen("amqp://127.0.0.1:0") { Sequenced(totals, isClient: false) }
        let url = "amqp://127.0.0.1:\(try XCTUnwrap(listener.port))"
        let queues = try (0..<connections).map { _ in try container.connect(url, handler: Sequenced(totals, isClient: true)) }
        container.schedule(after: .seconds(120)) { container.stop() }   // watchdog

        let expected = connections * perThread * outsideThreads
        let feeders = (0..<outsideThreads).map { _ in
            Thread {
                for _ in 0..<perThread {
                    for q in queues {
                        q.add { c in (c.handler as? Sequenced)?.sendOne(c) }
                        q.wake()
                    }
                }
            }
        }
        let stopper = Thread {
            let deadline = ContinuousClock.now + .seconds(100)
            while totals.withLock({ $0.received }) < expected && ContinuousClock.now < deadline { usleep(5_000) }
            container.stop()
        }
        feeders.forEach { $0.start() }
        stopper.start()
        try container.run(threads: 4)

        let t = totals.withLock { $0 }
        XCTAssertEqual(t.violations, 0, "a connection's handler ran on two threads at once")
        XCTAssertEqual(t.work, expected, "every piece of work ran once")
        XCTAssertEqual(t.received, expected, "every message sent from work arrived")
        XCTAssertGreaterThan(t.wakes, 0)
        XCTAssertLessThanOrEqual(t.wakes, expected, "wakes coalesce, never multiply")
    }
}

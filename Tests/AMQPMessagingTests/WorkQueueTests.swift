import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import XCTest

/// Work queues and scheduled work, on a connection from a container to its own listener.
final class WorkQueueTests: XCTestCase {
    /// Records when its connection is open and closed.
    final class Tracking: MessagingHandler {
        let opened: LockedValue<Bool>, closed: LockedValue<Bool>
        init(opened: LockedValue<Bool>, closed: LockedValue<Bool>) { self.opened = opened; self.closed = closed }
        func onConnectionOpen(_ c: MessagingConnection) { opened.withLock { $0 = true } }
        func onTransportClose(_ c: MessagingConnection) { closed.withLock { $0 = true } }
    }
    final class Quiet: MessagingHandler {}

    /// Runs `container` on a thread of its own; the returned closure stops it and waits.
    private func runInBackground(_ container: Container, threads: Int = 2) -> () -> Void {
        let done = ConditionLock()
        let finished = LockedValue(false)
        let thread = Thread {
            try? container.run(threads: threads)
            finished.withLock { $0 = true }
            done.lock(); done.broadcast(); done.unlock()
        }
        thread.start()
        return {
            container.stop()
            done.lock()
            while !finished.withLock({ $0 }) { _ = done.wait(until: ContinuousClock.now + .seconds(1)) }
            done.unlock()
        }
    }

    private func waitFor(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) {
        let deadline = ContinuousClock.now + timeout
        while !condition() && ContinuousClock.now < deadline { usleep(2_000) }
        XCTAssertTrue(condition(), "timed out waiting for \(what)")
    }

    func testWorkRunsInOrderOnceAndNotAfterTheConnectionIsGone() throws {
        let container = try Container(id: "work")
        let listener = try container.listen("amqp://127.0.0.1:0") { Quiet() }
        let opened = LockedValue(false), closed = LockedValue(false)
        let queue = try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))",
                                          handler: Tracking(opened: opened, closed: closed))
        let stop = runInBackground(container)
        defer { stop() }
        waitFor("the connection to open") { opened.withLock { $0 } }

        let ran = LockedValue<[Int]>([])
        for i in 0..<100 { XCTAssertTrue(queue.add { _ in ran.withLock { $0.append(i) } }) }
        // Scheduled: due last, due first, due at the same time as the first: order by deadline, then by call.
        XCTAssertTrue(queue.schedule(after: .milliseconds(150)) { _ in ran.withLock { $0.append(1002) } })
        XCTAssertTrue(queue.schedule(after: .milliseconds(50)) { _ in ran.withLock { $0.append(1000) } })
        XCTAssertTrue(queue.schedule(after: .milliseconds(50)) { _ in ran.withLock { $0.append(1001) } })
        waitFor("the scheduled work") { ran.withLock { $0.count } == 103 }
        usleep(200_000)
        XCTAssertEqual(ran.withLock { $0 }, Array(0..<100) + [1000, 1001, 1002], "each once, in order")

        XCTAssertTrue(queue.add { c in c.close() })
        waitFor("the connection to close") { closed.withLock { $0 } }
        XCTAssertFalse(queue.isOpen)
        let late = LockedValue(false)
        XCTAssertFalse(queue.add { _ in late.withLock { $0 = true } }, "no work is taken once the connection is gone")
        XCTAssertFalse(queue.schedule(after: .milliseconds(1)) { _ in late.withLock { $0 = true } })
        XCTAssertFalse(queue.wake())
        usleep(50_000)
        XCTAssertFalse(late.withLock { $0 }, "and none runs")
    }

    func testWorkAddedBeforeTheConnectionRunsRunsFirst() throws {
        let container = try Container(id: "early")
        let listener = try container.listen("amqp://127.0.0.1:0") { Quiet() }
        let opened = LockedValue(false), closed = LockedValue(false)
        let queue = try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))",
                                          handler: Tracking(opened: opened, closed: closed))
        let states = LockedValue<[EndpointState]>([])
        // Queued before run(): it runs in the connection's first batch, before the peer's open.
        XCTAssertTrue(queue.add { c in states.withLock { $0.append(c.connection.remoteState) } })
        let stop = runInBackground(container)
        defer { stop() }
        waitFor("the connection to open") { opened.withLock { $0 } }
        XCTAssertEqual(states.withLock { $0 }, [.uninitialized])
    }

    func testAPeerThatNeverAnswersOurOpenIsGivenUpOn() throws {
        // A listening socket that accepts nothing: the TCP connect succeeds, the AMQP open is never answered.
        let silent = try Socket.open(.ipv4)
        try silent.bind(to: SocketAddress.resolve(host: "127.0.0.1", port: "0", passive: true)[0])
        try silent.listen(backlog: 4)
        let port = try XCTUnwrap(silent.localAddress().port)
        defer { try? silent.close() }

        final class Errors: MessagingHandler {
            let errors: LockedValue<[String]>
            init(_ errors: LockedValue<[String]>) { self.errors = errors }
            func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { errors.withLock { $0.append("\(error.condition.rawValue)") } }
            func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
        }
        let errors = LockedValue<[String]>([])
        let container = try Container(id: "impatient")
        var options = ConnectionOptions()
        options.openTimeout = .milliseconds(200)
        options.saslMechanisms = []
        try container.connect("amqp://127.0.0.1:\(port)", options: options, handler: Errors(errors))
        let start = ContinuousClock.now
        try container.run()
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(errors.withLock { $0 }, ["amqp:resource-limit-exceeded"])
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(200))
        XCTAssertLessThan(elapsed, .seconds(10))
    }
}

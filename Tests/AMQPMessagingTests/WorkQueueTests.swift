import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
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

    // MARK: the window at close: add returns true only for work that runs

    /// Runs `body` on a thread of its own and waits for it: a call from outside the connection's
    /// sequence, made at a known moment of it.
    private static func onOtherThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let result = LockedValue<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread { result.withLock { $0 = body() }; done.signal() }.start()
        done.wait()
        return result.withLock { $0! }
    }

    /// Adds work from another thread in `onTransportError` and in `onTransportClose`; logs what
    /// happens in order.
    final class AddsWhileClosing: MessagingHandler {
        let log: LockedValue<[String]>
        let added: LockedValue<[String: Bool]>
        let add: @Sendable (String, WorkQueue) -> Bool
        init(log: LockedValue<[String]>, added: LockedValue<[String: Bool]>, add: @escaping @Sendable (String, WorkQueue) -> Bool) {
            self.log = log; self.added = added; self.add = add
        }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) {
            let n = log.withLock { l in l.append("error"); return l.filter { $0 == "error" }.count }
            let name = "work \(n)", queue = c.workQueue, add = self.add
            added.withLock { $0[name] = add(name, queue) }
        }
        func onTransportClose(_ c: MessagingConnection) {
            log.withLock { $0.append("close") }
            let queue = c.workQueue, add = self.add
            added.withLock { $0["late"] = add("late", queue) }
            c.container.stop()
        }
    }

    /// The connection fails at once (nobody listens): its last batch holds the transport error
    /// and the close. Work added from another thread during `onTransportError` was taken (true)
    /// and must run before `onTransportClose`; work added during `onTransportClose` is refused.
    func testWorkAddedAsTheTransportClosesRunsBeforeTheCloseAndLaterWorkIsRefused() throws {
        let log = LockedValue<[String]>([]), added = LockedValue<[String: Bool]>([:])
        let handler = AddsWhileClosing(log: log, added: added) { name, queue in
            Self.onOtherThread { queue.add { c in log.withLock { $0.append(c.isTransportClosed ? "\(name) (transport closed)" : name) } } }
        }
        let container = try Container(id: "closing")
        var options = ConnectionOptions()
        options.saslMechanisms = []
        let queue = try container.connect("amqp://127.0.0.1:\(ProtonArrow.freePort())", options: options, handler: handler)
        container.schedule(after: .seconds(30)) { container.stop() }   // watchdog
        try container.run(threads: 2)

        XCTAssertEqual(added.withLock { $0 }, ["work 1": true, "late": false])
        XCTAssertEqual(log.withLock { $0 }, ["error", "work 1 (transport closed)", "close"], "taken work runs, before the close")
        XCTAssertFalse(queue.isOpen)
        XCTAssertFalse(queue.add { _ in log.withLock { $0.append("after") } })
    }

    /// Reconnect stopped by the container between two attempts: no batch of the connection will
    /// come, yet the work taken during the wait runs, then `onTransportClose`.
    func testWorkAddedWhileWaitingToReconnectRunsWhenTheContainerStops() throws {
        let log = LockedValue<[String]>([]), added = LockedValue<[String: Bool]>([:])
        // The work of each drop is added by the test below, not by the handler.
        let handler = AddsWhileClosing(log: log, added: added) { _, _ in true }
        let container = try Container(id: "waiting")
        var options = ConnectionOptions()
        options.saslMechanisms = []
        var reconnect = ReconnectOptions()
        reconnect.delay = .seconds(20)   // the first retry is at once, the next one after 20 s
        reconnect.maxDelay = .seconds(20)
        options.reconnect = reconnect
        let queue = try container.connect("amqp://127.0.0.1:\(ProtonArrow.freePort())", options: options, handler: handler)
        let finished = LockedValue(false)
        Thread { try? container.run(threads: 2); finished.withLock { $0 = true } }.start()
        // The first retry is at once and fails too; then comes the 20 s wait. Whether stop() below
        // comes before or after the second batch schedules that wait, the connection ends the same.
        waitFor("the first try and the first retry to fail") { log.withLock { $0 }.count == 2 }

        let ran = LockedValue(0)
        XCTAssertTrue(queue.add { c in
            ran.withLock { $0 += 1 }
            // The work may use the connection as usual: nothing reaches the peer, nothing fails.
            c.openSender("q").send(Message(value: "lost, as the work can tell"))
            log.withLock { $0.append(c.isTransportClosed ? "work (transport closed)" : "work") }
        })
        XCTAssertTrue(queue.isOpen)
        let start = ContinuousClock.now
        container.stop()
        waitFor("run() to return") { finished.withLock { $0 } }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "stop() does not wait for the 20 s back-off")
        XCTAssertEqual(ran.withLock { $0 }, 1)
        XCTAssertEqual(log.withLock { $0 }, ["error", "error", "work (transport closed)", "close"], "the first retry at once, then the wait")
        XCTAssertFalse(queue.isOpen)
        XCTAssertFalse(queue.add { _ in ran.withLock { $0 += 1 } })
    }
}

import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// The broker with real clients: Qpid Proton C's arrows sending to and receiving from its queues.
final class BrokerInteropTests: XCTestCase {
    /// A broker on a 2-thread container, listening on a free port, run until `body` returns.
    private func withBroker(queueLimit: Int = 10_000, _ body: (Broker, UInt16) throws -> Void) throws {
        let broker = Broker(queueLimit: queueLimit)
        let container = try Container(id: "broker")
        let listener = try container.listen("amqp://127.0.0.1:0") { broker.handler() }
        let port = try XCTUnwrap(listener.port)
        let finished = ConditionLock()
        let done = LockedValue(false)
        let runner = Thread {
            try? container.run(threads: 2)
            done.withLock { $0 = true }
            finished.lock(); finished.broadcast(); finished.unlock()
        }
        runner.start()
        defer {
            container.stop()
            finished.lock()
            while !done.withLock({ $0 }) { _ = finished.wait(until: ContinuousClock.now + .seconds(1)) }
            finished.unlock()
        }
        try body(broker, port)
    }

    private func arrow(_ operation: String, port: UInt16, queue: String, count: Int) throws -> ProtonArrow.Running {
        try ProtonArrow.Running(["connection-mode=client", "operation=\(operation)", "host=127.0.0.1", "port=\(port)",
                                 "path=\(queue)", "count=\(count)", "body-size=100", "credit-window=100"])
    }

    func testMessagesFromOneProtonClientReachAnother() throws {
        try withBroker { broker, port in
            let total = 5000
            let sender = try arrow("send", port: port, queue: "orders", count: total)
            let receiver = try arrow("receive", port: port, queue: "orders", count: total)
            let (ss, sl) = sender.finish()
            let (rs, rl) = receiver.finish()
            XCTAssertEqual(ss, 0, "the sending arrow failed")
            XCTAssertEqual(rs, 0, "the receiving arrow failed")
            XCTAssertEqual(sl.count, total, "every message sent was settled")
            XCTAssertEqual(rl.count, total, "every message arrived")
            XCTAssertEqual(broker.depth(of: "orders"), 0, "nothing left over, nothing duplicated")
            XCTAssertEqual(broker.queueNames, ["orders"])
        }
    }

    func testAFullQueueWithholdsCreditUntilAConsumerComes() throws {
        try withBroker(queueLimit: 300) { broker, port in
            let total = 1000
            let sender = try arrow("send", port: port, queue: "slow", count: total)
            // No consumer yet: the sender fills the queue to its limit and then gets no credit.
            let deadline = ContinuousClock.now + .seconds(20)
            while broker.depth(of: "slow") < 300 && ContinuousClock.now < deadline { usleep(10_000) }
            usleep(300_000)
            XCTAssertEqual(broker.depth(of: "slow"), 300, "the queue holds its limit and no more")
            XCTAssertTrue(sender.process.isRunning, "the sender waits for credit")
            let receiver = try arrow("receive", port: port, queue: "slow", count: total)
            XCTAssertEqual(receiver.finish().status, 0)
            let (status, lines) = sender.finish()
            XCTAssertEqual(status, 0)
            XCTAssertEqual(lines.count, total)
            XCTAssertEqual(broker.depth(of: "slow"), 0)
        }
    }

    func testFortyConcurrentProtonClientsOnTwentyQueues() throws {
        try withBroker { broker, port in
            let perClient = 500
            let queues = (0..<20).map { "q\($0)" }
            var clients: [ProtonArrow.Running] = []
            for q in queues {
                clients.append(try arrow("send", port: port, queue: q, count: perClient))
                clients.append(try arrow("receive", port: port, queue: q, count: perClient))
            }
            for (i, client) in clients.enumerated() {
                let (status, lines) = client.finish()
                XCTAssertEqual(status, 0, "client \(i) failed")
                XCTAssertEqual(lines.count, perClient, "client \(i)")
            }
            for q in queues { XCTAssertEqual(broker.depth(of: q), 0, q) }
            XCTAssertEqual(broker.queueNames, queues.sorted())
        }
    }
}

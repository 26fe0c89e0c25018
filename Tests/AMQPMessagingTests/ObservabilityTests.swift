import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import InMemoryLogging
import Logging
import MetricsTestKit
import XCTest

/// The container's log records and metrics, with a logger and a metrics factory of the test's own.
final class ObservabilityTests: XCTestCase {
    /// Sends 10 messages; the server rejects the fourth and accepts the others.
    final class Sender: MessagingHandler {
        var sent = 0, outcomes = 0
        func onConnectionOpen(_ c: MessagingConnection) { c.openSender("q") }
        func onSendable(_ c: MessagingConnection, _ s: Link) {
            while s.credit > 0 && sent < 10 {
                s.send(Message(value: .long(Int64(sent))))
                sent += 1
            }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) { count(c) }
        func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) { count(c) }
        private func count(_ c: MessagingConnection) {
            outcomes += 1
            if outcomes == 10 { c.close(AMQPError(condition: "test:done", description: "all sent")) }
        }
        func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    }
    final class Server: MessagingHandler {
        func onConnectionOpen(_ c: MessagingConnection) {
            var o = ReceiverOptions()
            o.autoAccept = false
            c.incomingReceiverOptions = o
        }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            if case .value(.long(3))? = m.body {
                d.update(.rejected(Rejected(error: AMQPError(condition: "test:three"))), settle: true)
            } else {
                d.accept()
            }
        }
    }

    func testLogRecordsAndMetrics() throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in logs })
        logger.logLevel = .trace
        let metrics = TestMetrics()
        let container = try Container(id: "observed", observability: ContainerObservability(logger: logger, metricsFactory: metrics))
        let listener = try container.listen("amqp://127.0.0.1:0") { Server() }
        try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))/q", handler: Sender())
        container.schedule(after: .seconds(30)) { container.stop() }
        try container.run(threads: 2)

        let dims = [("container", "observed")]
        XCTAssertEqual(try metrics.expectCounter("amqp_messages_sent", dims).totalValue, 10)
        XCTAssertEqual(try metrics.expectCounter("amqp_messages_received", dims).totalValue, 10)
        XCTAssertEqual(try metrics.expectCounter("amqp_messages_settled", dims).totalValue, 10)
        XCTAssertEqual(try metrics.expectCounter("amqp_messages_rejected", dims).totalValue, 1)
        XCTAssertEqual(try metrics.expectMeter("amqp_connections_open", dims).lastValue, 0, "both connections closed again")

        let entries = logs.entries
        let warnings = entries.filter { $0.level == .warning }
        XCTAssertEqual(warnings.map(\.message.description), ["the peer closed the connection with an error"],
                       "the server side saw our close with test:done")
        XCTAssertEqual(warnings.first?.metadata["amqp.condition"], "test:done")
        XCTAssertTrue(warnings.first?.metadata["amqp.peer"]?.description.hasPrefix("accepted on 127.0.0.1:") == true)
        let frames = entries.filter { $0.level == .trace }
        XCTAssertGreaterThan(frames.filter { $0.message.description.hasPrefix("-> [0] transfer") }.count, 9, "frames at trace level")
        XCTAssertEqual(Set(entries.compactMap { $0.metadata["amqp.connection"]?.description }), ["observed-1", "observed-2"])
    }

    func testNoFrameTracingBelowTraceLevel() throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in logs })
        logger.logLevel = .debug
        let container = try Container(id: "quiet", observability: ContainerObservability(logger: logger, metricsFactory: TestMetrics()))
        let listener = try container.listen("amqp://127.0.0.1:0") { Server() }
        try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))/q", handler: Sender())
        container.schedule(after: .seconds(30)) { container.stop() }
        try container.run()
        XCTAssertEqual(logs.entries.filter { $0.level == .trace }.count, 0)
        XCTAssertEqual(logs.entries.filter { $0.message.description == "connection open" }.count, 2)
    }
}

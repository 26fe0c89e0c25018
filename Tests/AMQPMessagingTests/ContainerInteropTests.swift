import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import SharedFixtures
import Foundation
import XCTest

/// The container against a real peer: Qpid Proton C's arrow, both ways.
final class ContainerInteropTests: XCTestCase {
    struct Outcome: Sendable {
        var accepted = 0, rejected = 0, released = 0
        var received: [Int64] = []
        var bodiesOK = true
        var errors: [String] = []
        var timedOut = false
    }

    /// Sends `total` messages on the first credit it gets and closes once all are accepted.
    final class Sender: MessagingHandler {
        let total: Int
        let outcome: LockedValue<Outcome>
        var sent = 0, accepted = 0
        init(total: Int, outcome: LockedValue<Outcome>) { self.total = total; self.outcome = outcome }
        func onConnectionOpen(_ c: MessagingConnection) { c.openSender() }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            while sender.credit > 0 && sent < total {
                var m = Message(value: .string("message \(sent)"))
                m.applicationProperties = ["SendTime": .long(Int64(sent))]
                sender.send(m)
                sent += 1
            }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) {
            accepted += 1
            outcome.withLock { $0.accepted += 1 }
            if accepted == total { c.close() }
        }
        func onTrackerReject(_ c: MessagingConnection, _ tracker: Delivery) { outcome.withLock { $0.rejected += 1 } }
        func onTrackerRelease(_ c: MessagingConnection, _ tracker: Delivery) { outcome.withLock { $0.released += 1 } }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { outcome.withLock { $0.errors.append("\(error)") } }
        func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    }

    /// Records each message's SendTime and checks its body.
    final class Receiver: MessagingHandler {
        let outcome: LockedValue<Outcome>
        init(outcome: LockedValue<Outcome>) { self.outcome = outcome }
        func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
            let time: Int64? = if case .long(let t)? = message.applicationProperties?[string: "SendTime"] { t } else { nil }
            let bodyOK = if case .value(.string(let s))? = message.body { s.utf8.count == 100 } else { false }
            outcome.withLock { o in
                o.received.append(time ?? -1)
                o.bodiesOK = o.bodiesOK && bodyOK
            }
        }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { outcome.withLock { $0.errors.append("\(error)") } }
        func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    }

    private func watchdog(_ container: Container, _ outcome: LockedValue<Outcome>) {
        container.schedule(after: .seconds(60)) {
            outcome.withLock { $0.timedOut = true }
            container.stop()
        }
    }

    func testSendsToProtonCAndEveryMessageIsAccepted() throws {
        for backend in ContainerBackend.allCases where backend != .ioURing || TestBackends.ioURingRuns { try sendsToProtonC(on: backend) }
    }

    private func sendsToProtonC(on backend: ContainerBackend) throws {
        let port = ProtonArrow.freePort()
        let total = 2000
        let arrow = try ProtonArrow.Running(["connection-mode=server", "operation=receive", "host=127.0.0.1", "port=\(port)",
                                             "path=q", "count=\(total)", "credit-window=100"])
        defer { arrow.kill() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the arrow never listened")
        let outcome = LockedValue(Outcome())
        let container = try Container(id: "interop-sender", backend: backend)
        try container.connect("amqp://127.0.0.1:\(port)/q", handler: Sender(total: total, outcome: outcome))
        watchdog(container, outcome)
        try container.run(threads: 2)
        let (status, lines) = arrow.finish()
        let o = outcome.withLock { $0 }
        XCTAssertFalse(o.timedOut, "\(backend)")
        XCTAssertEqual(o.errors, [], "\(backend)")
        XCTAssertEqual(o.accepted, total, "\(backend)")
        XCTAssertEqual(o.rejected + o.released, 0)
        XCTAssertEqual(status, 0, "the arrow reports an error")
        XCTAssertEqual(lines.count, total, "one line per message received")
        XCTAssertEqual(lines.map { $0.split(separator: ",").first.map(String.init) ?? "" }, (0..<total).map { "\($0)" },
                       "SendTime arrives in order, as sent")
    }

    func testReceivesFromProtonCOnAListener() throws {
        for backend in ContainerBackend.allCases where backend != .ioURing || TestBackends.ioURingRuns { try receivesFromProtonC(on: backend) }
    }

    private func receivesFromProtonC(on backend: ContainerBackend) throws {
        let total = 2000
        let outcome = LockedValue(Outcome())
        let container = try Container(id: "interop-receiver", backend: backend)
        let listener = try container.listen("amqp://127.0.0.1:0") { Receiver(outcome: outcome) }
        let port = try XCTUnwrap(listener.port)
        let arrow = try ProtonArrow.Running(["connection-mode=client", "operation=send", "host=127.0.0.1", "port=\(port)",
                                             "path=q", "count=\(total)", "body-size=100"])
        defer { arrow.kill() }
        watchdog(container, outcome)
        try container.run(threads: 2)
        let (status, lines) = arrow.finish()
        let o = outcome.withLock { $0 }
        XCTAssertFalse(o.timedOut, "\(backend)")
        XCTAssertEqual(o.errors, [], "\(backend)")
        XCTAssertEqual(o.received.count, total, "\(backend)")
        XCTAssertTrue(o.received.allSatisfy { $0 > 0 }, "every message carried SendTime as a long")
        XCTAssertTrue(o.bodiesOK, "every body is the arrow's 100-byte string")
        XCTAssertEqual(status, 0, "the arrow reports an error")
        XCTAssertEqual(lines.count, total, "the arrow saw every message settled")
    }

    func testTheBackendIsNamed() throws {
        XCTAssertEqual(try Container(backend: .epoll).backendDescription, "proactor backend: epoll")
        if TestBackends.ioURingRuns {
            XCTAssertEqual(try Container(backend: .ioURing).backendDescription, "proactor backend: io_uring")
        }
        XCTAssertTrue(try Container(backend: .automatic).backendDescription.hasPrefix("proactor backend: "))
    }

    func testBadURLsThrow() throws {
        let container = try Container()
        XCTAssertThrowsError(try container.connect("127.0.0.1:5672", handler: Receiver(outcome: LockedValue(Outcome())))) {
            XCTAssertEqual($0 as? MessagingError, .invalidURL("127.0.0.1:5672", "no scheme (expected amqp:// or amqps://)"))
        }
        XCTAssertThrowsError(try container.connect("amqp://127.0.0.1:0", handler: Receiver(outcome: LockedValue(Outcome())))) {
            XCTAssertEqual($0 as? MessagingError, .invalidURL("amqp://127.0.0.1:0", "port 0 is only for listening"))
        }
    }
}

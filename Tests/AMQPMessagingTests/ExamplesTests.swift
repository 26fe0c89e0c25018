import Foundation
import SharedFixtures
import XCTest

/// Each example of Docs/Examples.md, run as the program a user runs, against the example broker
/// or Proton C. They are built beside this test bundle by `swift build --build-tests`.
final class ExamplesTests: XCTestCase {
    /// A started example.
    typealias Run = BuiltProgram

    /// The example broker on a free port for the duration of `body`; it must stop cleanly on SIGTERM
    /// with every queue empty.
    private func withBroker(_ body: (String) throws -> Void) throws {
        let port = ProtonArrow.freePort()
        let broker = try Run("example-broker", ["127.0.0.1", "\(port)", "2"])
        defer { if broker.process.isRunning { broker.process.terminate() } }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker never listened")
        try body("amqp://127.0.0.1:\(port)")
        broker.process.terminate()   // SIGTERM
        let (status, lines, _) = broker.finish()
        XCTAssertEqual(status, 0)
        XCTAssertEqual(lines.first, "broker listening on 127.0.0.1:\(port)")
        XCTAssertTrue(lines.last?.hasPrefix("broker stopped; queues:") == true, "\(lines)")
        for q in (lines.last ?? "").split(separator: " ").dropFirst(3) {
            XCTAssertTrue(q.hasSuffix("=0"), "queue \(q) was left with messages")
        }
    }

    func testSendThenReceiveThroughTheBroker() throws {
        try withBroker { url in
            let send = try Run("example-send", ["\(url)/examples", "50"]).finish()
            XCTAssertEqual(send.status, 0)
            XCTAssertEqual(send.lines.last, "50 messages sent and accepted")
            let receive = try Run("example-receive", ["\(url)/examples", "50"]).finish()
            XCTAssertEqual(receive.status, 0)
            XCTAssertEqual(receive.lines.first, "\"message 0\"")
            XCTAssertEqual(receive.lines.count, 51)
            XCTAssertEqual(receive.lines.last, "50 messages received")
        }
    }

    func testDirectReceiverTakesMessagesFromProtonC() throws {
        let port = ProtonArrow.freePort()
        let receiver = try Run("example-receive", ["amqp://127.0.0.1:\(port)", "20", "--listen"])
        defer { if receiver.process.isRunning { receiver.process.terminate() } }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port))
        let arrow = try ProtonArrow.Running(["connection-mode=client", "operation=send", "host=127.0.0.1", "port=\(port)",
                                             "path=direct", "count=20", "body-size=10"])
        XCTAssertEqual(arrow.finish().status, 0, "Proton C's arrow failed")
        let (status, lines, _) = receiver.finish()
        XCTAssertEqual(status, 0)
        XCTAssertEqual(lines.first, "listening on port \(port)")
        XCTAssertEqual(lines.last, "20 messages received")
        XCTAssertEqual(lines.count, 22)
    }

    func testMultithreadedClientThreadsWaitForSettlement() throws {
        try withBroker { url in
            let (status, lines, _) = try Run("example-multithreaded-client", ["\(url)/mt", "4", "25"]).finish()
            XCTAssertEqual(status, 0)
            XCTAssertEqual(lines.filter { $0.hasPrefix("received: thread ") }.count, 100)
            XCTAssertEqual(Set(lines.filter { $0.hasPrefix("received: ") }).count, 100, "each message once")
            XCTAssertEqual(lines.last, "100 messages sent, settled and received")
        }
    }

    func testFlowControlKeepsTheBufferBounded() throws {
        try withBroker { url in
            let (status, lines, _) = try Run("example-flow-control-client", ["\(url)/fc", "200", "4"]).finish()
            XCTAssertEqual(status, 0)
            XCTAssertEqual(lines.filter { $0.hasPrefix("received: message ") }, (0..<200).map { "received: message \($0)" })
            XCTAssertTrue(lines.last?.hasPrefix("200 messages sent and received; the buffer never held more than ") == true, "\(lines.last ?? "")")
            XCTAssertTrue(lines.last?.hasSuffix(" of 4") == true)
        }
    }

    func testRequestResponseOverADynamicReplyTo() throws {
        try withBroker { url in
            let server = try Run("example-request-response", ["server", "\(url)/requests", "10"])
            let client = try Run("example-request-response", ["client", "\(url)/requests", "10"]).finish()
            XCTAssertEqual(client.status, 0)
            XCTAssertEqual(client.lines, (0..<10).map { "\($0): REQUEST \($0)" } + ["10 requests answered"])
            XCTAssertEqual(server.finish().status, 0)
        }
    }
}

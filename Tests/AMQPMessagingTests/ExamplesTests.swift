import Foundation
import SharedFixtures
import XCTest

/// Each example of Docs/Examples.md, run as the program a user runs, against the example broker
/// or Proton C. They are built beside this test bundle by `swift build --build-tests`.
final class ExamplesTests: XCTestCase {
    /// A started example; `finish()` waits (killing it after `timeout`) and returns status and output.
    final class Run {
        let process = Process()
        private let out = Pipe()
        init(_ name: String, _ arguments: [String]) throws {
            let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            let binary = dir.appendingPathComponent(name)
            guard FileManager.default.isExecutableFile(atPath: binary.path) else {
                // CI (AMQP_REQUIRE_SHARED=1) must never pass by skipping.
                let why = "\(binary.path) is not built (swift build --build-tests builds it)"
                if ProcessInfo.processInfo.environment["AMQP_REQUIRE_SHARED"] == "1" { throw ArrowUnavailable(description: why) }
                throw XCTSkip(why)
            }
            process.executableURL = binary
            process.arguments = arguments
            process.standardOutput = out
            try process.run()
        }
        func finish(timeout: TimeInterval = 60) -> (status: Int32, lines: [String]) {
            let killer = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            killer.cancel()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
        }
    }

    /// The example broker on a free port for the duration of `body`; it must stop cleanly on SIGTERM
    /// with every queue empty.
    private func withBroker(_ body: (String) throws -> Void) throws {
        let port = ProtonArrow.freePort()
        let broker = try Run("example-broker", ["127.0.0.1", "\(port)", "2"])
        defer { if broker.process.isRunning { broker.process.terminate() } }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker never listened")
        try body("amqp://127.0.0.1:\(port)")
        broker.process.terminate()   // SIGTERM
        let (status, lines) = broker.finish()
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
        let (status, lines) = receiver.finish()
        XCTAssertEqual(status, 0)
        XCTAssertEqual(lines.first, "listening on port \(port)")
        XCTAssertEqual(lines.last, "20 messages received")
        XCTAssertEqual(lines.count, 22)
    }

    func testMultithreadedClientThreadsWaitForSettlement() throws {
        try withBroker { url in
            let (status, lines) = try Run("example-multithreaded-client", ["\(url)/mt", "4", "25"]).finish()
            XCTAssertEqual(status, 0)
            XCTAssertEqual(lines.filter { $0.hasPrefix("received: thread ") }.count, 100)
            XCTAssertEqual(Set(lines.filter { $0.hasPrefix("received: ") }).count, 100, "each message once")
            XCTAssertEqual(lines.last, "100 messages sent, settled and received")
        }
    }

    func testFlowControlKeepsTheBufferBounded() throws {
        try withBroker { url in
            let (status, lines) = try Run("example-flow-control-client", ["\(url)/fc", "200", "4"]).finish()
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

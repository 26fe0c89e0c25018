import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPSystem
import MinimalContainer
import SharedFixtures
import XCTest

/// Docs/Containers.md's minimal container, kept working: messages handed to its work queue from
/// the test's thread reach Proton C's arrow and are accepted.
final class MinimalContainerTests: XCTestCase {
    struct Result: Sendable {
        var opened = false
        var accepted = 0
        var closedWith: String? = "not closed"
        var received = 0
    }

    final class Counting: MinimalHandler {
        let total: Int
        let result: LockedValue<Result>
        private var accepted = 0
        init(total: Int, result: LockedValue<Result>) { self.total = total; self.result = result }
        func onOpen(_ connection: Connection) { result.withLock { $0.opened = true } }
        func onSendable(_ sender: Link) {}
        func onMessage(_ message: Message) { result.withLock { $0.received += 1 } }
        func onAccepted(_ delivery: Delivery) {
            accepted += 1
            result.withLock { $0.accepted = accepted }
            if accepted == total { delivery.link.session.connection.close() }
        }
        func onClosed(_ error: AMQPError?) { result.withLock { $0.closedWith = error.map { $0.condition.rawValue } } }
    }

    func testWorkFromAnotherThreadReachesProtonC() throws {
        let port = ProtonArrow.freePort()
        let total = 300
        let arrow = try ProtonArrow.Running(["connection-mode=server", "operation=receive", "host=127.0.0.1", "port=\(port)",
                                             "path=q", "count=\(total)"])
        defer { arrow.kill() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port))
        let result = LockedValue(Result())
        let container = MinimalContainer(proactor: try EpollProactor.epoll())
        let work = container.connect("127.0.0.1:\(port)", target: "q", source: "replies", handler: Counting(total: total, result: result))
        let feeder = Thread {
            for i in 0..<total {
                work.add { sender in sender.send(Message(value: .string("minimal \(i)"))) }
            }
        }
        feeder.start()
        try container.run(threads: 2)
        let r = result.withLock { $0 }
        XCTAssertTrue(r.opened)
        XCTAssertEqual(r.accepted, total)
        XCTAssertNil(r.closedWith, "closed cleanly")
        XCTAssertFalse(work.add { _ in }, "no work once the connection is gone")
        let (status, lines) = arrow.finish()
        XCTAssertEqual(status, 0)
        // Lines ending in ",0" are messages the arrow sent to our receiver (it sends on any link
        // that has credit); the others are the ones it received.
        XCTAssertEqual(lines.filter { !$0.hasSuffix(",0") }.count, total)
        XCTAssertEqual(lines.filter { !$0.hasSuffix(",0") }.map { $0.split(separator: ",")[0] }, Array(repeating: "0", count: total),
                       "our messages carry no SendTime")
        // It sent on our receiver's credit; what was still in flight when we closed stays unsettled on its side.
        XCTAssertGreaterThan(r.received, 0, "the receiver works too")
        XCTAssertLessThanOrEqual(r.received, lines.filter { $0.hasSuffix(",0") }.count)
    }
}

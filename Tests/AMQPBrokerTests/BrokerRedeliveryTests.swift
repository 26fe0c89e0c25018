import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// At-least-once as a new user tries it: 20 messages in a queue, a consumer takes 5 without
/// settling and goes away (closes its connection, detaches, ends its session, or is killed), and
/// the next consumer gets all 20: the 5 first, in their order, marked redelivered (header
/// delivery-count 1, first-acquirer false), then the other 15 as they were sent. Over TCP, with our
/// container and with Qpid Proton Python as the clients, on each backend.
final class BrokerRedeliveryTests: XCTestCase {
    private let ids = (0..<20).map { "m-\($0)" }

    /// What the second consumer must see: the 5 taken, redelivered, then the rest.
    private var expected: [Received] {
        ids.prefix(5).map { Received(id: $0, deliveryCount: 1) } + ids.dropFirst(5).map { Received(id: $0) }
    }

    /// Our container's consumer takes 5 and ends as `finish` says; a second one must get all 20.
    private func checkContainerConsumer(_ finish: TestConsumer.Finish, _ label: String) throws {
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let first = LockedValue<[Received]>([])
                try clients.container.connect(broker.url, handler: TestConsumer(address: "q", credit: 5, finishAfter: 5, finish: finish,
                                                                                seen: first, outcome: { _ in nil }))
                XCTAssertTrue(eventually { first.withLock { $0.count } == 5 }, "\(backend) \(label): the first consumer got its 5")
                XCTAssertTrue(eventually(within: .seconds(3)) { broker.broker.depth(of: "q") == 20 },
                              "\(backend) \(label): the 5 unsettled went back to the queue (depth \(broker.broker.depth(of: "q")))")
                let second = LockedValue<[Received]>([])
                try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: second))
                eventually(within: .seconds(3)) { second.withLock { $0.count } >= 20 }
                XCTAssertEqual(second.withLock { $0 }, expected, "\(backend) \(label)")
                XCTAssertTrue(eventually { broker.broker.depth(of: "q") == 0 }, "\(backend) \(label): nothing left")
            }
        }
    }

    func testUnsettledOfAConsumerThatClosesItsConnectionAreRedeliveredFirst() throws {
        try checkContainerConsumer(.closeConnection, "connection closed")
    }

    func testUnsettledOfAConsumerThatDetachesAreRedeliveredFirst() throws {
        try checkContainerConsumer(.closeLink, "link detached")
    }

    func testUnsettledOfAConsumerThatEndsItsSessionAreRedeliveredFirst() throws {
        try checkContainerConsumer(.endSession, "session ended")
    }

    /// Proton Python's consumer takes 5 and ends as `ending` says; a second one must get all 20.
    private func checkProtonConsumer(_ ending: String) throws {
        guard try ProtonPython.require(for: "the broker's redelivery tests") else { return }
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, _ in
                let take = try ProtonPeer(["take", broker.url, "q", "5", "none", ending])
                if ending == "stay" {
                    XCTAssertTrue(eventually { take.lines.count == 5 }, "\(backend) \(ending): the peer took 5")
                    take.kill()
                }
                let (status, lines) = take.finish()
                XCTAssertEqual(ProtonPeer.received(lines), ids.prefix(5).map { Received(id: $0) }, "\(backend) \(ending): \(lines)")
                if ending == "close" { XCTAssertEqual(status, 0, "\(backend) \(ending)") }
                XCTAssertTrue(eventually(within: .seconds(3)) { broker.broker.depth(of: "q") == 20 },
                              "\(backend) \(ending): the 5 unsettled went back to the queue (depth \(broker.broker.depth(of: "q")))")
                let receive = try ProtonPeer(["receive", broker.url, "q", "20", "5"])
                let (rs, rl) = receive.finish()
                XCTAssertEqual(rs, 0, "\(backend) \(ending): the second consumer got 20 before its 5 s alarm")
                XCTAssertEqual(ProtonPeer.received(rl), expected, "\(backend) \(ending)")
                XCTAssertTrue(eventually { broker.broker.depth(of: "q") == 0 }, "\(backend) \(ending): nothing left")
            }
        }
    }

    func testProtonConsumerThatClosesItsConnection() throws { try checkProtonConsumer("close") }
    func testProtonConsumerThatDetaches() throws { try checkProtonConsumer("detach") }
    func testProtonConsumerThatEndsItsSession() throws { try checkProtonConsumer("end") }
    func testProtonConsumerKilledWithSIGKILLRightAfterTakingThem() throws { try checkProtonConsumer("kill") }
    func testProtonConsumerKilledWhileIdle() throws { try checkProtonConsumer("stay") }
}

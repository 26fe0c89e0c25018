import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// Each outcome a consumer gives does to the queue what AMQP 1.0 §3.4 says: accepted removes,
/// released puts back as it was, modified puts back counting the attempt when delivery-failed and
/// never to the same link when undeliverable-here, rejected drops (there is no dead-letter queue),
/// no outcome at all is the source's default (accepted). Our container and Proton Python.
final class BrokerOutcomeTests: XCTestCase {
    private let ids = (0..<20).map { "m-\($0)" }

    private func fresh(_ count: UInt32) -> [Received] { ids.map { Received(id: $0, deliveryCount: count) } }

    /// A consumer with credit for all 20 settles each with `state` and closes its connection; what a
    /// second consumer then gets (waiting `settle` for what is not expected to come).
    private func secondConsumerAfter(_ state: DeliveryState, expecting count: Int, _ backend: String,
                                     _ check: (RunningBroker, [Received]) -> Void) throws {
        try withFilledQueue(backend) { broker, clients in
            let first = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", credit: 20, finishAfter: 20, finish: .closeConnection,
                                                                            seen: first, outcome: { _ in state }))
            XCTAssertTrue(eventually { first.withLock { $0.count } == 20 }, backend)
            XCTAssertTrue(eventually { broker.broker.unsettled(of: "q") == 0 }, "\(backend): every outcome arrived")
            let second = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: second))
            eventually(within: count == 0 ? .milliseconds(300) : .seconds(5)) { second.withLock { $0.count } >= max(1, count) }
            check(broker, second.withLock { $0 })
        }
    }

    func testReleasedGoesBackAsItWas() throws {
        for backend in TestBackends.names {
            try secondConsumerAfter(.released, expecting: 20, backend) { broker, second in
                XCTAssertEqual(second, fresh(0), "\(backend): in order, delivery-count unchanged")
                XCTAssertEqual(broker.broker.statistics.releasedOrModified, 20, backend)
            }
        }
    }

    func testModifiedWithDeliveryFailedCountsTheAttempt() throws {
        for backend in TestBackends.names {
            try secondConsumerAfter(.modified(Modified(deliveryFailed: true)), expecting: 20, backend) { _, second in
                XCTAssertEqual(second, fresh(1), backend)
            }
        }
    }

    func testRejectedIsDropped() throws {
        for backend in TestBackends.names {
            try secondConsumerAfter(.rejected(Rejected()), expecting: 0, backend) { broker, second in
                XCTAssertEqual(second, [], backend)
                XCTAssertEqual(broker.broker.depth(of: "q"), 0, backend)
                XCTAssertEqual(broker.broker.statistics.rejected, 20, backend)
            }
        }
    }

    func testUndeliverableHereNeverGoesBackToThatLink() throws {
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let picky = LockedValue<[Received]>([])
                try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: picky, outcome: { _ in
                    .modified(Modified(undeliverableHere: true))
                }))
                XCTAssertTrue(eventually { picky.withLock { $0.count } >= 20 }, backend)
                usleep(300_000)
                XCTAssertEqual(picky.withLock { $0 }, fresh(0), "\(backend): each once, never again, though it keeps its credit")
                XCTAssertEqual(broker.broker.depth(of: "q"), 20, backend)
                let other = LockedValue<[Received]>([])
                try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: other))
                eventually { other.withLock { $0.count } >= 20 }
                XCTAssertEqual(other.withLock { $0 }, fresh(0), "\(backend): another link gets them, in order")
                XCTAssertEqual(picky.withLock { $0.count }, 20, backend)
            }
        }
    }

    func testSettledWithoutAnOutcomeIsAccepted() throws {
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let seen = LockedValue<[Received]>([])
                let consumer = TestConsumer(address: "q", seen: seen)
                consumer.settleWithoutOutcome = true
                try clients.container.connect(broker.url, handler: consumer)
                XCTAssertTrue(eventually { seen.withLock { $0.count } == 20 }, backend)
                XCTAssertTrue(eventually { broker.broker.unsettled(of: "q") == 0 && broker.broker.statistics.accepted == 20 }, backend)
                XCTAssertEqual(broker.broker.depth(of: "q"), 0, backend)
            }
        }
    }

    /// A consumer asking for pre-settled transfers (snd-settle-mode settled) gets at most once:
    /// each message leaves the queue as it is sent, and nothing waits for an outcome.
    func testAnAtMostOnceConsumerGetsPresettledMessages() throws {
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let seen = LockedValue<[Received]>([])
                let consumer = TestConsumer(address: "q", seen: seen, outcome: { _ in nil })
                consumer.options.deliveryMode = .atMostOnce
                try clients.container.connect(broker.url, handler: consumer)
                XCTAssertTrue(eventually { seen.withLock { $0.count } == 20 }, backend)
                XCTAssertEqual(broker.broker.unsettled(of: "q"), 0, backend)
                XCTAssertEqual(broker.broker.depth(of: "q"), 0, backend)
                XCTAssertEqual(broker.broker.bytes(of: "q"), 0, backend)
            }
        }
    }

    /// Proton Python settles 5 with `outcome` and closes; our container takes what is left.
    private func checkProtonOutcome(_ outcome: String, _ check: ([Message], RunningBroker) -> Void) throws {
        guard try ProtonPython.require(for: "the broker's outcome tests") else { return }
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let (status, lines) = try ProtonPeer(["take", broker.url, "q", "5", outcome, "close"]).finish()
                XCTAssertEqual(status, 0, "\(backend) \(outcome)")
                XCTAssertEqual(ProtonPeer.received(lines).map(\.id), Array(ids.prefix(5)), "\(backend) \(outcome)")
                let (seen, messages) = (LockedValue<[Received]>([]), LockedValue<[Message]>([]))
                let consumer = TestConsumer(address: "q", seen: seen)
                consumer.messages = messages
                try clients.container.connect(broker.url, handler: consumer)
                eventually(within: .seconds(5)) { seen.withLock { $0.count } >= (outcome == "reject" ? 15 : 20) }
                usleep(100_000)
                check(messages.withLock { $0 }, broker)
            }
        }
    }

    func testProtonReleases() throws {
        try checkProtonOutcome("release") { messages, _ in
            XCTAssertEqual(messages.map(Received.init), fresh(0))
        }
    }

    func testProtonModifiesWithDeliveryFailed() throws {
        try checkProtonOutcome("modify-failed") { messages, _ in
            XCTAssertEqual(messages.map(Received.init), ids.prefix(5).map { Received(id: $0, deliveryCount: 1) } + fresh(0).dropFirst(5))
        }
    }

    func testProtonModifiesAsUndeliverableHere() throws {
        try checkProtonOutcome("modify-undeliverable") { messages, _ in
            XCTAssertEqual(messages.map(Received.init), fresh(0), "another link gets them")
        }
    }

    func testProtonModifiesWithAnnotations() throws {
        try checkProtonOutcome("modify-annotated") { messages, _ in
            XCTAssertEqual(messages.map(Received.init), ids.prefix(5).map { Received(id: $0, deliveryCount: 1) } + fresh(0).dropFirst(5))
            XCTAssertEqual(messages.prefix(5).map { $0.messageAnnotations?[.symbol("x-opt-reason")] }, Array(repeating: .string("tried once"), count: 5))
            XCTAssertEqual(messages.dropFirst(5).compactMap(\.messageAnnotations), [])
            XCTAssertEqual(messages.map { $0.body }, ids.map { .value(.string("body of \($0)")) }, "the body unchanged")
        }
    }

    func testProtonRejects() throws {
        try checkProtonOutcome("reject") { messages, broker in
            XCTAssertEqual(messages.map(Received.init), Array(fresh(0).dropFirst(5)))
            XCTAssertEqual(broker.broker.statistics.rejected, 5)
        }
    }
}

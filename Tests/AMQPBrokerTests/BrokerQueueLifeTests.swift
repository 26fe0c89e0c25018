import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// How long a queue lives and how much it holds: a dynamic queue goes with the link that made it,
/// and a queue at its limit (messages or bytes, unsettled ones included) gives producers no more
/// credit until consumers settle, so memory stays bounded whatever the clients do.
final class BrokerQueueLifeTests: XCTestCase {
    func testADynamicQueueIsDeletedWhenTheLinkThatMadeItCloses() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let seen = LockedValue<[Received]>([])
            let owner = TestConsumer(address: "", finishAfter: 5, finish: .closeLink, seen: seen)
            owner.options.dynamic = true
            let source = owner.remoteSource
            try clients.container.connect(broker.url, handler: owner)
            XCTAssertTrue(eventually { source.withLock { $0 } != nil }, backend)
            let name = try XCTUnwrap(source.withLock { $0?.address })
            XCTAssertTrue(name.hasPrefix(Broker.dynamicPrefix), name)
            XCTAssertTrue(broker.broker.queueNames.contains(name), backend)

            // A producer that stays attached (it has nothing to send), and one that sends 20.
            let idle = TestProducer(address: name, prefix: "idle", count: 0, accepted: LockedValue([]))
            let (idleErrors, idleOpened) = (idle.errors, idle.opened)
            try clients.container.connect(broker.url, handler: idle)
            XCTAssertTrue(eventually { idleOpened.withLock { $0 } }, backend)
            let accepted = LockedValue<[String]>([])
            let sender = TestProducer(address: name, prefix: "m", count: 20, accepted: accepted)
            let rejected = sender.errors
            try clients.container.connect(broker.url, handler: sender)
            XCTAssertTrue(eventually { seen.withLock { $0.count } >= 5 }, backend)
            XCTAssertTrue(eventually { !broker.broker.queueNames.contains(name) }, "\(backend): the queue went with its link")
            // A producer still attached stays (Proton's server.cpp keeps a sender per reply address
            // and goes on serving); what it sends is rejected with amqp:resource-deleted.
            XCTAssertTrue(eventually { accepted.withLock { $0.count } + rejected.withLock { $0.count } == 20 },
                          "\(backend): every message accepted before, or rejected after, the deletion")
            XCTAssertEqual(Set(rejected.withLock { $0.map(\.condition) }), rejected.withLock { $0.isEmpty } ? [] : [ErrorCondition.resourceDeleted], backend)
            XCTAssertEqual(idleErrors.withLock { $0 }, [], "\(backend): the idle producer is not detached")
            let stats = broker.broker.statistics
            XCTAssertEqual(stats.accepted + stats.droppedWithQueue + (20 - stats.enqueued), 20, "\(backend): \(stats)")

            // The name is the broker's: attaching to it now is refused.
            let late = TestConsumer(address: name, seen: LockedValue([]))
            let lateErrors = late.errors
            try clients.container.connect(broker.url, handler: late)
            XCTAssertTrue(eventually { lateErrors.withLock { $0.map(\.condition) } == [ErrorCondition.notFound] }, "\(backend)")
            XCTAssertFalse(broker.broker.queueNames.contains(name), backend)
        }
    }

    /// The limit counts messages delivered and not settled: a consumer sitting on 10 stops a
    /// producer at a queue limit of 10, and when it goes, the 10 go back first.
    func testUnsettledMessagesCountAgainstTheLimit() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend, queueLimit: 10, creditWindow: 5)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let sitting = LockedValue<[Received]>([])
            let sitter = try clients.container.connect(broker.url, handler: TestConsumer(address: "q", credit: 100, seen: sitting,
                                                                                         outcome: { _ in nil }))
            let accepted = LockedValue<[String]>([])
            try clients.container.connect(broker.url, handler: TestProducer(address: "q", prefix: "m", count: 30, accepted: accepted))
            XCTAssertTrue(eventually { sitting.withLock { $0.count } == 10 }, backend)
            usleep(300_000)
            XCTAssertEqual(sitting.withLock { $0.count }, 10, "\(backend): no more than the limit")
            XCTAssertEqual(broker.broker.unsettled(of: "q"), 10, backend)
            XCTAssertEqual(broker.broker.depth(of: "q"), 0, backend)
            XCTAssertEqual(accepted.withLock { $0.count }, 10, "\(backend): the producer waits for credit")

            sitter.add { c in c.close() }
            let rest = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: rest))
            eventually { rest.withLock { $0.count } >= 30 }
            let ids = (0..<30).map { "m-\($0)" }
            XCTAssertEqual(rest.withLock { $0 }, ids.prefix(10).map { Received(id: $0, deliveryCount: 1) } + ids.dropFirst(10).map { Received(id: $0) },
                           backend)
            XCTAssertTrue(eventually { accepted.withLock { $0.count } == 30 }, backend)
        }
    }

    /// The byte limit stops credit once reached; what was granted before still comes in, so it
    /// can be passed by at most the credit window's worth of messages.
    func testTheByteLimitWithholdsCredit() throws {
        for backend in TestBackends.names {
            let (size, byteLimit, window) = (2_000, 20_000, 5)
            let broker = try RunningBroker(backend: backend, queueByteLimit: byteLimit, creditWindow: UInt32(window))
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let accepted = LockedValue<[String]>([])
            try clients.container.connect(broker.url, handler: TestProducer(address: "q", prefix: "m", count: 100, accepted: accepted,
                                                                            bodySize: size))
            XCTAssertTrue(eventually { broker.broker.bytes(of: "q") >= byteLimit }, backend)
            usleep(300_000)
            let held = broker.broker.bytes(of: "q")
            XCTAssertLessThanOrEqual(held, byteLimit + window * (size + 100), "\(backend): the limit, plus at most a window")
            XCTAssertLessThan(accepted.withLock { $0.count }, 100, "\(backend): the producer waits")
            let seen = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: seen))
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 100 }, backend)
            XCTAssertTrue(eventually { accepted.withLock { $0.count } == 100 && broker.broker.bytes(of: "q") == 0 }, backend)
            XCTAssertEqual(seen.withLock { $0.map(\.id) }, (0..<100).map { "m-\($0)" }, backend)
        }
    }

    /// The producer's link announces the broker's max-message-size (§2.7.3): our container then
    /// refuses to send a larger message (the engine enforces it on both ends).
    func testAProducerLinkAnnouncesMaxMessageSize() throws {
        let broker = try RunningBroker(maxMessageSize: 1_000)
        defer { broker.stop() }
        let clients = try RunningContainer(id: "clients", backend: "epoll")
        defer { clients.stop() }
        let small = LockedValue<[String]>([])
        try clients.container.connect(broker.url, handler: TestProducer(address: "q", prefix: "s", count: 3, accepted: small, bodySize: 500))
        XCTAssertTrue(eventually { small.withLock { $0.count } == 3 })
        let big = TestProducer(address: "q", prefix: "b", count: 1, accepted: LockedValue([]), bodySize: 5_000)
        let errors = big.errors
        try clients.container.connect(broker.url, handler: big)
        XCTAssertTrue(eventually { !errors.withLock { $0 }.isEmpty })
        XCTAssertEqual(errors.withLock { $0.map(\.condition) }, [ErrorCondition.messageSizeExceeded])
        XCTAssertEqual(broker.broker.depth(of: "q"), 3)
    }
}

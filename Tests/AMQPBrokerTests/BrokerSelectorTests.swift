@testable import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import SharedFixtures
import XCTest

/// Consumers with a selector get the messages it matches, in order; the others stay, in order,
/// for the rest; the broker echoes the filters it applied; a bad selector refuses the link; no-local
/// skips the consumer's own connection. On each backend, with our container as the clients.
final class BrokerSelectorTests: XCTestCase {
    /// Fills `address` with ``colouredMessages(_:prefix:)`` and waits until all are accepted.
    private func fill(_ broker: RunningBroker, _ clients: RunningContainer, _ address: String, _ messages: [ScriptedMessage],
                      _ backend: String) throws {
        let producer = ScriptedProducer(.address(address), messages)
        let producerOutcomes = producer.outcomes
        try clients.container.connect(broker.url, handler: producer)
        XCTAssertTrue(eventually { producerOutcomes.withLock { $0 }.allSatisfy { $0 == "accepted" } }, "\(backend): \(producerOutcomes.withLock { $0 })")
    }

    private func ids(_ seen: LockedValue<[Received]>) -> [String] { seen.withLock { $0.map(\.id) } }

    func testASelectiveConsumerGetsWhatMatchesAndTheRestStayInOrder() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            try fill(broker, clients, "q", colouredMessages(10), backend)

            let seen = LockedValue<[Received]>([])
            let selective = TestConsumer(address: "q", seen: seen)
            selective.options.filter = selectorFilter("colour = 'green' AND n > 2")
            let source = selective.remoteSource
            try clients.container.connect(broker.url, handler: selective)
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 3 }, "\(backend): \(ids(seen))")
            usleep(200_000)
            XCTAssertEqual(ids(seen), ["m-4", "m-6", "m-8"], backend)
            XCTAssertEqual(source.withLock { $0?.filter }, selectorFilter("colour = 'green' AND n > 2"), "\(backend): the filter is echoed")
            XCTAssertNil(source.withLock { $0?.distributionMode }, backend)
            XCTAssertEqual(broker.broker.depth(of: "q"), 7, backend)
            // Each message looked at and decoded once, however many passes the consumer made.
            XCTAssertEqual(broker.broker.statistics.selectorChecks, 10, backend)
            XCTAssertEqual(broker.broker.statistics.selectorDecodes, 10, backend)

            let rest = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: rest))
            XCTAssertTrue(eventually { rest.withLock { $0.count } == 7 }, "\(backend): \(ids(rest))")
            XCTAssertEqual(ids(rest), ["m-0", "m-1", "m-2", "m-3", "m-5", "m-7", "m-9"], backend)
            XCTAssertTrue(eventually { broker.broker.depth(of: "q") == 0 && broker.broker.unsettled(of: "q") == 0 }, backend)
            XCTAssertEqual(broker.broker.statistics.selectorChecks, 10, "\(backend): a consumer without a selector looks at nothing")
        }
    }

    /// Attached before the messages come, with a plain consumer beside it: each message goes to
    /// one of them, the selective one never gets a red one, and together they get all 20 once.
    func testASelectiveConsumerBesideAPlainOneAsMessagesArrive() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let green = LockedValue<[Received]>([])
            let selective = TestConsumer(address: "live", seen: green)
            selective.options.filter = selectorFilter("colour = 'green'")
            let source = selective.remoteSource
            try clients.container.connect(broker.url, handler: selective)
            XCTAssertTrue(eventually { source.withLock { $0 } != nil }, backend)
            let any = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "live", seen: any))
            try fill(broker, clients, "live", colouredMessages(20), backend)
            XCTAssertTrue(eventually { green.withLock { $0.count } + any.withLock { $0.count } == 20 }, backend)
            let greens = Set((0..<10).map { "m-\($0 * 2)" })
            XCTAssertTrue(green.withLock { $0 }.allSatisfy { greens.contains($0.id) }, "\(backend): \(ids(green))")
            XCTAssertEqual(Set(ids(green) + ids(any)), Set((0..<20).map { "m-\($0)" }), backend)
            // Each consumer sees its messages in queue order.
            for seen in [green, any] {
                let order = seen.withLock { $0.map { Int($0.id.dropFirst(2))! } }
                XCTAssertEqual(order, order.sorted(), backend)
            }
        }
    }

    /// A message that goes back changes (delivery-count + 1): a selector on it looks again. The
    /// selective consumer sees nothing new, then all ten once a plain consumer gives them back.
    func testASelectorSeesARedeliveredMessageAgain() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let redelivered = LockedValue<[Received]>([])
            let selective = TestConsumer(address: "q", seen: redelivered)
            selective.options.filter = selectorFilter("JMSRedelivered = TRUE AND JMSXDeliveryCount = 2")
            let source = selective.remoteSource
            try clients.container.connect(broker.url, handler: selective)
            XCTAssertTrue(eventually { source.withLock { $0 } != nil }, backend)
            let held = LockedValue<[Received]>([])
            let holder = try clients.container.connect(broker.url, handler: TestConsumer(address: "q", credit: 10, seen: held,
                                                                                         outcome: { _ in nil }))
            try fill(broker, clients, "q", colouredMessages(10), backend)
            XCTAssertTrue(eventually { held.withLock { $0.count } == 10 }, backend)
            XCTAssertEqual(redelivered.withLock { $0.count }, 0, backend)
            holder.add { c in c.close() }
            XCTAssertTrue(eventually { redelivered.withLock { $0.count } == 10 }, "\(backend): \(ids(redelivered))")
            XCTAssertEqual(redelivered.withLock { $0 }, (0..<10).map { Received(id: "m-\($0)", deliveryCount: 1) }, backend)
        }
    }

    func testABadSelectorRefusesTheLinkWithItsError() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let consumer = TestConsumer(address: "q", seen: LockedValue([]))
            consumer.options.filter = selectorFilter("colour = 'green' AND (n > 2")
            let errors = consumer.errors
            try clients.container.connect(broker.url, handler: consumer)
            XCTAssertTrue(eventually { !errors.withLock { $0 }.isEmpty }, backend)
            XCTAssertEqual(errors.withLock { $0 }, [AMQPError(condition: ErrorCondition.invalidField, description: "expected ')' at column 28")],
                           backend)
            XCTAssertEqual(broker.broker.queueNames, [], "\(backend): a refused link makes no queue")
        }
    }

    /// Filters the broker does not know are left out of its attach (the consumer sees they are
    /// not applied) and filter nothing.
    func testAnUnknownFilterIsNotEchoed() throws {
        let broker = try RunningBroker()
        defer { broker.stop() }
        let clients = try RunningContainer(id: "clients", backend: "epoll")
        defer { clients.stop() }
        try fill(broker, clients, "q", colouredMessages(3), "epoll")
        let seen = LockedValue<[Received]>([])
        let consumer = TestConsumer(address: "q", seen: seen)
        consumer.options.filter = [.symbol("topic"): .described(descriptor: .symbol("apache.org:legacy-amqp-topic-binding:string"),
                                                                value: .string("a.#"))]
        let source = consumer.remoteSource
        try clients.container.connect(broker.url, handler: consumer)
        XCTAssertTrue(eventually { seen.withLock { $0.count } == 3 })
        XCTAssertEqual(source.withLock { $0?.address }, "q")
        XCTAssertNil(source.withLock { $0?.filter })
    }

    func testNoLocalSkipsWhatTheConsumersConnectionPublished() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let seen = LockedValue<[Received]>([])
            let local = NoLocalClient(address: "q", own: (0..<3).map { ScriptedMessage(id: "own-\($0)") }, seen: seen)
            let (accepted, source) = (local.accepted, local.remoteSource)
            try clients.container.connect(broker.url, handler: local)
            XCTAssertTrue(eventually { accepted.withLock { $0 } == 3 }, backend)
            try fill(broker, clients, "q", (0..<3).map { ScriptedMessage(id: "other-\($0)") }, backend)
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 3 }, backend)
            usleep(200_000)
            XCTAssertEqual(ids(seen), ["other-0", "other-1", "other-2"], backend)
            XCTAssertEqual(source.withLock { $0?.filter },
                           [.symbol("no-local"): .described(descriptor: .symbol("apache.org:no-local-filter:list"), value: .list([]))], backend)
            let rest = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: rest))
            XCTAssertTrue(eventually { rest.withLock { $0.count } == 3 }, backend)
            XCTAssertEqual(ids(rest), ["own-0", "own-1", "own-2"], backend)
        }
    }
}

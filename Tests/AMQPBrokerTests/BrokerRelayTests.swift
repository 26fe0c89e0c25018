@testable import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import SharedFixtures
import XCTest

/// The anonymous relay (a producer with no target address) and dynamic targets: each relayed
/// message goes to the queue its `to` names; one that names no queue, or a full one, is rejected
/// alone and the link stays; a producer's dynamic target is a fresh queue, deleted with its link.
final class BrokerRelayTests: XCTestCase {
    func testTheRelayRoutesByToAndRejectsUnknownAddressesOneByOne() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            _ = broker.broker.queue("q1")
            _ = broker.broker.queue("q2")
            let relay = ScriptedProducer(.relay, [
                ScriptedMessage(id: "r-0", to: "q1"), ScriptedMessage(id: "r-1", to: "q2"), ScriptedMessage(id: "r-2", to: "nope"),
                ScriptedMessage(id: "r-3"), ScriptedMessage(id: "r-4", to: "q1"), ScriptedMessage(id: "r-5", to: "dynamic-99"),
                ScriptedMessage(id: "r-6", to: "q2"),
            ])
            let (errors, target) = (relay.errors, relay.remoteTarget)
            let relayOutcomes = relay.outcomes
            try clients.container.connect(broker.url, handler: relay)
            XCTAssertTrue(eventually { relayOutcomes.withLock { $0 }.allSatisfy { $0 != nil } }, "\(backend): \(relayOutcomes.withLock { $0 })")
            XCTAssertEqual(relayOutcomes.withLock { $0 }, [
                "accepted", "accepted", "rejected amqp:not-found: no queue nope",
                "rejected amqp:not-found: the message has no to address, and its link no target address",
                "accepted", "rejected amqp:not-found: no queue dynamic-99", "accepted",
            ], backend)
            XCTAssertEqual(errors.withLock { $0 }, [], "\(backend): the link stays")
            XCTAssertNotNil(target.withLock { $0 }, backend)
            XCTAssertNil(target.withLock { $0?.address }, "\(backend): our attach answers with the null address")
            XCTAssertEqual(broker.broker.queueNames, ["q1", "q2"], "\(backend): the relay makes no queue")
            XCTAssertEqual(broker.broker.depth(of: "q1"), 2, backend)
            XCTAssertEqual(broker.broker.depth(of: "q2"), 2, backend)

            let seen = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q1", seen: seen))
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 2 }, backend)
            XCTAssertEqual(seen.withLock { $0.map(\.id) }, ["r-0", "r-4"], backend)
        }
    }

    /// The relay takes a message only where its queue has room: beyond the limit, rejected.
    func testTheRelayRejectsWhatAFullQueueCannotTake() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend, queueLimit: 3)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            _ = broker.broker.queue("small")
            let relay = ScriptedProducer(.relay, (0..<5).map { ScriptedMessage(id: "r-\($0)", to: "small") })
            let relayOutcomes = relay.outcomes
            try clients.container.connect(broker.url, handler: relay)
            XCTAssertTrue(eventually { relayOutcomes.withLock { $0 }.allSatisfy { $0 != nil } }, "\(backend): \(relayOutcomes.withLock { $0 })")
            XCTAssertEqual(relayOutcomes.withLock { $0 }, ["accepted", "accepted", "accepted",
                                           "rejected amqp:resource-limit-exceeded: queue small is full",
                                           "rejected amqp:resource-limit-exceeded: queue small is full"], backend)
            XCTAssertEqual(broker.broker.depth(of: "small"), 3, backend)
        }
    }

    /// A listener with ``Broker/offeredCapabilities`` offers ANONYMOUS-RELAY in its open.
    func testTheOpenOffersTheAnonymousRelay() throws {
        for backend in TestBackends.names {
            let broker = Broker()
            let server = try RunningContainer(id: "broker", backend: backend, threads: 2)
            defer { server.stop() }
            var options = ConnectionOptions()
            options.offeredCapabilities = Broker.offeredCapabilities
            let listener = try server.container.listen("amqp://127.0.0.1:0", options: options) { broker.handler() }
            let port = try XCTUnwrap(listener.port)
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let relay = ScriptedProducer(.relay, [])
            let offered = relay.offered
            try clients.container.connect("amqp://127.0.0.1:\(port)", handler: relay)
            XCTAssertTrue(eventually { offered.withLock { $0 } != nil }, backend)
            XCTAssertEqual(offered.withLock { $0 }, ["ANONYMOUS-RELAY"], backend)
        }
    }

    /// A request/response round over the relay: the requester's reply queue is dynamic, the
    /// responder answers through the relay to each request's reply-to.
    func testRepliesThroughTheRelayReachADynamicReplyQueue() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let replies = LockedValue<[Received]>([])
            let requester = TestConsumer(address: "", seen: replies)
            requester.options.dynamic = true
            let source = requester.remoteSource
            try clients.container.connect(broker.url, handler: requester)
            XCTAssertTrue(eventually { source.withLock { $0?.address } != nil }, backend)
            let replyTo = try XCTUnwrap(source.withLock { $0?.address })
            let responder = ScriptedProducer(.relay, (0..<3).map { ScriptedMessage(id: "reply-\($0)", to: replyTo) })
            let responderOutcomes = responder.outcomes
            try clients.container.connect(broker.url, handler: responder)
            XCTAssertTrue(eventually { replies.withLock { $0.count } == 3 }, backend)
            XCTAssertEqual(replies.withLock { $0.map(\.id) }, ["reply-0", "reply-1", "reply-2"], backend)
            XCTAssertEqual(responderOutcomes.withLock { $0 }, ["accepted", "accepted", "accepted"], backend)
        }
    }

    func testADynamicTargetIsAFreshQueueDeletedWithItsLink() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let producer = ScriptedProducer(.dynamic, (0..<3).map { ScriptedMessage(id: "d-\($0)") })
            let target = producer.remoteTarget
            let producerOutcomes = producer.outcomes
            let producing = try clients.container.connect(broker.url, handler: producer)
            XCTAssertTrue(eventually { producerOutcomes.withLock { $0 }.allSatisfy { $0 == "accepted" } }, "\(backend): \(producerOutcomes.withLock { $0 })")
            let name = try XCTUnwrap(target.withLock { $0?.address })
            XCTAssertTrue(name.hasPrefix(Broker.dynamicPrefix), name)
            XCTAssertEqual(broker.broker.queueNames, [name], backend)
            XCTAssertEqual(broker.broker.depth(of: name), 3, backend)

            let seen = LockedValue<[Received]>([])
            let consumer = TestConsumer(address: name, seen: seen)
            let errors = consumer.errors
            try clients.container.connect(broker.url, handler: consumer)
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 3 }, backend)
            XCTAssertEqual(seen.withLock { $0.map(\.id) }, ["d-0", "d-1", "d-2"], backend)

            // A responder's sender to it, its message held for now.
            let responder = ScriptedProducer(.address(name), [ScriptedMessage(id: "late")])
            responder.held = true
            let (responderOutcomes, responderErrors, responderTarget) = (responder.outcomes, responder.errors, responder.remoteTarget)
            let responding = try clients.container.connect(broker.url, handler: responder)
            XCTAssertTrue(eventually { responderTarget.withLock { $0 } != nil }, backend)

            producing.add { c in (c.handler as? ScriptedProducer)?.closeLink() }
            XCTAssertTrue(eventually { broker.broker.queueNames.isEmpty }, "\(backend): the queue went with its link")
            XCTAssertTrue(eventually { errors.withLock { $0.map(\.condition) } == [ErrorCondition.resourceDeleted] },
                          "\(backend): the consumer still attached is detached: \(errors.withLock { $0 })")
            XCTAssertEqual(errors.withLock { $0.first?.description }, "queue \(name) was deleted: the link that made it closed", backend)

            // The responder's sender stays; what it sends now is rejected.
            responding.add { c in (c.handler as? ScriptedProducer)?.release(c) }
            XCTAssertTrue(eventually { responderOutcomes.withLock { $0 } != [nil] }, backend)
            XCTAssertEqual(responderOutcomes.withLock { $0 }, ["rejected amqp:resource-deleted: queue \(name) was deleted"], backend)
            XCTAssertEqual(responderErrors.withLock { $0 }, [], backend)
            XCTAssertEqual(broker.broker.queueNames, [], "\(backend): and it is not made again")
        }
    }
}

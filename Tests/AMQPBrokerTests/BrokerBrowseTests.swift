@testable import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import SharedFixtures
import XCTest

/// A browser (distribution-mode `copy`) gets copies: the queue keeps every message, whatever the
/// browser settles, and consumers then get them all, first-time deliveries.
final class BrokerBrowseTests: XCTestCase {
    func testBrowsingLeavesTheQueueIntact() throws {
        for backend in TestBackends.names {
            let broker = try RunningBroker(backend: backend)
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }
            let producer = ScriptedProducer(.address("q"), colouredMessages(10))
            let producerOutcomes = producer.outcomes
            try clients.container.connect(broker.url, handler: producer)
            XCTAssertTrue(eventually { producerOutcomes.withLock { $0 }.allSatisfy { $0 == "accepted" } }, backend)

            // It accepts every copy, rejects none, and still changes nothing.
            let browsed = LockedValue<[Received]>([])
            let browser = TestConsumer(address: "q", seen: browsed)
            browser.options.distributionMode = StandardSymbols.copy
            let source = browser.remoteSource
            let browsing = try clients.container.connect(broker.url, handler: browser)
            XCTAssertTrue(eventually { browsed.withLock { $0.count } == 10 }, backend)
            XCTAssertEqual(browsed.withLock { $0 }, (0..<10).map { Received(id: "m-\($0)") }, backend)
            XCTAssertEqual(source.withLock { $0?.distributionMode }, StandardSymbols.copy, "\(backend): the attach echoes copy")
            usleep(200_000)
            XCTAssertEqual(broker.broker.depth(of: "q"), 10, backend)
            XCTAssertEqual(broker.broker.unsettled(of: "q"), 0, backend)
            XCTAssertEqual(broker.broker.statistics.browsed, 10, backend)
            XCTAssertEqual(broker.broker.statistics.accepted, 0, backend)

            // It sees what comes later too, once.
            let more = ScriptedProducer(.address("q"), colouredMessages(2, prefix: "late"))
            let moreOutcomes = more.outcomes
            try clients.container.connect(broker.url, handler: more)
            XCTAssertTrue(eventually { browsed.withLock { $0.count } == 12 }, backend)
            XCTAssertEqual(browsed.withLock { $0.suffix(2).map(\.id) }, ["late-0", "late-1"], backend)
            browsing.add { c in c.close() }

            // A browser with a selector: copies of the red ones only.
            let reds = LockedValue<[Received]>([])
            let redBrowser = TestConsumer(address: "q", seen: reds)
            redBrowser.options.distributionMode = StandardSymbols.copy
            redBrowser.options.filter = selectorFilter("colour = 'red'")
            try clients.container.connect(broker.url, handler: redBrowser)
            XCTAssertTrue(eventually { reds.withLock { $0.count } == 6 }, backend)
            XCTAssertEqual(reds.withLock { $0.map(\.id) }, ["m-1", "m-3", "m-5", "m-7", "m-9", "late-1"], backend)
            XCTAssertEqual(broker.broker.statistics.selectorChecks, 12, backend)
            XCTAssertEqual(broker.broker.statistics.selectorDecodes, 12, backend)

            let all = LockedValue<[Received]>([])
            try clients.container.connect(broker.url, handler: TestConsumer(address: "q", seen: all))
            XCTAssertTrue(eventually { all.withLock { $0.count } == 12 }, backend)
            XCTAssertEqual(all.withLock { $0 }, ((0..<10).map { "m-\($0)" } + ["late-0", "late-1"]).map { Received(id: $0) },
                           "\(backend): every message, delivered for the first time")
            XCTAssertTrue(eventually { broker.broker.depth(of: "q") == 0 && broker.broker.unsettled(of: "q") == 0 }, backend)
        }
    }
}

import AMQPBroker
import AMQPCodec
import AMQPMessaging
import AMQPSystem
import Foundation
import SharedFixtures
import XCTest

/// A consumer that accepts 5 and closes its link in the same turn: the accepts are queued before
/// the detach, so they must reach the broker first and none of the 5 may come back. Depends on the
/// engine writing dispositions before a detach (issue 22, finding 2).
final class BrokerAcceptThenDetachTests: XCTestCase {
    func testAcceptsQueuedBeforeADetachAreNotRedelivered() throws {
        // Fails until the engine flushes dispositions before a detach: today the detach goes out
        // first, the broker puts the 5 back (depth 20, 5 returned by lost consumers), and the
        // accepts that follow find nothing. Remove this skip with that fix.
        if ProcessInfo.processInfo.environment["AMQP_ENGINE_DISPOSITIONS_BEFORE_DETACH"] != "1" {
            throw XCTSkip("needs the engine's dispositions written before a detach (issue 22, finding 2)")
        }
        for backend in TestBackends.names {
            try withFilledQueue(backend) { broker, clients in
                let first = LockedValue<[Received]>([])
                try clients.container.connect(broker.url, handler: TestConsumer(address: "q", credit: 5, finishAfter: 5, finish: .closeLink,
                                                                                seen: first))
                XCTAssertTrue(eventually { first.withLock { $0.count } == 5 }, backend)
                XCTAssertTrue(eventually { broker.broker.unsettled(of: "q") == 0 }, backend)
                XCTAssertEqual(broker.broker.depth(of: "q"), 15, "\(backend): the 5 accepted are gone, not back in the queue")
                XCTAssertEqual(broker.broker.statistics.returnedByLostConsumers, 0, backend)
            }
        }
    }
}

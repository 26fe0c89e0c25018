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
        // Before the engine flushed dispositions ahead of a detach, the detach went out first, the
        // broker put the 5 back (depth 20, 5 returned by lost consumers) and the accepts that
        // followed found nothing.
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

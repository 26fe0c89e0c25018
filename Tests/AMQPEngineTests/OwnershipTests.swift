import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Endpoints hold their parents strongly; dropping the driver must still free the whole tree, and
/// what the application keeps must stay usable.
final class OwnershipTests: XCTestCase {
    private struct Watched {
        weak var pair: DriverPair?
        weak var clientDriver: ConnectionDriver?
        weak var serverDriver: ConnectionDriver?
        weak var connection: Connection?
        weak var session: Session?
        weak var sender: Link?
        weak var receiver: Link?
        weak var unsettled: Delivery?
        weak var queued: Delivery?
        weak var partial: Delivery?
    }

    /// A pair with work in every state: unsettled deliveries both sides, one waiting for credit and
    /// one half received.
    private func busyPair() -> (DriverPair, Watched) {
        let pair = DriverPair()
        let (sender, receiver) = pair.openLinkPair(credit: 2)
        var w = Watched()
        w.pair = pair
        w.clientDriver = pair.client
        w.serverDriver = pair.server
        w.connection = pair.client.connection
        w.session = sender.session
        w.sender = sender
        w.receiver = receiver
        w.unsettled = sender.send(Array(repeating: 1, count: 10))
        pair.pump()
        w.partial = sender.send(Array(repeating: 2, count: 200_000))
        w.queued = sender.send([3])
        pair.chunk = 70_000
        pair.pump(maxRounds: 1)
        XCTAssertEqual(sender.session.unsettledOutgoing.count, 2)
        XCTAssertEqual(sender.queued, 1, "the last delivery should wait for credit")
        XCTAssertNotNil(receiver.current, "a delivery should be half received")
        return (pair, w)
    }

    func testDroppingTheDriversFreesEverything() {
        var (pair, w): (DriverPair?, Watched) = busyPair()
        // Everything is alive while the pair is held...
        XCTAssertNotNil(w.clientDriver)
        XCTAssertNotNil(w.serverDriver)
        XCTAssertNotNil(w.connection)
        XCTAssertNotNil(w.unsettled)
        XCTAssertNotNil(w.queued)
        XCTAssertNotNil(w.partial)
        XCTAssertNotNil(w.receiver)
        pair = nil
        // ...and freed once it is dropped: the weak references prove the objects are gone.
        XCTAssertNil(w.pair)
        XCTAssertNil(w.clientDriver)
        XCTAssertNil(w.serverDriver)
        XCTAssertNil(w.connection)
        XCTAssertNil(w.session)
        XCTAssertNil(w.sender)
        XCTAssertNil(w.receiver)
        XCTAssertNil(w.unsettled)
        XCTAssertNil(w.queued)
        XCTAssertNil(w.partial)
    }

    func testWhatTheApplicationHoldsOutlivesTheDriver() {
        var (pair, w): (DriverPair?, Watched) = busyPair()
        let kept = w.unsettled!
        pair = nil
        // The delivery keeps its link, session and connection; only the drivers are gone.
        XCTAssertNil(w.pair)
        XCTAssertNil(w.clientDriver)
        XCTAssertNil(w.serverDriver)
        XCTAssertEqual(kept.link.name, "to-server")
        XCTAssertEqual(kept.link.session.connection.localState, .active)
        XCTAssertNotNil(w.sender)
        XCTAssertNil(w.receiver)
        XCTAssertNil(w.queued)
    }
}

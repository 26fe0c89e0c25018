import AMQPCodec
@testable import AMQPEngine
import XCTest

/// Heartbeats and the idle timeout (AMQP 1.0 §2.4.5), on time passed in by hand.
final class IdleTimeoutTests: XCTestCase {
    /// Defect 9: we announce half our threshold and close a peer silent for the whole of it.
    func testWeAnnounceHalfAndCloseAtTheWholeThreshold() {
        let peer = ScriptedPeer(configuration: { var c = DriverConfiguration(containerID: "d"); c.idleTimeout = 1000; return c }())
        peer.application = { Responder().respond(to: $0) }
        let out = peer.connect()
        let open = out.compactMap(\.performative).compactMap { if case .open(let o) = $0 { return o } else { return nil } }.first
        XCTAssertEqual(open?.idleTimeOut, 500)
        let t0 = ContinuousClock.now
        XCTAssertEqual(peer.driver.tick(now: t0), t0.advanced(by: .milliseconds(1000)))
        XCTAssertEqual(peer.driver.tick(now: t0.advanced(by: .milliseconds(999))), t0.advanced(by: .milliseconds(1000)))
        XCTAssertEqual(peer.driver.connection.localState, .active)
        XCTAssertNil(peer.driver.tick(now: t0.advanced(by: .milliseconds(1000))))
        XCTAssertEqual(peer.driver.connection.localError?.condition, ErrorCondition.resourceLimitExceeded)
        XCTAssertEqual(peer.driver.connection.localError?.description, "no frames from the peer for 1000 ms")
        XCTAssertEqual(peer.readNames(), ["close"])
    }

    /// Input moves the expiry: a heartbeat from the peer keeps the connection.
    func testPeerHeartbeatsKeepTheConnection() {
        let peer = ScriptedPeer(configuration: { var c = DriverConfiguration(containerID: "d"); c.idleTimeout = 1000; return c }())
        peer.application = { Responder().respond(to: $0) }
        peer.connect()
        let t0 = ContinuousClock.now
        _ = peer.driver.tick(now: t0)
        peer.writeEmptyFrame()
        XCTAssertEqual(peer.driver.tick(now: t0.advanced(by: .milliseconds(800))), t0.advanced(by: .milliseconds(1800)))
        XCTAssertNotNil(peer.driver.tick(now: t0.advanced(by: .milliseconds(1700))))
        XCTAssertEqual(peer.driver.connection.localState, .active)
    }

    /// Defect 9: a peer announcing idle-time-out 1 ms must not have tick ask for "now" forever.
    func testTinyPeerTimeoutIsClamped() {
        let peer = ScriptedPeer()
        peer.application = { Responder().respond(to: $0) }
        peer.connect(Open(containerID: "p", maxFrameSize: 65_536, channelMax: 255, idleTimeOut: 1))
        _ = peer.read()
        let t0 = ContinuousClock.now
        var now = t0
        var heartbeats = 0
        for _ in 0..<20 {
            guard let next = peer.driver.tick(now: now) else { return XCTFail("no deadline") }
            XCTAssertEqual(next - now, .milliseconds(1), "at most one heartbeat per millisecond")
            heartbeats += peer.read().filter { if case .frame(_, nil, _) = $0 { return true } else { return false } }.count
            now = next
        }
        XCTAssertEqual(heartbeats, 19, "one heartbeat per tick at the clamped pace; the first tick starts the clock")
    }

    /// We send an empty frame after half the peer's timeout of our silence, and not before.
    func testHeartbeatAtHalfThePeersTimeout() {
        let peer = ScriptedPeer()
        peer.application = { Responder().respond(to: $0) }
        peer.connect(Open(containerID: "p", maxFrameSize: 65_536, channelMax: 255, idleTimeOut: 1000))
        _ = peer.read()
        let t0 = ContinuousClock.now
        XCTAssertEqual(peer.driver.tick(now: t0), t0.advanced(by: .milliseconds(500)))
        XCTAssertEqual(peer.read(), [])
        XCTAssertEqual(peer.driver.tick(now: t0.advanced(by: .milliseconds(499))), t0.advanced(by: .milliseconds(500)))
        XCTAssertEqual(peer.read(), [])
        XCTAssertEqual(peer.driver.tick(now: t0.advanced(by: .milliseconds(500))), t0.advanced(by: .milliseconds(1000)))
        XCTAssertEqual(peer.read(), [.frame(channel: 0, performative: nil, payload: [])])
    }

    /// No heartbeat after our close (§2.7.9).
    func testNoHeartbeatAfterClose() {
        let peer = ScriptedPeer()
        peer.application = { Responder().respond(to: $0) }
        peer.connect(Open(containerID: "p", maxFrameSize: 65_536, channelMax: 255, idleTimeOut: 1000))
        peer.driver.connection.close()
        XCTAssertEqual(peer.readNames(), ["close"])
        let t0 = ContinuousClock.now
        _ = peer.driver.tick(now: t0)
        XCTAssertNil(peer.driver.tick(now: t0.advanced(by: .seconds(5))))
        XCTAssertEqual(peer.read(), [])
    }
}

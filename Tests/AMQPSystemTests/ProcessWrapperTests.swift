import AMQPSystem
import Synchronization
import XCTest

/// SIGUSR2s this test process has handled (a signal handler can capture nothing).
private let user2Handled = Atomic<Int>(0)

/// The wrappers the conformance suite and the io_uring backend use instead of libc: signals,
/// processor time, sleeping, lingering sockets, opening files.
final class ProcessWrapperTests: XCTestCase {
    func testSignalReachesItsHandler() throws {
        try Signal.user2.setHandler { _ in user2Handled.add(1, ordering: .relaxed) }
        let before = user2Handled.load(ordering: .relaxed)
        try Signal.user2.sendToProcess()
        let deadline = ContinuousClock.now + .seconds(5)
        while user2Handled.load(ordering: .relaxed) == before && ContinuousClock.now < deadline {
            SystemThread.sleep(for: .milliseconds(1))
        }
        XCTAssertEqual(user2Handled.load(ordering: .relaxed), before + 1)
        XCTAssertThrowsError(try Signal(rawValue: 9).setHandler { _ in }) { XCTAssertEqual($0 as? Errno, .invalidArgument, "SIGKILL") }
    }

    func testFaultedKillSendsNothing() throws {
        try XCTSkipUnless(SyscallMock.isAvailable, "system-call faults exist only in debug builds (ENABLE_MOCKING)")
        try Signal.user2.setHandler { _ in user2Handled.add(1, ordering: .relaxed) }
        let before = user2Handled.load(ordering: .relaxed)
        let eperm = SyscallFault.fail(.kill, with: .notPermitted, on: .callingThread)
        XCTAssertThrowsError(try SyscallMock.with(eperm) { try Signal.user2.sendToProcess() }) { XCTAssertEqual($0 as? Errno, .notPermitted) }
        SystemThread.sleep(for: .milliseconds(20))
        XCTAssertEqual(user2Handled.load(ordering: .relaxed), before)
        XCTAssertEqual([eperm.matched, eperm.applied], [1, 1])
    }

    func testProcessorTimeGrowsWithWork() throws {
        // Spins until 20 ms of processor time are counted: a loaded machine gives this thread
        // less than all of the wall time.
        let before = try ResourceUsage.processorTime()
        var x: UInt64 = 1
        let start = ContinuousClock.now
        var used = Duration.zero
        while used < .milliseconds(20) && ContinuousClock.now - start < .seconds(10) {
            for _ in 0..<100_000 { x = x &* 6364136223846793005 &+ 1 }
            used = try ResourceUsage.processorTime() - before
        }
        XCTAssertNotEqual(x, 0)
        XCTAssertGreaterThanOrEqual(used, .milliseconds(20))
    }

    func testSleep() {
        let start = ContinuousClock.now
        SystemThread.sleep(for: .milliseconds(20))
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(20))
        let instant = ContinuousClock.now
        SystemThread.sleep(for: .zero)
        SystemThread.sleep(for: .milliseconds(-5))
        XCTAssertLessThan(ContinuousClock.now - instant, .milliseconds(5))
    }

    func testLingerZeroResetsThePeer() throws {
        let address = try XCTUnwrap(SocketAddress.resolve(host: "127.0.0.1", port: "0").first)
        let listener = try Socket.open(.ipv4, nonBlocking: false)
        defer { try? listener.close() }
        try listener.bind(to: address)
        try listener.listen()
        let client = try Socket.connect(host: "127.0.0.1", port: "\(try XCTUnwrap(listener.localAddress().port))")
        let server = try listener.accept()
        defer { try? server.close() }
        try client.setLinger(seconds: 0)
        try client.close()
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try server.read(into: $0) }) {
            XCTAssertEqual($0 as? Errno, .connectionReset, "a reset, not end of input")
        }
        try server.setLinger(seconds: nil)
    }

    func testOpen() throws {
        let file = try FileDescriptor.open("/proc/self/stat", .readOnly)
        defer { try? file.close() }
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertGreaterThan(try buffer.withUnsafeMutableBytes { try file.read(into: $0) }, 0)
        XCTAssertThrowsError(try FileDescriptor.open("/nonexistent/amqp", .readOnly)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
    }
}

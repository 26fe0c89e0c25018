import AMQPSystem
import Glibc
import XCTest

/// Real eventfds; nothing is mocked.
final class EventDescriptorTests: XCTestCase {
    func testCreateSetsFlags() throws {
        let nonBlocking = try EventDescriptor.create()
        let blocking = try EventDescriptor.create(nonBlocking: false)
        defer { try? nonBlocking.close(); try? blocking.close() }
        XCTAssertTrue(try nonBlocking.descriptor.isNonBlocking())
        XCTAssertFalse(try blocking.descriptor.isNonBlocking())
        for event in [nonBlocking, blocking] {
            XCTAssertEqual(fcntl(event.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
        }
    }

    func testDrainCountsSignalsAndResets() throws {
        let event = try EventDescriptor.create()
        defer { try? event.close() }
        XCTAssertEqual(event.drain(), 0)
        XCTAssertEqual(try event.descriptor.poll(for: .input, timeout: 0), [])
        event.signal()
        event.signal()
        event.signal()
        XCTAssertEqual(try event.descriptor.poll(for: .input, timeout: 0), .input)
        XCTAssertEqual(event.drain(), 3)
        XCTAssertEqual(event.drain(), 0)
        XCTAssertEqual(try event.descriptor.poll(for: .input, timeout: 0), [])
    }

    func testSignalLeavesErrnoAlone() {
        let event = EventDescriptor(FileDescriptor(rawValue: -1))
        errno = ENOTTY
        event.signal()  // write(2) fails with EBADF, which is ignored
        XCTAssertEqual(errno, ENOTTY)
    }

    func testBlockingDrainWaitsForASignalFromAnotherThread() throws {
        let event = try EventDescriptor.create(nonBlocking: false)
        defer { try? event.close() }
        let thread = try SystemThread.spawn {
            usleep(50_000)
            event.signal()
        }
        defer { thread.join() }
        let clock = ContinuousClock()
        var count: UInt64 = 0
        let waited = clock.measure { count = event.drain() }
        XCTAssertEqual(count, 1)
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(40))
        XCTAssertLessThan(waited, .seconds(5))
    }

    func testSignalFromASignalHandler() throws {
        let event = try EventDescriptor.create()
        defer { try? event.close() }
        SignalTarget.event = event
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in SignalTarget.event.signal() }
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        XCTAssertEqual(sigaction(SIGUSR1, &action, &previous), 0)
        defer { sigaction(SIGUSR1, &previous, nil) }
        // raise(3) runs the handler on this thread before it returns.
        XCTAssertEqual(raise(SIGUSR1), 0)
        XCTAssertEqual(raise(SIGUSR1), 0)
        XCTAssertEqual(event.drain(), 2)
    }
}

/// Where the test's signal handler finds its eventfd: a C handler captures nothing. Set before the
/// handler is installed, so the handler only reads it.
private enum SignalTarget {
    nonisolated(unsafe) static var event = EventDescriptor(FileDescriptor(rawValue: -1))
}

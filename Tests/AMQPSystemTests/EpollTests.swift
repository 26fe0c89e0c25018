import AMQPSystem
import Glibc
import XCTest

/// Real epoll instances over eventfds and socket pairs; nothing is mocked.
final class EpollTests: XCTestCase {
    func testCreateSetsCloseOnExec() throws {
        let epoll = try Epoll.create()
        defer { try? epoll.close() }
        XCTAssertEqual(fcntl(epoll.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
    }

    func testDataRoundTripsAllSixtyFourBits() throws {
        // struct epoll_event is packed on x86_64, with data at byte offset 4: every bit of every
        // byte must come back where it was put.
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? event.close(); try? epoll.close() }
        event.signal()
        try epoll.add(event.descriptor, events: .input, data: 0x1122_3344_5566_7788)
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 8, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 0x1122_3344_5566_7788)])
        for data: UInt64 in [0, 1, UInt64.max, 1 << 63, 0x8877_6655_4433_2211, 0xFFFF_FFFF, 0xFFFF_FFFF_0000_0000] {
            try epoll.modify(event.descriptor, events: .input, data: data)
            XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 8, timeout: 1000), 1)
            XCTAssertEqual(events, [Epoll.Event(events: .input, data: data)], "\(String(data, radix: 16))")
        }
    }

    func testEachRegistrationReportsItsOwnData() throws {
        let epoll = try Epoll.create()
        let events3 = try (0..<3).map { _ in try EventDescriptor.create() }
        defer { for e in events3 { try? e.close() }; try? epoll.close() }
        for (i, e) in events3.enumerated() {
            try epoll.add(e.descriptor, events: .input, data: 100 + UInt64(i))
        }
        events3[0].signal()
        events3[2].signal()
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 8, timeout: 1000), 2)
        XCTAssertEqual(Set(events), [Epoll.Event(events: .input, data: 100), Epoll.Event(events: .input, data: 102)])

        // maxEvents bounds one call.
        events3[1].signal()
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 2, timeout: 1000), 2)
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 8, timeout: 1000), 3)
        XCTAssertEqual(Set(events.map(\.data)), [100, 101, 102])
    }

    func testLevelTriggeredReportsUntilDrained() throws {
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? event.close(); try? epoll.close() }
        try epoll.add(event.descriptor, events: .input, data: 5)
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        event.signal()
        for _ in 0..<3 {
            XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
            XCTAssertEqual(events, [Epoll.Event(events: .input, data: 5)])
        }
        XCTAssertEqual(event.drain(), 1)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        XCTAssertEqual(events, [])
    }

    func testOneShotDisarmsUntilModified() throws {
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? event.close(); try? epoll.close() }
        try epoll.add(event.descriptor, events: [.input, .oneShot], data: 1)
        event.signal()
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 1)], "oneShot itself is never reported")

        // Still readable, but disarmed: nothing more, even after another signal.
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        event.signal()
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)

        // Re-armed with new data: reported once more, then disarmed again.
        try epoll.modify(event.descriptor, events: [.input, .oneShot], data: 2)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 2)])
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        XCTAssertEqual(event.drain(), 2)

        // Armed with nothing ready: waits; a signal from another thread then wakes it.
        try epoll.modify(event.descriptor, events: [.input, .oneShot], data: 3)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        let thread = try SystemThread.spawn { event.signal() }
        defer { thread.join() }
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 5000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 3)])
    }

    func testEdgeTriggeredReportsEachNewSignalOnce() throws {
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? event.close(); try? epoll.close() }
        try epoll.add(event.descriptor, events: [.input, .edgeTriggered], data: 9)
        event.signal()
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 9)])
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0, "no new edge")
        event.signal()
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(event.drain(), 2)
    }

    func testRemoveStopsReportsAndMisuseThrows() throws {
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? event.close(); try? epoll.close() }
        XCTAssertThrowsError(try epoll.modify(event.descriptor, events: .input, data: 0)) {
            XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory)
        }
        XCTAssertThrowsError(try epoll.remove(event.descriptor)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
        try epoll.add(event.descriptor, events: .input, data: 0)
        XCTAssertThrowsError(try epoll.add(event.descriptor, events: .input, data: 0)) { XCTAssertEqual($0 as? Errno, .fileExists) }
        event.signal()
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        try epoll.remove(event.descriptor)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 0), 0)
        XCTAssertThrowsError(try epoll.remove(event.descriptor)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
        XCTAssertThrowsError(try epoll.add(FileDescriptor(rawValue: -1), events: .input, data: 0)) {
            XCTAssertEqual($0 as? Errno, .badFileDescriptor)
        }
    }

    func testSocketPairReadinessAndHangUps() throws {
        let epoll = try Epoll.create()
        let (a, b) = try Socket.pair()
        defer { try? b.close(); try? epoll.close() }
        try epoll.add(b.descriptor, events: [.input, .output, .readHangUp], data: 7)
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .output, data: 7)], "an empty socket has room and nothing to read")

        _ = try [UInt8(1)].withUnsafeBytes { try a.send($0) }
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: [.input, .output], data: 7)])

        try a.shutdown(.write)
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events.first?.events, [.input, .output, .readHangUp])

        try a.close()
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 1000), 1)
        XCTAssertEqual(events.first?.events, [.input, .output, .readHangUp, .hangUp])
        XCTAssertEqual(events.first?.events.description, "[in,out,rdhup,hup]")
    }

    func testWaitTimesOutAndReplacesContentsKeepingCapacity() throws {
        let epoll = try Epoll.create()
        defer { try? epoll.close() }
        var events = Array(repeating: Epoll.Event(events: .error, data: 1), count: 32)
        let capacity = events.capacity
        let clock = ContinuousClock()
        var count = -1
        let waited = try clock.measure { count = try epoll.wait(into: &events, maxEvents: 16, timeout: 50) }
        XCTAssertEqual(count, 0)
        XCTAssertEqual(events, [])
        XCTAssertEqual(events.capacity, capacity)
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(45))
        XCTAssertLessThan(waited, .seconds(5))
    }

    func testWaitAfterCloseThrowsBadFileDescriptor() throws {
        let epoll = try Epoll.create()
        try epoll.close()
        var events: [Epoll.Event] = []
        XCTAssertThrowsError(try epoll.wait(into: &events, maxEvents: 1, timeout: 0)) {
            XCTAssertEqual($0 as? Errno, .badFileDescriptor)
        }
        XCTAssertThrowsError(try epoll.close()) { XCTAssertEqual($0 as? Errno, .badFileDescriptor) }
    }

    func testEventsAreTheCBits() {
        XCTAssertEqual(Epoll.Events.input.rawValue, 0x001)
        XCTAssertEqual(Epoll.Events.output.rawValue, 0x004)
        XCTAssertEqual(Epoll.Events.error.rawValue, 0x008)
        XCTAssertEqual(Epoll.Events.hangUp.rawValue, 0x010)
        XCTAssertEqual(Epoll.Events.readHangUp.rawValue, 0x2000)
        XCTAssertEqual(Epoll.Events.oneShot.rawValue, 1 << 30)
        XCTAssertEqual(Epoll.Events.edgeTriggered.rawValue, 1 << 31)
        XCTAssertEqual(Epoll.Events([.input, .oneShot, .edgeTriggered]).description, "[in,oneshot,et]")
    }
}

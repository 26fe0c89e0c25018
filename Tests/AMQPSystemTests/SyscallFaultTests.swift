import AMQPSystem
import Synchronization
import XCTest

/// Each failure a test can inject through the wrappers' hook (SyscallMock), and what the wrapper
/// does with it: `EINTR` retried (or returned, where retrying is wrong), `EAGAIN`, short reads and
/// writes, `ENOBUFS`, `EMFILE` and `ENFILE`; then the hook itself (windows, targets, scope).
/// Real sockets on loopback and socket pairs; only the faulted call is changed.
final class SyscallFaultTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(SyscallMock.isAvailable, "system-call faults exist only in debug builds (ENABLE_MOCKING)")
    }

    // MARK: EINTR

    func testInterruptedReadIsRetried() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        XCTAssertEqual(try send([1, 2, 3], on: b), 3)
        let eintr = SyscallFault.fail(.read, with: .interrupted, on: .descriptor(a.descriptor), times: 2)
        let got = try SyscallMock.with(eintr) { try read(from: a, upTo: 8) }
        XCTAssertEqual(got, [1, 2, 3])
        XCTAssertEqual(eintr.matched, 3, "two interrupted reads, then the real one")
        XCTAssertEqual(eintr.matches.map(\.applied), [true, true, false])
        XCTAssertEqual(Set(eintr.matches.map(\.descriptor)), [a.descriptor.rawValue])
    }

    func testInterruptedWriteAndSendAreRetriedAndWriteOnce() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let onWrite = SyscallFault.fail(.write, with: .interrupted, on: .descriptor(a.descriptor), times: 3)
        let onSend = SyscallFault.fail(.send, with: .interrupted, on: .descriptor(a.descriptor), times: 1)
        let (written, sent) = try SyscallMock.with(onWrite, onSend) {
            (try [UInt8]([1, 2]).withUnsafeBytes { try a.write($0) }, try send([3, 4, 5], on: a))
        }
        XCTAssertEqual(written, 2)
        XCTAssertEqual(sent, 3)
        XCTAssertEqual([onWrite.matched, onWrite.applied], [4, 3])
        XCTAssertEqual([onSend.matched, onSend.applied], [2, 1])
        // Every byte once: the interrupted calls wrote nothing.
        XCTAssertEqual(try read(from: b, upTo: 16), [1, 2, 3, 4, 5])
    }

    func testInterruptedAcceptIsRetried() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        defer { try? client.close() }
        let eintr = SyscallFault.fail(.accept, with: .interrupted, on: .localPort(port), times: 2)
        let server = try SyscallMock.with(eintr) { try listener.accept(nonBlocking: true) }
        defer { try? server.close() }
        XCTAssertEqual(try server.peerAddress().description, try client.localAddress().description)
        XCTAssertEqual([eintr.matched, eintr.applied], [3, 2])
        XCTAssertEqual(Set(eintr.matches.map(\.descriptor)), [listener.descriptor.rawValue])
    }

    func testInterruptedEpollWaitReturnsNoEventsAndIsNotRetried() throws {
        let epoll = try Epoll.create()
        let event = try EventDescriptor.create()
        defer { try? epoll.close(); try? event.close() }
        try epoll.add(event.descriptor, events: [.input], data: 7)
        event.signal()
        var events: [Epoll.Event] = [Epoll.Event(events: .output, data: 99)]
        let eintr = SyscallFault.fail(.epollWait, with: .interrupted, on: .descriptor(epoll.descriptor))
        let n = try SyscallMock.with(eintr) { try epoll.wait(into: &events, maxEvents: 8, timeout: 5000) }
        // Returned to the caller, which recomputes its timeout; the old reports are gone.
        XCTAssertEqual(n, 0)
        XCTAssertEqual(events, [])
        XCTAssertEqual([eintr.matched, eintr.applied], [1, 1])
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 8, timeout: 5000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .input, data: 7)])
    }

    func testInterruptedPollIsRetried() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        XCTAssertEqual(try send([9], on: b), 1)
        let eintr = SyscallFault.fail(.poll, with: .interrupted, on: .descriptor(a.descriptor), times: 2)
        var set = [PollDescriptor(a.descriptor, events: .input)]
        let ready = try SyscallMock.with(eintr) { try PollDescriptor.poll(&set, timeout: 5000) }
        XCTAssertEqual(ready, 1)
        XCTAssertEqual(set[0].returnedEvents, .input)
        XCTAssertEqual([eintr.matched, eintr.applied], [3, 2])
    }

    func testInterruptedCloseIsNotRetried() throws {
        let (a, b) = try Socket.pair()
        defer { try? b.close() }
        let eintr = SyscallFault.fail(.close, with: .interrupted, on: .descriptor(a.descriptor))
        XCTAssertThrowsError(try SyscallMock.with(eintr) { try a.close() }) { XCTAssertEqual($0 as? Errno, .interrupted) }
        XCTAssertEqual([eintr.matched, eintr.applied], [1, 1], "a retry could close a number another thread was just given")
        // The faulted close did nothing: the descriptor is still open, and closes now.
        XCTAssertFalse(try a.descriptor.isNonBlocking())
        try a.close()
        XCTAssertThrowsError(try a.descriptor.isNonBlocking()) { XCTAssertEqual($0 as? Errno, .badFileDescriptor) }
    }

    func testInterruptedSleepSleepsTheWholeDuration() throws {
        let eintr = SyscallFault.fail(.nanosleep, with: .interrupted, on: .callingThread, times: 2)
        let start = ContinuousClock.now
        SyscallMock.with(eintr) { SystemThread.sleep(for: .milliseconds(30)) }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(30))
        XCTAssertEqual([eintr.matched, eintr.applied], [3, 2])
    }

    // MARK: EAGAIN, short reads and writes

    func testWouldBlockSendSendsNothing() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let eagain = SyscallFault.fail(.send, with: .wouldBlock, on: .descriptor(a.descriptor))
        XCTAssertThrowsError(try SyscallMock.with(eagain) { try send([1, 2, 3], on: a, flags: [.noSignal, .dontWait]) }) {
            XCTAssertEqual($0 as? Errno, .wouldBlock)
        }
        XCTAssertEqual([eagain.matched, eagain.applied], [1, 1], "EAGAIN is not retried")
        try b.descriptor.setNonBlocking(true)
        XCTAssertThrowsError(try read(from: b, upTo: 8)) { XCTAssertEqual($0 as? Errno, .wouldBlock) }
        XCTAssertEqual(try send([1, 2, 3], on: a, flags: [.noSignal, .dontWait]), 3)
        XCTAssertEqual(try read(from: b, upTo: 8), [1, 2, 3])
    }

    func testShortSendReportsExactlyTheBytesWritten() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let bytes = Array(UInt8(0)..<10)
        let short = SyscallFault.limit(.send, to: 3, on: .descriptor(a.descriptor), times: 2)
        let counts = try SyscallMock.with(short) {
            // What a host does with a driver's output: send, drop what went, send the rest.
            var rest = bytes[...]
            var counts: [Int] = []
            while !rest.isEmpty {
                let n = try rest.withUnsafeBytes { try a.send($0) }
                counts.append(n)
                rest = rest.dropFirst(n)
            }
            return counts
        }
        XCTAssertEqual(counts, [3, 3, 4])
        XCTAssertEqual([short.matched, short.applied], [3, 2])
        try b.descriptor.setNonBlocking(true)
        XCTAssertEqual(try read(from: b, upTo: 64), bytes, "every byte once, in order")
    }

    func testShortReadReadsOnlyThatMany() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        XCTAssertEqual(try send([1, 2, 3, 4, 5], on: b), 5)
        let short = SyscallFault.limit(.read, to: 2, on: .descriptor(a.descriptor))
        XCTAssertEqual(try SyscallMock.with(short) { try read(from: a, upTo: 8) }, [1, 2])
        XCTAssertEqual(try read(from: a, upTo: 8), [3, 4, 5])
        XCTAssertEqual([short.matched, short.applied], [1, 1])
    }

    func testShortWriteOfZeroBytes() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let none = SyscallFault.limit(.write, to: 0, on: .descriptor(a.descriptor))
        XCTAssertEqual(try SyscallMock.with(none) { try [UInt8]([1, 2]).withUnsafeBytes { try a.write($0) } }, 0)
        XCTAssertEqual(try [UInt8]([1, 2]).withUnsafeBytes { try a.write($0) }, 2)
        XCTAssertEqual(try read(from: b, upTo: 8), [1, 2])
    }

    // MARK: ENOBUFS, EMFILE, ENFILE, ENOMEM

    func testNoBufferSpaceOnReceiveLeavesTheBytes() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        XCTAssertEqual(try send([4, 2], on: b), 2)
        let enobufs = SyscallFault.fail(.read, with: .noBufferSpace, on: .descriptor(a.descriptor))
        XCTAssertThrowsError(try SyscallMock.with(enobufs) { try read(from: a, upTo: 8) }) {
            XCTAssertEqual($0 as? Errno, .noBufferSpace)
            XCTAssertEqual("\($0)", "No buffer space available")
        }
        XCTAssertEqual([enobufs.matched, enobufs.applied], [1, 1], "only EINTR is retried")
        XCTAssertEqual(try read(from: a, upTo: 8), [4, 2])
    }

    func testOutOfDescriptorsOnAcceptLeavesTheConnectionPending() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        defer { try? client.close() }
        let emfile = SyscallFault.fail(.accept, with: .tooManyOpenFiles, on: .localPort(port))
        let enfile = SyscallFault.fail(.accept, with: .fileTableOverflow, on: .localPort(port), skip: 1)
        try SyscallMock.with(emfile, enfile) {
            XCTAssertThrowsError(try listener.accept(nonBlocking: true)) { XCTAssertEqual($0 as? Errno, .tooManyOpenFiles) }
            XCTAssertThrowsError(try listener.accept(nonBlocking: true)) { XCTAssertEqual($0 as? Errno, .fileTableOverflow) }
            // Still pending: the listener stays readable, and the next accept takes it.
            XCTAssertEqual(try listener.descriptor.poll(for: .input, timeout: 0), .input)
            let server = try listener.accept(nonBlocking: true)
            defer { try? server.close() }
            XCTAssertEqual(try server.peerAddress().description, try client.localAddress().description)
        }
        XCTAssertEqual(emfile.matches.map(\.applied), [true, false, false])
        XCTAssertEqual(enfile.matches.map(\.applied), [false, true, false])
    }

    func testOutOfDescriptorsOnEveryCallThatMakesOne() throws {
        let faults: [SystemCall] = [.socket, .socketpair, .epollCreate, .eventfd, .open]
        for call in faults {
            let emfile = SyscallFault.fail(call, with: .tooManyOpenFiles, on: .callingThread)
            let result: Result<Void, any Error> = SyscallMock.with(emfile) {
                Result { () throws in
                    switch call {
                    case .socket: try Socket.open(.ipv4, nonBlocking: true).close()
                    case .socketpair: let (a, b) = try Socket.pair(); try a.close(); try b.close()
                    case .epollCreate: try Epoll.create().close()
                    case .eventfd: try EventDescriptor.create().close()
                    default: try FileDescriptor.open("/dev/null", .readOnly).close()
                    }
                }
            }
            XCTAssertThrowsError(try result.get(), "\(call)") { XCTAssertEqual($0 as? Errno, .tooManyOpenFiles, "\(call)") }
            XCTAssertEqual([emfile.matched, emfile.applied], [1, 1], "\(call)")
        }
    }

    func testMappingFailureAndARealMapping() throws {
        let enomem = SyscallFault.fail(.mmap, with: .noMemory, on: .callingThread)
        XCTAssertThrowsError(try SyscallMock.with(enomem) { try MemoryMapping.anonymous(byteCount: 4096) }) {
            XCTAssertEqual($0 as? Errno, .noMemory)
        }
        XCTAssertEqual([enomem.matched, enomem.applied], [1, 1])
        let mapping = try MemoryMapping.anonymous(byteCount: 100)
        XCTAssertEqual(Int(bitPattern: mapping.baseAddress) % 4096, 0, "page-aligned")
        let bytes = UnsafeMutableRawBufferPointer(start: mapping.baseAddress, count: mapping.byteCount)
        XCTAssertEqual(Array(bytes), [UInt8](repeating: 0, count: 100), "zeroed")
        bytes[99] = 7
        XCTAssertEqual(bytes[99], 7)
        try mapping.unmap()
    }

    // MARK: the hook itself

    func testSkipTimesAndDescriptorTarget() throws {
        let (a, b) = try Socket.pair()
        let (c, d) = try Socket.pair()
        defer { for s in [a, b, c, d] { try? s.close() } }
        let fault = SyscallFault.fail(.send, with: .brokenPipe, on: .descriptor(a.descriptor), skip: 1, times: 2)
        let results: [Int?] = SyscallMock.with(fault) {
            (0..<4).map { _ in try? send([1], on: a) } + [try? send([2], on: c)]
        }
        XCTAssertEqual(results, [1, nil, nil, 1, 1])
        XCTAssertEqual(fault.matches.map(\.applied), [false, true, true, false], "the other pair's send is not matched")
        XCTAssertEqual(try read(from: b, upTo: 8), [1, 1])
        XCTAssertEqual(try read(from: d, upTo: 8), [2])
    }

    func testPortTargetsTellAListenersSocketsFromItsClients() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        let server = try listener.accept()
        defer { try? client.close(); try? server.close() }
        let serverSide = SyscallFault.limit(.send, to: 1, on: .localPort(port), times: SyscallFault.always)
        let clientSide = SyscallFault.limit(.send, to: 2, on: .peerPort(port), times: SyscallFault.always)
        let (fromServer, fromClient) = try SyscallMock.with(serverSide, clientSide) {
            (try send([1, 2, 3], on: server), try send([4, 5, 6], on: client))
        }
        XCTAssertEqual(fromServer, 1)
        XCTAssertEqual(fromClient, 2)
        XCTAssertEqual(serverSide.matches.map(\.descriptor), [server.descriptor.rawValue])
        XCTAssertEqual(clientSide.matches.map(\.descriptor), [client.descriptor.rawValue])
    }

    func testFaultsEndWithTheirScope() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let fault = SyscallFault.fail(.send, with: .brokenPipe, on: .descriptor(a.descriptor), times: SyscallFault.always)
        XCTAssertNil(SyscallMock.with(fault) { try? send([1], on: a) })
        XCTAssertEqual(try send([1], on: a), 1)
        XCTAssertEqual(fault.matched, 1, "no call is matched after the scope")
    }

    func testTheFirstFaultWhoseWindowHoldsTheCallDecides() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let first = SyscallFault.fail(.send, with: .wouldBlock, on: .descriptor(a.descriptor))
        let second = SyscallFault.fail(.send, with: .brokenPipe, on: .descriptor(a.descriptor), times: 2)
        let errors: [Errno?] = SyscallMock.with(first, second) {
            (0..<3).map { _ in
                do { _ = try send([1], on: a); return nil } catch { return error as? Errno }
            }
        }
        XCTAssertEqual(errors, [.wouldBlock, .brokenPipe, nil], "both match every call; the first decides the first")
        XCTAssertEqual(first.matches.map(\.applied), [true, false, false])
        XCTAssertEqual(second.matches.map(\.applied), [true, true, false])
    }

    // MARK: helpers

    private func send(_ bytes: [UInt8], on socket: Socket, flags: Socket.SendFlags = .noSignal) throws -> Int {
        try bytes.withUnsafeBytes { try socket.send($0, flags: flags) }
    }

    private func read(from socket: Socket, upTo count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
        return Array(buffer.prefix(n))
    }

    private func listenOnLoopback() throws -> (Socket, UInt16) {
        let address = try XCTUnwrap(SocketAddress.resolve(host: "127.0.0.1", port: "0").first)
        let socket = try Socket.open(.ipv4, nonBlocking: false)
        try socket.setReuseAddress(true)
        try socket.bind(to: address)
        try socket.listen()
        return (socket, try XCTUnwrap(socket.localAddress().port))
    }
}

/// The hook is process-wide: faults installed by the test's thread change calls made on others
/// (as a proactor's pool threads make them), and the record stays exact. Run under the thread
/// sanitizer with the other threaded tests.
final class SyscallFaultThreadTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(SyscallMock.isAvailable, "system-call faults exist only in debug builds (ENABLE_MOCKING)")
    }

    func testFaultsReachCallsOnOtherThreads() throws {
        let pairs = try (0..<4).map { _ in try Socket.pair() }
        defer { for (a, b) in pairs { try? a.close(); try? b.close() } }
        let faults = pairs.map { SyscallFault.fail(.read, with: .interrupted, on: .descriptor($0.0.descriptor), times: 5) }
        let totals = Atomic<Int>(0)
        SyscallMock.with(faults) {
            let threads = pairs.map { (a, _) in
                try? SystemThread.spawn(name: "reader") {
                    var sum = 0
                    var buffer = [UInt8](repeating: 0, count: 64)
                    // 100 bytes, each read retried five times on the first call.
                    while sum < 100, let n = try? buffer.withUnsafeMutableBytes({ try a.read(into: $0) }), n > 0 { sum += n }
                    totals.add(sum, ordering: .relaxed)
                }
            }
            for (_, b) in pairs { _ = [UInt8](repeating: 1, count: 100).withUnsafeBytes { try? b.send($0) } }
            for t in threads { t?.join() }
        }
        XCTAssertEqual(totals.load(ordering: .relaxed), 400)
        for fault in faults {
            XCTAssertEqual(fault.applied, 5)
            XCTAssertEqual(fault.matches.prefix(6).map(\.applied), [true, true, true, true, true, false])
        }
    }

    func testScopesOnTwoThreadsDoNotOverlap() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let inside = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        let threads = try (0..<2).map { _ in
            try SystemThread.spawn(name: "scope") {
                for _ in 0..<50 {
                    let fault = SyscallFault.fail(.send, with: .brokenPipe, on: .descriptor(a.descriptor))
                    SyscallMock.with(fault) {
                        if inside.add(1, ordering: .acquiringAndReleasing).newValue != 1 { overlapped.store(true, ordering: .relaxed) }
                        _ = [UInt8(1)].withUnsafeBytes { try? a.send($0) }
                        inside.subtract(1, ordering: .acquiringAndReleasing)
                    }
                    if fault.applied != 1 { overlapped.store(true, ordering: .relaxed) }
                }
            }
        }
        for t in threads { t.join() }
        XCTAssertFalse(overlapped.load(ordering: .relaxed))
    }
}

import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPProactor
import AMQPSystem
import PollPoller
import Synchronization
import XCTest

/// The readiness backends (epoll, and PollPoller on poll(2)) meeting each failure the kernel can
/// give them, injected through AMQPSystem's hook (SyscallMock) into one pair's sockets: `EINTR`
/// on the wait, reads, sends and accepts; `EAGAIN` on a send; short sends; `ENOBUFS` on a receive;
/// `EMFILE` and `ENFILE` on accept. Each test checks the fault's exact record and that the peer got
/// every message once, in order (or, for a fatal error, the exact error).
final class ReadinessSyscallFaultTests: XCTestCase {
    private let backends: [(String, @Sendable () throws -> any Proactor)] = [
        ("epoll", { try EpollProactor.epoll() }),
        ("poll", { try PollProactor.poll() }),
    ]

    override func setUpWithError() throws {
        try XCTSkipUnless(SyscallMock.isAvailable, "system-call faults exist only in debug builds (ENABLE_MOCKING)")
    }

    func testInterruptedWaitIsHandled() throws {
        for (name, make) in backends {
            let pair = try MessagePair(count: 50, size: 200)
            // The wait of either poller: epoll_wait(2) returns at once, poll(2) is retried.
            let eintr = SyscallFault.fail(name == "epoll" ? .epollWait : .poll, with: .interrupted, times: 5)
            SyscallMock.with(eintr) { pair.run(on: try! make()) }
            pair.assertEveryMessageArrivedOnce(name)
            XCTAssertEqual(eintr.applied, 5, name)
            XCTAssertGreaterThan(eintr.matched, 5, name)
        }
    }

    func testInterruptedReadsSendsAndAcceptsAreRetried() throws {
        for (name, make) in backends {
            let pair = try MessagePair(count: 50, size: 200)
            let reads = SyscallFault.fail(.read, with: .interrupted, on: .localPort(pair.port), times: 3)
            let sends = SyscallFault.fail(.send, with: .interrupted, on: .peerPort(pair.port), times: 3)
            let accepts = SyscallFault.fail(.accept, with: .interrupted, on: .localPort(pair.port), times: 2)
            SyscallMock.with(reads, sends, accepts) { pair.run(on: try! make()) }
            pair.assertEveryMessageArrivedOnce(name)
            XCTAssertEqual(reads.matches.prefix(4).map(\.applied), [true, true, true, false], "\(name): retried at once")
            XCTAssertEqual(sends.matches.prefix(4).map(\.applied), [true, true, true, false], name)
            XCTAssertEqual(accepts.matches.prefix(3).map(\.applied), [true, true, false], name)
            XCTAssertEqual(Set(accepts.matches.map(\.descriptor)).count, 1, "\(name): the listener's")
        }
    }

    func testWouldBlockSendLeavesOutputPendingAndArmsForWrite() throws {
        for (name, make) in [("epoll", { try EpollPoller() as any ReadinessPoller }), ("poll", { try PollPoller() as any ReadinessPoller })] {
            let pair = try MessagePair(count: 20, size: 100)
            let poller = RecordingPoller(try make())
            // The client's first two sends: the one in its first connected batch, the one at done.
            let eagain = SyscallFault.fail(.send, with: .wouldBlock, on: .peerPort(pair.port), times: 2)
            SyscallMock.with(eagain) { pair.run(on: ReadinessProactor(poller: poller)) }
            pair.assertEveryMessageArrivedOnce(name)
            XCTAssertEqual(eagain.matches.prefix(3).map(\.applied), [true, true, false], name)
            let client = try XCTUnwrap(eagain.matches.first?.descriptor)
            let arms = poller.interests(of: client)
            // Connecting: writable. Then the output EAGAIN left: read and write, once; once it went,
            // read alone (small messages always fit, so no other arming asks for write).
            XCTAssertEqual(Array(arms.prefix(3)), [.write, [.read, .write], .read], "\(name): \(arms)")
            XCTAssertEqual(arms.filter { $0.contains(.write) }.count, 2, "\(name): \(arms)")
        }
    }

    func testShortSendsDeliverEveryByteOnce() throws {
        for (name, make) in backends {
            // 50 KB from the client (its early write included) 7 bytes per send; the server's
            // flows and dispositions 5 bytes per send.
            let pair = try MessagePair(count: 50, size: 1000)
            let client = SyscallFault.limit(.send, to: 7, on: .peerPort(pair.port), times: SyscallFault.always)
            let server = SyscallFault.limit(.send, to: 5, on: .localPort(pair.port), times: SyscallFault.always)
            SyscallMock.with(client, server) { pair.run(on: try! make()) }
            pair.assertEveryMessageArrivedOnce(name)
            XCTAssertEqual(client.applied, client.matched, name)
            XCTAssertGreaterThanOrEqual(client.matched, 50 * 1000 / 7, "\(name): at most 7 bytes a send")
            XCTAssertEqual(server.applied, server.matched, name)
            XCTAssertGreaterThan(server.matched, 0, name)
        }
    }

    func testShortSendAdvancesTheDriverByExactlyTheBytesWritten() throws {
        // What every backend does with a short send: writeDone(n) with what went, the rest stays
        // pending, nothing repeats.
        let driver = ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: "short"))
        driver.connection.open()
        let session = driver.connection.session()
        session.begin()
        session.sender(name: "s", target: "q").attach()
        let output = Array(driver.pendingOutput)
        XCTAssertGreaterThan(output.count, 20)
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let short = SyscallFault.limit(.send, to: 5, on: .descriptor(a.descriptor), times: SyscallFault.always)
        let written = try SyscallMock.with(short) { () throws -> [Int] in
            var written: [Int] = []
            while !driver.pendingOutput.isEmpty {
                let before = Array(driver.pendingOutput)
                let n = try driver.pendingOutput.withUnsafeBytes { try a.send($0) }
                driver.writeDone(n)
                XCTAssertEqual(Array(driver.pendingOutput), Array(before.dropFirst(n)))
                written.append(n)
            }
            return written
        }
        XCTAssertEqual(written, Array(repeating: 5, count: output.count / 5) + (output.count % 5 == 0 ? [] : [output.count % 5]))
        XCTAssertEqual(short.matched, written.count)
        try b.descriptor.setNonBlocking(true)
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while let n = try? buffer.withUnsafeMutableBytes({ try b.read(into: $0) }), n > 0 { got += buffer.prefix(n) }
        XCTAssertEqual(got, output, "the peer gets every byte once, in order")
    }

    func testNoBufferSpaceOnReceiveEndsTheConnectionWithAnIOError() throws {
        for (name, make) in backends {
            let pair = try MessagePair(count: 10, size: 100)
            let enobufs = SyscallFault.fail(.read, with: .noBufferSpace, on: .localPort(pair.port))
            SyscallMock.with(enobufs) { pair.run(on: try! make()) }
            XCTAssertEqual([enobufs.matched, enobufs.applied], [1, 1], "\(name): the connection ends at the first read")
            let serverErrors = pair.errors.withLock { $0.filter { $0.hasPrefix("server") } }
            XCTAssertEqual(serverErrors, ["server: proton:io: read from accepted connection: No buffer space available"], name)
            XCTAssertEqual(pair.closed.load(ordering: .relaxed), 2, "\(name): both ends closed, once each")
            XCTAssertEqual(pair.settled.load(ordering: .relaxed), 0, name)
            XCTAssertFalse(pair.timedOut.load(ordering: .relaxed), name)
        }
    }

    func testOutOfDescriptorsOnAcceptBacksTheListenerOff() throws {
        for (name, make) in backends {
            for error in [Errno.tooManyOpenFiles, .fileTableOverflow] {
                let pair = try MessagePair(count: 10, size: 100)
                let fault = SyscallFault.fail(.accept, with: error, on: .localPort(pair.port), times: 3)
                SyscallMock.with(fault) { pair.run(on: try! make()) }
                pair.assertEveryMessageArrivedOnce("\(name), \(error)")
                let matches = fault.matches
                // Three failures, each followed by a back-off of 100 ms (no descriptor closes
                // meanwhile to cut it short), then the connection; then EAGAIN.
                XCTAssertEqual(matches.prefix(5).map(\.applied), [true, true, true, false, false], "\(name), \(error)")
                if name == "epoll" {
                    XCTAssertEqual(matches.count, 5, "\(name), \(error): one accept per back-off, and no spinning")
                }
                for i in 0..<3 where matches.count > i + 1 {
                    XCTAssertGreaterThanOrEqual(matches[i + 1].time - matches[i].time, .milliseconds(100), "\(name), \(error): back-off \(i)")
                }
            }
        }
    }
}

/// A listener on a port chosen beforehand (so that faults can name its sockets), and one client
/// that sends `count` messages of `size` bytes; the server accepts each and the client closes
/// once all are accepted. Records what the server received, in order, and every error.
final class MessagePair: Sendable {
    let port: UInt16
    let count: Int
    let size: Int
    let payloads = LockedValue<[[UInt8]]>([])
    let settled = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    let errors = LockedValue<[String]>([])
    let timedOut = Atomic<Bool>(false)
    private let listener = LockedValue<ProactorListener?>(nil)

    init(count: Int, size: Int) throws {
        self.count = count
        self.size = size
        // The kernel's choice of a free port, freed again for the listener (SO_REUSEADDR).
        let probe = try Socket.open(.ipv4, nonBlocking: false)
        defer { try? probe.close() }
        try probe.bind(to: SocketAddress.resolve(host: "127.0.0.1", port: "0")[0])
        port = try probe.localAddress().port ?? 0
    }

    /// Message `i`: its number in the first two bytes, then bytes counting up from it.
    func payload(_ i: Int) -> [UInt8] {
        (0..<size).map { k in k == 0 ? UInt8(i >> 8) : k == 1 ? UInt8(i & 0xff) : UInt8(truncatingIfNeeded: i + k) }
    }

    /// Runs the pair on two threads until the proactor is inactive, or 30 s.
    func run(on proactor: any Proactor) {
        proactor.listen(on: "127.0.0.1:\(port)", backlog: 8)
        proactor.setTimeout(.seconds(30))
        try? ProactorThreadPool.run(proactor, threads: 2) { [self] batch in
            while let event = batch.next() { handle(event, batch, proactor) }
        }
    }

    private func handle(_ event: ProactorBatchEvent, _ batch: ProactorBatch, _ proactor: any Proactor) {
        switch event {
        case .proactor(.listenerOpen(let l)):
            listener.withLock { $0 = l }
            proactor.connect(to: "127.0.0.1:\(port)", configuration: DriverConfiguration(containerID: "client"))
        case .proactor(.listenerAccept(let l)):
            l.accept(configuration: DriverConfiguration(containerID: "server"))
        case .proactor(.listenerClose(_, let error?)):
            errors.withLock { $0.append("listener: \(error.condition): \(error.description ?? "")") }
        case .proactor(.timeout):
            timedOut.store(true, ordering: .relaxed)
            listener.withLock { $0?.close() }
            proactor.disconnect(AMQPError(condition: ErrorCondition.connectionForced, description: "timed out"))
        case .amqp(let e):
            guard let driver = batch.driver else { return }
            if driver.mode == .server { server(e) } else { client(e) }
            if case .transportClosed = e, closed.add(1, ordering: .relaxed).newValue == 2 {
                listener.withLock { $0?.close() }
                proactor.cancelTimeout()
            }
        default:
            break
        }
    }

    private func server(_ e: AMQPEvent) {
        switch e {
        case .connectionRemoteOpen(let c): c.open()
        case .sessionRemoteBegin(let s): s.begin()
        case .linkRemoteOpen(let l):
            l.localTarget = l.remoteAttach?.target?.target
            l.attach()
            l.flow(credit: UInt32(count))
        case .delivery(let d) where !d.isPartial && !d.locallySettled:
            let bytes = Array(d.readPayload())
            payloads.withLock { $0.append(bytes) }
            d.accept()
        case .linkRemoteClose(let l): l.close()
        case .sessionRemoteEnd(let s): s.end()
        case .connectionRemoteClose(let c): c.close()
        case .transportError(let error): errors.withLock { $0.append("server: \(error.condition): \(error.description ?? "")") }
        default: break
        }
    }

    private func client(_ e: AMQPEvent) {
        switch e {
        case .connectionInit(let c):
            c.open()
            let s = c.session()
            s.begin()
            s.sender(name: "sender", target: "queue").attach()
        case .linkFlow(let l) where l.role == .sender:
            while l.credit > UInt32(l.queued) && Int(l.deliveryCount) + l.queued < count {
                l.send(payload(Int(l.deliveryCount) + l.queued))
            }
        case .delivery(let d) where d.remotelySettled:
            if d.remoteState == .accepted, settled.add(1, ordering: .relaxed).newValue == count {
                d.link.session.connection.close()
            }
        case .transportError(let error): errors.withLock { $0.append("client: \(error.condition): \(error.description ?? "")") }
        default: break
        }
    }

    /// Every message arrived once, in order, intact; every one was accepted; no error; both ends
    /// closed once.
    func assertEveryMessageArrivedOnce(_ context: String, file: StaticString = #filePath, line: UInt = #line) {
        let got = payloads.withLock { $0 }
        XCTAssertEqual(got.count, count, "\(context): messages received", file: file, line: line)
        XCTAssertTrue(got == (0..<count).map(payload), "\(context): a message repeated, lost, reordered or changed", file: file, line: line)
        XCTAssertEqual(settled.load(ordering: .relaxed), count, "\(context): accepted", file: file, line: line)
        XCTAssertEqual(errors.withLock { $0 }, [], "\(context): errors", file: file, line: line)
        XCTAssertEqual(closed.load(ordering: .relaxed), 2, "\(context): transport-closed events", file: file, line: line)
        XCTAssertFalse(timedOut.load(ordering: .relaxed), "\(context): timed out", file: file, line: line)
    }
}

/// A poller that records every arming, then does what `base` does.
final class RecordingPoller: ReadinessPoller {
    private let base: any ReadinessPoller
    private let arms = LockedValue<[(CInt, ReadinessInterest)]>([])

    init(_ base: any ReadinessPoller) { self.base = base }

    /// The interests `descriptor` was armed with, in order.
    func interests(of descriptor: CInt) -> [ReadinessInterest] {
        arms.withLock { $0.filter { $0.0 == descriptor }.map(\.1) }
    }

    func register(_ descriptor: FileDescriptor, token: UInt64) throws(Errno) { try base.register(descriptor, token: token) }

    func arm(_ descriptor: FileDescriptor, token: UInt64, interest: ReadinessInterest) throws(Errno) {
        arms.withLock { $0.append((descriptor.rawValue, interest)) }
        try base.arm(descriptor, token: token, interest: interest)
    }

    func deregister(_ descriptor: FileDescriptor) throws(Errno) { try base.deregister(descriptor) }

    func wait(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) throws(Errno) {
        try base.wait(until: deadline, into: &events)
    }

    func wake() { base.wake() }
}

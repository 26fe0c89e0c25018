import AMQPSystem
import XCTest

/// Real system calls on socket pairs and loopback TCP; nothing is mocked.
final class SocketTests: XCTestCase {
    func testSocketPairReadWriteRoundTrip() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let sent: [UInt8] = Array("hello, pair".utf8)
        let written = try sent.withUnsafeBytes { try a.write($0) }
        XCTAssertEqual(written, sent.count)
        var received = [UInt8](repeating: 0, count: 64)
        let count = try received.withUnsafeMutableBytes { try b.read(into: $0) }
        XCTAssertEqual(Array(received.prefix(count)), sent)
    }

    func testLoopbackListenConnectAcceptRoundTrip() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        defer { try? client.close() }
        try client.setNoDelay(true)
        let server = try listener.accept()
        defer { try? server.close() }
        XCTAssertEqual(try server.localAddress().port, port)
        XCTAssertEqual(try server.localAddress().description, "127.0.0.1:\(port)")

        // Both directions, and more than one socket buffer's worth, so reads come back partial.
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var got: [UInt8] = []
        var offset = 0
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while got.count < big.count {
            if offset < big.count {
                do {
                    offset += try big[offset...].withUnsafeBytes { try client.send($0, flags: [.noSignal, .dontWait]) }
                } catch let error as Errno where error == .wouldBlock {
                    // the socket buffers are full until the server reads
                }
            }
            if try server.descriptor.poll(for: .input, timeout: 1000).contains(.input) {
                let n = try chunk.withUnsafeMutableBytes { try server.read(into: $0) }
                XCTAssertGreaterThan(n, 0)
                got += chunk.prefix(n)
            }
        }
        XCTAssertEqual(got, big)

        let reply: [UInt8] = [1, 2, 3]
        _ = try reply.withUnsafeBytes { try server.send($0) }
        let n = try chunk.withUnsafeMutableBytes { try client.read(into: $0) }
        XCTAssertEqual(Array(chunk.prefix(n)), reply)
    }

    func testShutdownWriteGivesEndOfInput() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        try a.shutdown(.write)
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try b.read(into: $0) }, 0)
    }

    func testConnectRefusedThrowsErrno() throws {
        // Bind a port without listening: connecting to it is refused.
        let (socket, port) = try bindOnLoopback()
        defer { try? socket.close() }
        XCTAssertThrowsError(try Socket.connect(host: "127.0.0.1", port: "\(port)")) { error in
            XCTAssertEqual(error as? Errno, .connectionRefused)
            XCTAssertEqual("\(error)", "Connection refused")
        }
    }

    func testUnknownServiceThrowsAddressResolutionError() {
        XCTAssertThrowsError(try SocketAddress.resolve(host: "127.0.0.1", port: "no-such-service-here")) { error in
            XCTAssertTrue(error is AddressResolutionError, "\(error)")
        }
    }

    func testReadAfterCloseThrowsBadFileDescriptor() throws {
        let (a, b) = try Socket.pair()
        defer { try? b.close() }
        try a.close()
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try a.read(into: $0) }) { error in
            XCTAssertEqual(error as? Errno, .badFileDescriptor)
        }
        XCTAssertThrowsError(try a.close()) { XCTAssertEqual($0 as? Errno, .badFileDescriptor) }
    }

    func testSendToClosedPeerThrowsBrokenPipeInsteadOfSignal() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close() }
        try b.close()
        let bytes: [UInt8] = [1]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try a.send($0) }) { error in
            XCTAssertEqual(error as? Errno, .brokenPipe)
        }
    }

    func testNonBlockingReadThrowsWouldBlock() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        XCTAssertFalse(try a.descriptor.isNonBlocking())
        try a.descriptor.setNonBlocking(true)
        XCTAssertTrue(try a.descriptor.isNonBlocking())
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try a.read(into: $0) }) { error in
            XCTAssertEqual(error as? Errno, .wouldBlock)
        }
        try a.descriptor.setNonBlocking(false)
        XCTAssertFalse(try a.descriptor.isNonBlocking())
    }

    func testPollTimesOutThenReportsReadiness() throws {
        let (a, b) = try Socket.pair()
        defer { try? a.close(); try? b.close() }
        let clock = ContinuousClock()
        var ready: PollEvents = []
        let waited = try clock.measure { ready = try b.descriptor.poll(for: .input, timeout: 50) }
        XCTAssertEqual(ready, [])
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(45))
        XCTAssertEqual(try b.descriptor.poll(for: .output, timeout: 0), .output, "an empty socket has room")

        _ = try [UInt8(9)].withUnsafeBytes { try a.write($0) }
        XCTAssertEqual(try b.descriptor.poll(for: .input, timeout: 1000), .input)
    }

    func testPollManyDescriptors() throws {
        let (a, b) = try Socket.pair()
        let (c, d) = try Socket.pair()
        defer { for s in [a, b, c, d] { try? s.close() } }
        _ = try [UInt8(1)].withUnsafeBytes { try c.write($0) }
        var set = [PollDescriptor(b.descriptor, events: .input), PollDescriptor(d.descriptor, events: .input)]
        XCTAssertEqual(try PollDescriptor.poll(&set, timeout: 1000), 1)
        XCTAssertEqual(set.map(\.returnedEvents), [[], .input])

        try a.close()
        XCTAssertEqual(try PollDescriptor.poll(&set, timeout: 1000), 2)
        XCTAssertTrue(set[0].returnedEvents.contains(.hangUp), "\(set[0].returnedEvents)")
    }

    func testErrnoDescriptionIsTheSystemMessage() {
        XCTAssertEqual(Errno.connectionRefused.description, "Connection refused")
        XCTAssertEqual(Errno.badFileDescriptor.description, "Bad file descriptor")
        XCTAssertEqual(Errno(rawValue: 0x7fff_0000).description, "Unknown error 2147418112")
    }

    // MARK: helpers

    private func bindOnLoopback() throws -> (Socket, UInt16) {
        let address = try XCTUnwrap(SocketAddress.resolve(host: "127.0.0.1", port: "0", passive: true).first)
        let socket = try Socket.open(address.family)
        try socket.setReuseAddress(true)
        try socket.bind(to: address)
        return (socket, try XCTUnwrap(socket.localAddress().port))
    }

    private func listenOnLoopback() throws -> (Socket, UInt16) {
        let (socket, port) = try bindOnLoopback()
        try socket.listen()
        return (socket, port)
    }
}

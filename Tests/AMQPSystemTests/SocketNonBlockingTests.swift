import AMQPSystem
import Glibc
import XCTest

/// Non-blocking sockets on loopback TCP, as an event loop uses them; nothing is mocked.
final class SocketNonBlockingTests: XCTestCase {
    func testOpenSetsNonBlockingAndCloseOnExec() throws {
        let nonBlocking = try Socket.open(.ipv4, nonBlocking: true)
        let blocking = try Socket.open(.ipv6, nonBlocking: false)
        defer { try? nonBlocking.close(); try? blocking.close() }
        XCTAssertTrue(try nonBlocking.descriptor.isNonBlocking())
        XCTAssertFalse(try blocking.descriptor.isNonBlocking())
        for socket in [nonBlocking, blocking] {
            XCTAssertEqual(fcntl(socket.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
            XCTAssertNil(try socket.pendingError())
        }
        XCTAssertThrowsError(try nonBlocking.peerAddress()) { XCTAssertEqual($0 as? Errno, .notConnected) }
    }

    func testNonBlockingConnectToListenerBecomesWritableWithNoError() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let address = try loopback(port: port)
        let client = try Socket.open(address.family, nonBlocking: true)
        defer { try? client.close() }
        XCTAssertThrowsError(try client.connect(to: address)) { XCTAssertEqual($0 as? Errno, .inProgress) }

        let epoll = try Epoll.create()
        defer { try? epoll.close() }
        try epoll.add(client.descriptor, events: [.output, .oneShot], data: 42)
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 5000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: .output, data: 42)])
        XCTAssertNil(try client.pendingError())
        XCTAssertEqual(try client.peerAddress().description, "127.0.0.1:\(port)")

        let server = try listener.accept(nonBlocking: true)
        defer { try? server.close() }
        XCTAssertTrue(try server.descriptor.isNonBlocking())
        XCTAssertEqual(fcntl(server.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
        XCTAssertEqual(try server.peerAddress().description, try client.localAddress().description)
        XCTAssertEqual(try server.localAddress().description, "127.0.0.1:\(port)")

        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try server.read(into: $0) }) {
            XCTAssertEqual($0 as? Errno, .wouldBlock)
        }
        _ = try [UInt8(7)].withUnsafeBytes { try client.send($0) }
        XCTAssertEqual(try server.descriptor.poll(for: .input, timeout: 5000), .input)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try server.read(into: $0) }, 1)
        XCTAssertEqual(buffer[0], 7)
    }

    func testNonBlockingConnectToClosedPortReportsRefused() throws {
        // Bound without listening: the kernel answers a SYN with a reset.
        let (bound, port) = try bindOnLoopback()
        defer { try? bound.close() }
        let client = try Socket.open(.ipv4, nonBlocking: true)
        defer { try? client.close() }
        XCTAssertThrowsError(try client.connect(to: try loopback(port: port))) { XCTAssertEqual($0 as? Errno, .inProgress) }

        let epoll = try Epoll.create()
        defer { try? epoll.close() }
        try epoll.add(client.descriptor, events: [.output, .oneShot], data: 1)
        var events: [Epoll.Event] = []
        XCTAssertEqual(try epoll.wait(into: &events, maxEvents: 4, timeout: 5000), 1)
        XCTAssertEqual(events, [Epoll.Event(events: [.output, .error, .hangUp], data: 1)])
        XCTAssertEqual(try client.pendingError(), .connectionRefused)
        XCTAssertNil(try client.pendingError(), "reading SO_ERROR clears it")
        XCTAssertThrowsError(try client.peerAddress()) { XCTAssertEqual($0 as? Errno, .notConnected) }
    }

    func testAcceptOnEmptyNonBlockingListenerThrowsWouldBlock() throws {
        let address = try loopback(port: 0)
        let listener = try Socket.open(address.family, nonBlocking: true)
        defer { try? listener.close() }
        try listener.bind(to: address)
        try listener.listen()
        let port = try XCTUnwrap(listener.localAddress().port)
        XCTAssertThrowsError(try listener.accept(nonBlocking: true)) { XCTAssertEqual($0 as? Errno, .wouldBlock) }
        XCTAssertThrowsError(try listener.accept(nonBlocking: false)) { XCTAssertEqual($0 as? Errno, .wouldBlock) }
        XCTAssertThrowsError(try listener.accept()) { XCTAssertEqual($0 as? Errno, .wouldBlock) }

        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        defer { try? client.close() }
        XCTAssertEqual(try listener.descriptor.poll(for: .input, timeout: 5000), .input)
        let server = try listener.accept(nonBlocking: false)
        defer { try? server.close() }
        XCTAssertFalse(try server.descriptor.isNonBlocking())
        XCTAssertEqual(fcntl(server.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
        XCTAssertThrowsError(try listener.accept(nonBlocking: true)) { XCTAssertEqual($0 as? Errno, .wouldBlock) }
    }

    func testBlockingAcceptSetsCloseOnExec() throws {
        let (listener, port) = try listenOnLoopback()
        defer { try? listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: "\(port)")
        defer { try? client.close() }
        let server = try listener.accept()
        defer { try? server.close() }
        XCTAssertFalse(try server.descriptor.isNonBlocking())
        XCTAssertEqual(fcntl(server.descriptor.rawValue, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
    }

    func testNewErrnoNamesAreTheSystemErrors() {
        XCTAssertEqual(Errno.tooManyOpenFiles.description, "Too many open files")
        XCTAssertEqual(Errno.fileTableOverflow.description, "Too many open files in system")
        XCTAssertEqual(Errno.connectionAborted.description, "Software caused connection abort")
        XCTAssertEqual(Errno.addressNotAvailable.description, "Cannot assign requested address")
        XCTAssertEqual(Errno.noBufferSpace.description, "No buffer space available")
        XCTAssertEqual(Errno.noMemory.description, "Cannot allocate memory")
        XCTAssertEqual(Errno.noSuchFileOrDirectory.description, "No such file or directory")
        XCTAssertEqual(Errno.fileExists.description, "File exists")
        XCTAssertEqual(Errno.notPermitted.description, "Operation not permitted")
    }

    // MARK: helpers

    private func loopback(port: UInt16) throws -> SocketAddress {
        try XCTUnwrap(SocketAddress.resolve(host: "127.0.0.1", port: "\(port)").first)
    }

    private func bindOnLoopback() throws -> (Socket, UInt16) {
        let socket = try Socket.open(.ipv4, nonBlocking: false)
        try socket.setReuseAddress(true)
        try socket.bind(to: loopback(port: 0))
        return (socket, try XCTUnwrap(socket.localAddress().port))
    }

    private func listenOnLoopback() throws -> (Socket, UInt16) {
        let (socket, port) = try bindOnLoopback()
        try socket.listen()
        return (socket, port)
    }
}

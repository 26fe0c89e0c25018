import Glibc

/// A socket descriptor, with one thin wrapper per socket system call.
///
/// Sockets are created with `SOCK_CLOEXEC`. Like ``FileDescriptor`` it does not close itself;
/// call ``close()`` exactly once.
///
/// Threading: a value; `Sendable`. The kernel object behind it is shared by every copy.
@frozen
public struct Socket: Hashable, Sendable {
    /// The underlying descriptor, for ``FileDescriptor/read(into:)`` and poll(2).
    public let descriptor: FileDescriptor

    /// Treats `descriptor` as a socket; nothing is checked.
    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    /// Which direction ``shutdown(_:)`` closes (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`).
    public enum ShutdownKind: Sendable {
        /// No more reads; `SHUT_RD`.
        case read
        /// No more writes; the peer reads end of input. `SHUT_WR`.
        case write
        /// Both; `SHUT_RDWR`.
        case readWrite
    }

    /// Flags for ``send(_:flags:)`` (`MSG_*`).
    public struct SendFlags: OptionSet, Hashable, Sendable {
        /// The C `MSG_*` bits.
        public let rawValue: CInt
        /// Wraps C `MSG_*` bits.
        public init(rawValue: CInt) { self.rawValue = rawValue }

        /// `MSG_NOSIGNAL`: a gone peer gives ``Errno/brokenPipe`` instead of killing the process
        /// with `SIGPIPE`.
        public static let noSignal = SendFlags(rawValue: CInt(MSG_NOSIGNAL))
        /// `MSG_DONTWAIT`: this one call does not block, even on a blocking socket; it writes what
        /// fits and throws ``Errno/wouldBlock`` when nothing does.
        public static let dontWait = SendFlags(rawValue: CInt(MSG_DONTWAIT))
    }

    // MARK: creating

    /// Creates a socket (socket(2)).
    /// - Parameters:
    ///   - family: ``AddressFamily/ipv4``, ``AddressFamily/ipv6`` or ``AddressFamily/unix``.
    ///   - type: `SOCK_STREAM` unless said otherwise.
    /// - Throws: ``Errno``.
    public static func open(_ family: AddressFamily, _ type: CInt = CInt(SOCK_STREAM.rawValue)) throws(Errno) -> Socket {
        let fd = try valueOrErrno { system_socket(family.rawValue, type | CInt(SOCK_CLOEXEC.rawValue), 0) }.get()
        return Socket(FileDescriptor(rawValue: fd))
    }

    /// Creates a connected pair of local stream sockets (socketpair(2), `AF_UNIX`).
    /// - Throws: ``Errno``.
    public static func pair() throws(Errno) -> (Socket, Socket) {
        var fds: (CInt, CInt) = (-1, -1)
        try withUnsafeMutableBytes(of: &fds) { raw throws(Errno) in
            // A tuple of two CInt is laid out as the int[2] socketpair fills.
            let ints = raw.bindMemory(to: CInt.self)
            try nothingOrErrno { system_socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, ints.baseAddress) }.get()
        }
        return (Socket(FileDescriptor(rawValue: fds.0)), Socket(FileDescriptor(rawValue: fds.1)))
    }

    /// Resolves `host` and `port` and connects a blocking stream socket to the first address
    /// that accepts (getaddrinfo(3), then socket(2) and connect(2) per address).
    /// - Returns: the connected socket.
    /// - Throws: ``AddressResolutionError`` when the name does not resolve; otherwise the
    ///   ``Errno`` of the last address tried, e.g. ``Errno/connectionRefused``.
    public static func connect(host: String, port: String) throws -> Socket {
        let addresses = try SocketAddress.resolve(host: host, port: port)
        var lastError = Errno.connectionRefused
        for address in addresses {
            let socket: Socket
            do {
                socket = try Socket.open(address.family)
            } catch {
                lastError = error
                continue
            }
            do {
                try socket.connect(to: address)
                return socket
            } catch {
                lastError = error
                try? socket.close()
            }
        }
        throw lastError
    }

    // MARK: connecting

    /// Connects to `address` (connect(2)).
    ///
    /// `EINTR` is not retried: the connection carries on in the background and a second connect
    /// would fail with `EALREADY`. Nothing in this package installs signal handlers.
    /// - Throws: ``Errno``, e.g. ``Errno/connectionRefused``; ``Errno/inProgress`` on a
    ///   non-blocking socket (wait for ``PollEvents/output``, then read the outcome with
    ///   ``pendingError()``).
    public func connect(to address: SocketAddress) throws(Errno) {
        try address.withSockaddrPointer { pointer, length in
            nothingOrErrno(retryOnInterrupt: false) { system_connect(descriptor.rawValue, pointer, length) }
        }.get()
    }

    /// Binds to a local address (bind(2)).
    /// - Throws: ``Errno``, e.g. ``Errno/addressInUse``.
    public func bind(to address: SocketAddress) throws(Errno) {
        try address.withSockaddrPointer { pointer, length in
            nothingOrErrno { system_bind(descriptor.rawValue, pointer, length) }
        }.get()
    }

    /// Starts listening for connections (listen(2)).
    /// - Throws: ``Errno``.
    public func listen(backlog: CInt = 16) throws(Errno) {
        try nothingOrErrno { system_listen(descriptor.rawValue, backlog) }.get()
    }

    /// Takes the next pending connection as a blocking socket with close-on-exec set
    /// (accept4(2) `SOCK_CLOEXEC`), retrying `EINTR`; see ``accept(nonBlocking:)``.
    /// - Returns: the connected socket.
    /// - Throws: ``Errno``; ``Errno/wouldBlock`` on a non-blocking socket with none pending.
    public func accept() throws(Errno) -> Socket {
        try accept(nonBlocking: false)
    }

    /// The address this socket is bound to (getsockname(2)), e.g. to learn a port the kernel chose.
    /// - Throws: ``Errno``.
    public func localAddress() throws(Errno) -> SocketAddress {
        try address { system_getsockname($0, $1, $2) }
    }

    /// Runs getsockname(2) or getpeername(2) into a fresh address.
    func address(_ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt) throws(Errno) -> SocketAddress {
        var address = SocketAddress()
        var length = address.length
        try withUnsafeMutablePointer(to: &address.storage) { storage throws(Errno) in
            // The call writes at most `length` bytes, the size of sockaddr_storage.
            try storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer throws(Errno) in
                try nothingOrErrno { call(descriptor.rawValue, pointer, &length) }.get()
            }
        }
        address.length = length
        return address
    }

    // MARK: options

    /// Turns Nagle's algorithm off or on (setsockopt(2) `TCP_NODELAY`). AMQP peers want it off:
    /// small frames such as flow and disposition should not wait for an acknowledgement.
    /// - Throws: ``Errno``.
    public func setNoDelay(_ on: Bool) throws(Errno) {
        try setOption(CInt(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0)
    }

    /// Lets a listener rebind a port still in `TIME_WAIT` (setsockopt(2) `SO_REUSEADDR`).
    /// - Throws: ``Errno``.
    public func setReuseAddress(_ on: Bool) throws(Errno) {
        try setOption(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0)
    }

    private func setOption(_ level: CInt, _ name: CInt, _ value: CInt) throws(Errno) {
        var value = value
        // setsockopt reads exactly sizeof(int) bytes from the local.
        try nothingOrErrno { system_setsockopt(descriptor.rawValue, level, name, &value, socklen_t(MemoryLayout<CInt>.size)) }.get()
    }

    /// Sets how ``close()`` treats unsent data (setsockopt(2) `SO_LINGER`).
    /// - Parameter seconds: nil for the default (close returns at once; the kernel sends what is
    ///   left in the background); 0 to discard it and reset the connection (the peer reads
    ///   ``Errno/connectionReset``, not end of input); more to wait up to that long in close.
    /// - Throws: ``Errno``.
    public func setLinger(seconds: Int?) throws(Errno) {
        var value = linger(l_onoff: seconds == nil ? 0 : 1, l_linger: CInt(clamping: seconds ?? 0))
        // setsockopt reads exactly sizeof(struct linger) bytes from the local.
        try nothingOrErrno { system_setsockopt(descriptor.rawValue, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size)) }.get()
    }

    // MARK: data

    /// Reads up to `buffer.count` bytes (read(2)); see ``FileDescriptor/read(into:)``.
    /// - Returns: the number of bytes read; 0 when the peer has closed its side.
    /// - Throws: ``Errno``.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try descriptor.read(into: buffer)
    }

    /// Writes up to `buffer.count` bytes (write(2)); see ``FileDescriptor/write(_:)``, and prefer
    /// ``send(_:flags:)``, which cannot raise `SIGPIPE`.
    /// - Returns: the number of bytes written.
    /// - Throws: ``Errno``.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try descriptor.write(buffer)
    }

    /// Sends up to `buffer.count` bytes (send(2)), retrying `EINTR`.
    /// - Parameters:
    ///   - buffer: the bytes to send.
    ///   - flags: ``SendFlags/noSignal`` unless said otherwise.
    /// - Returns: the number of bytes sent, which may be fewer than `buffer.count`.
    /// - Throws: ``Errno``, e.g. ``Errno/brokenPipe`` or ``Errno/connectionReset`` when the peer
    ///   has gone, ``Errno/wouldBlock`` when nothing fits without blocking.
    @inlinable
    public func send(_ buffer: UnsafeRawBufferPointer, flags: SendFlags = .noSignal) throws(Errno) -> Int {
        // send(2) reads at most buffer.count bytes, all inside the caller's buffer.
        try valueOrErrno { system_send(descriptor.rawValue, buffer.baseAddress, buffer.count, flags.rawValue) }.get()
    }

    /// Shuts down one or both directions (shutdown(2)); the peer reads end of input after `.write`.
    /// - Throws: ``Errno``, e.g. ``Errno/notConnected``.
    public func shutdown(_ kind: ShutdownKind) throws(Errno) {
        let how: CInt
        switch kind {
        case .read: how = CInt(SHUT_RD)
        case .write: how = CInt(SHUT_WR)
        case .readWrite: how = CInt(SHUT_RDWR)
        }
        try nothingOrErrno { system_shutdown(descriptor.rawValue, how) }.get()
    }

    /// Closes the socket (close(2)); see ``FileDescriptor/close()``.
    /// - Throws: ``Errno``.
    public func close() throws(Errno) {
        try descriptor.close()
    }
}

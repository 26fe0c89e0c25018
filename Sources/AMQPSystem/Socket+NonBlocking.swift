import Glibc

// What an event loop needs beyond the blocking calls in Socket.swift: sockets created and
// accepted non-blocking in one call, the outcome of a non-blocking connect, the peer's address.
extension Socket {
    /// Creates a stream socket with close-on-exec set, non-blocking if asked, in one call
    /// (socket(2) `SOCK_STREAM | SOCK_CLOEXEC`, with `SOCK_NONBLOCK` when `nonBlocking`).
    /// - Parameters:
    ///   - family: ``AddressFamily/ipv4``, ``AddressFamily/ipv6`` or ``AddressFamily/unix``.
    ///   - nonBlocking: whether calls on it throw ``Errno/wouldBlock`` (or ``Errno/inProgress``
    ///     for ``connect(to:)``) rather than wait.
    /// - Throws: ``Errno``, e.g. ``Errno/tooManyOpenFiles``.
    public static func open(_ family: AddressFamily, nonBlocking: Bool) throws(Errno) -> Socket {
        let type = CInt(SOCK_STREAM.rawValue) | (nonBlocking ? CInt(SOCK_NONBLOCK.rawValue) : 0)
        return try open(family, type)
    }

    /// Takes the next pending connection with close-on-exec set, non-blocking if asked, in one call
    /// (accept4(2) `SOCK_CLOEXEC`, with `SOCK_NONBLOCK` when `nonBlocking`), retrying `EINTR`.
    /// - Parameter nonBlocking: whether the accepted socket is non-blocking. Whether this call
    ///   waits depends on the listening socket.
    /// - Returns: the connected socket.
    /// - Throws: ``Errno``: ``Errno/wouldBlock`` on a non-blocking listener with none pending;
    ///   ``Errno/connectionAborted`` when a pending connection was reset before it was taken;
    ///   ``Errno/tooManyOpenFiles`` or ``Errno/fileTableOverflow`` when no descriptor is left
    ///   (the connection stays pending and the listener stays readable).
    public func accept(nonBlocking: Bool) throws(Errno) -> Socket {
        let flags = CInt(SOCK_CLOEXEC.rawValue) | (nonBlocking ? CInt(SOCK_NONBLOCK.rawValue) : 0)
        let fd = try valueOrErrno { system_accept4(descriptor.rawValue, flags) }.get()
        return Socket(FileDescriptor(rawValue: fd))
    }

    /// Reads and clears the socket's pending error (getsockopt(2) `SO_ERROR`), e.g. the outcome of
    /// a non-blocking ``connect(to:)`` once the socket is writable.
    /// - Returns: the pending error, e.g. ``Errno/connectionRefused``; nil when there is none, which
    ///   after a non-blocking connect means it succeeded.
    /// - Throws: ``Errno``, e.g. ``Errno/badFileDescriptor``, when the call itself fails.
    public func pendingError() throws(Errno) -> Errno? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        // getsockopt writes at most `length` bytes, the size of the CInt local.
        try nothingOrErrno { system_getsockopt(descriptor.rawValue, SOL_SOCKET, SO_ERROR, &value, &length) }.get()
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// The address of the connected peer (getpeername(2)).
    /// - Throws: ``Errno``, e.g. ``Errno/notConnected`` before a connect has finished.
    public func peerAddress() throws(Errno) -> SocketAddress {
        try address { system_getpeername($0, $1, $2) }
    }
}

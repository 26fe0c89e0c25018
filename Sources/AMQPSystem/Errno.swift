import Glibc

/// An error number from a failed system call (C `errno`), as swift-system's `Errno`.
///
/// Threading: a value; `Sendable`.
@frozen
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The C error number.
    public let rawValue: CInt

    /// Wraps a C error number.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// The system's message for this error, e.g. "Connection refused" (C `strerror`).
    public var description: String {
        // glibc's strerror returns static text, or a thread-local buffer for unknown numbers,
        // which is copied out before anything else runs on this thread.
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }

    /// `EINTR`: a signal interrupted the call. The wrappers here retry it where that is safe.
    public static var interrupted: Errno { Errno(rawValue: EINTR) }
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking call would have to wait.
    public static var wouldBlock: Errno { Errno(rawValue: EAGAIN) }
    /// `EBADF`: not an open file descriptor.
    public static var badFileDescriptor: Errno { Errno(rawValue: EBADF) }
    /// `EINVAL`: an argument is invalid.
    public static var invalidArgument: Errno { Errno(rawValue: EINVAL) }
    /// `ECONNREFUSED`: nothing listens at the address.
    public static var connectionRefused: Errno { Errno(rawValue: ECONNREFUSED) }
    /// `ECONNRESET`: the peer reset the connection.
    public static var connectionReset: Errno { Errno(rawValue: ECONNRESET) }
    /// `EPIPE`: the other end is closed for writing.
    public static var brokenPipe: Errno { Errno(rawValue: EPIPE) }
    /// `ETIMEDOUT`: the connection attempt or connection timed out.
    public static var timedOut: Errno { Errno(rawValue: ETIMEDOUT) }
    /// `EINPROGRESS`: a non-blocking connect has started.
    public static var inProgress: Errno { Errno(rawValue: EINPROGRESS) }
    /// `EADDRINUSE`: the address is already bound.
    public static var addressInUse: Errno { Errno(rawValue: EADDRINUSE) }
    /// `ENOTCONN`: the socket is not connected.
    public static var notConnected: Errno { Errno(rawValue: ENOTCONN) }
    /// `ENETUNREACH`: no route to the network.
    public static var networkUnreachable: Errno { Errno(rawValue: ENETUNREACH) }
    /// `EHOSTUNREACH`: no route to the host.
    public static var hostUnreachable: Errno { Errno(rawValue: EHOSTUNREACH) }
    /// `ECONNABORTED`: a pending connection was aborted before accept(2) took it.
    public static var connectionAborted: Errno { Errno(rawValue: ECONNABORTED) }
    /// `EADDRNOTAVAIL`: the address is not local, or no local port is free for a connect.
    public static var addressNotAvailable: Errno { Errno(rawValue: EADDRNOTAVAIL) }
    /// `EMFILE`: the process has as many descriptors open as its limit allows
    /// (see ``ResourceLimit/openFiles()``).
    public static var tooManyOpenFiles: Errno { Errno(rawValue: EMFILE) }
    /// `ENFILE`: the system-wide limit on open files is reached.
    public static var fileTableOverflow: Errno { Errno(rawValue: ENFILE) }
    /// `ENOBUFS`: the kernel is out of buffer space.
    public static var noBufferSpace: Errno { Errno(rawValue: ENOBUFS) }
    /// `ENOMEM`: the kernel is out of memory.
    public static var noMemory: Errno { Errno(rawValue: ENOMEM) }
    /// `ENOENT`: no such file or directory; also epoll(7)'s "descriptor not registered".
    public static var noSuchFileOrDirectory: Errno { Errno(rawValue: ENOENT) }
    /// `EEXIST`: already exists; also epoll(7)'s "descriptor already registered".
    public static var fileExists: Errno { Errno(rawValue: EEXIST) }
    /// `EPERM`: not permitted, e.g. raising a hard resource limit without privilege.
    public static var notPermitted: Errno { Errno(rawValue: EPERM) }
}

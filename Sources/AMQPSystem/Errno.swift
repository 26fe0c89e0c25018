import Glibc

/// An error number from a failed system call (C `errno`), as swift-system's `Errno`.
///
/// Threading: a value; `Sendable`.
@frozen
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The C error number.
    public let rawValue: CInt

    /// Wraps a C error number.
    @inlinable public init(rawValue: CInt) { self.rawValue = rawValue }

    /// The system's message for this error, e.g. "Connection refused" (C `strerror`).
    public var description: String {
        // glibc's strerror returns static text, or a thread-local buffer for unknown numbers,
        // which is copied out before anything else runs on this thread.
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }

    /// `EINTR`: a signal interrupted the call. The wrappers here retry it where that is safe.
    @inlinable public static var interrupted: Errno { Errno(rawValue: EINTR) }
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking call would have to wait.
    @inlinable public static var wouldBlock: Errno { Errno(rawValue: EAGAIN) }
    /// `EBADF`: not an open file descriptor.
    @inlinable public static var badFileDescriptor: Errno { Errno(rawValue: EBADF) }
    /// `EINVAL`: an argument is invalid.
    @inlinable public static var invalidArgument: Errno { Errno(rawValue: EINVAL) }
    /// `ECONNREFUSED`: nothing listens at the address.
    @inlinable public static var connectionRefused: Errno { Errno(rawValue: ECONNREFUSED) }
    /// `ECONNRESET`: the peer reset the connection.
    @inlinable public static var connectionReset: Errno { Errno(rawValue: ECONNRESET) }
    /// `EPIPE`: the other end is closed for writing.
    @inlinable public static var brokenPipe: Errno { Errno(rawValue: EPIPE) }
    /// `ETIMEDOUT`: the connection attempt or connection timed out.
    @inlinable public static var timedOut: Errno { Errno(rawValue: ETIMEDOUT) }
    /// `EINPROGRESS`: a non-blocking connect has started.
    @inlinable public static var inProgress: Errno { Errno(rawValue: EINPROGRESS) }
    /// `EADDRINUSE`: the address is already bound.
    @inlinable public static var addressInUse: Errno { Errno(rawValue: EADDRINUSE) }
    /// `ENOTCONN`: the socket is not connected.
    @inlinable public static var notConnected: Errno { Errno(rawValue: ENOTCONN) }
    /// `ENETUNREACH`: no route to the network.
    @inlinable public static var networkUnreachable: Errno { Errno(rawValue: ENETUNREACH) }
    /// `EHOSTUNREACH`: no route to the host.
    @inlinable public static var hostUnreachable: Errno { Errno(rawValue: EHOSTUNREACH) }
    /// `ECONNABORTED`: a pending connection was aborted before accept(2) took it.
    @inlinable public static var connectionAborted: Errno { Errno(rawValue: ECONNABORTED) }
    /// `EADDRNOTAVAIL`: the address is not local, or no local port is free for a connect.
    @inlinable public static var addressNotAvailable: Errno { Errno(rawValue: EADDRNOTAVAIL) }
    /// `EMFILE`: the process has as many descriptors open as its limit allows
    /// (see ``ResourceLimit/openFiles()``).
    @inlinable public static var tooManyOpenFiles: Errno { Errno(rawValue: EMFILE) }
    /// `ENFILE`: the system-wide limit on open files is reached.
    @inlinable public static var fileTableOverflow: Errno { Errno(rawValue: ENFILE) }
    /// `ENOBUFS`: the kernel is out of buffer space.
    @inlinable public static var noBufferSpace: Errno { Errno(rawValue: ENOBUFS) }
    /// `ENOMEM`: the kernel is out of memory.
    @inlinable public static var noMemory: Errno { Errno(rawValue: ENOMEM) }
    /// `ENOENT`: no such file or directory; also epoll(7)'s "descriptor not registered".
    @inlinable public static var noSuchFileOrDirectory: Errno { Errno(rawValue: ENOENT) }
    /// `EEXIST`: already exists; also epoll(7)'s "descriptor already registered".
    @inlinable public static var fileExists: Errno { Errno(rawValue: EEXIST) }
    /// `EPERM`: not permitted, e.g. raising a hard resource limit without privilege.
    @inlinable public static var notPermitted: Errno { Errno(rawValue: EPERM) }
    /// `ECANCELED`: the operation was cancelled (an io_uring operation that
    /// `IORING_OP_ASYNC_CANCEL` ended, or whose submitting thread exited).
    @inlinable public static var canceled: Errno { Errno(rawValue: ECANCELED) }
    /// `EALREADY`: the operation is already in progress (also io_uring's "cancel found it running").
    @inlinable public static var alreadyInProcess: Errno { Errno(rawValue: EALREADY) }
    /// `EBUSY`: the resource is busy (io_uring_enter(2): reap completions first).
    @inlinable public static var resourceBusy: Errno { Errno(rawValue: EBUSY) }
    /// `ENOSYS`: the kernel does not implement the call.
    @inlinable public static var noFunction: Errno { Errno(rawValue: ENOSYS) }
    /// `ETIME`: a timer expired (io_uring_enter(2)'s wait timed out).
    @inlinable public static var timeout: Errno { Errno(rawValue: ETIME) }
}

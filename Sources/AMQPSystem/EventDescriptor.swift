internal import CAMQPSystem
import Glibc

/// An eventfd(2) counter: a descriptor that is readable while its 64-bit counter is non-zero, for
/// waking a thread blocked in ``Epoll/wait(into:maxEvents:timeout:)`` or poll(2).
///
/// The descriptor does not close itself; call ``close()`` exactly once.
///
/// Threading: a value; `Sendable`. ``signal()`` may be called from any thread and from a signal
/// handler; ``drain()`` usually from the thread that waits.
public struct EventDescriptor: Hashable, Sendable {
    /// The eventfd descriptor, to watch for ``Epoll/Events/input``.
    public let descriptor: FileDescriptor

    /// Treats `descriptor` as an eventfd; nothing is checked.
    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    /// Creates an eventfd with a zero counter and close-on-exec set
    /// (eventfd(2) `EFD_CLOEXEC`, with `EFD_NONBLOCK` when `nonBlocking`).
    /// - Parameter nonBlocking: whether ``drain()`` returns 0 rather than blocking when nothing
    ///   was signalled, and ``signal()`` returns rather than blocking when the counter is full.
    /// - Throws: ``Errno``, e.g. ``Errno/tooManyOpenFiles``.
    public static func create(nonBlocking: Bool = true) throws(Errno) -> EventDescriptor {
        let flags = CInt(EFD_CLOEXEC) | (nonBlocking ? CInt(EFD_NONBLOCK) : 0)
        let fd = try valueOrErrno { system_eventfd(0, flags) }.get()
        return EventDescriptor(FileDescriptor(rawValue: fd))
    }

    /// Adds 1 to the counter (write(2) of a `UInt64`), making the descriptor readable.
    ///
    /// Async-signal-safe: it writes from a stack constant through a non-escaping closure, so it
    /// allocates nothing, takes no lock and calls nothing of the Swift runtime; only write(2) and
    /// errno, which it restores so that a signal handler leaves the interrupted code's errno alone.
    /// (In a debug build with a `write` fault installed by a test, the fault hook takes a lock.)
    /// Failures are ignored: `EAGAIN` means the counter is full, so a wake-up is already pending,
    /// and the others (`EBADF`) cannot be reported from a signal handler anyway. `EINTR` is retried.
    /// On a blocking eventfd a full counter blocks until ``drain()``.
    public func signal() {
        let savedErrno = errno
        let one: UInt64 = 1
        // write(2) reads exactly the 8 bytes of the local constant.
        withUnsafeBytes(of: one) { bytes in
            while system_write(descriptor.rawValue, bytes.baseAddress, bytes.count) == -1 && errno == EINTR {}
        }
        errno = savedErrno
    }

    /// Reads and resets the counter (read(2) of a `UInt64`), retrying `EINTR`.
    ///
    /// A programming error such as a closed descriptor (`EBADF`) traps.
    /// - Returns: the number of ``signal()`` calls since the last drain; 0 when there were none,
    ///   which on a non-blocking eventfd is `EAGAIN`. A blocking one waits for a signal instead.
    public func drain() -> UInt64 {
        var counter: UInt64 = 0
        // read(2) writes exactly the 8 bytes of the local.
        let result = withUnsafeMutableBytes(of: &counter) { bytes in
            valueOrErrno { system_read(descriptor.rawValue, bytes.baseAddress, bytes.count) }
        }
        switch result {
        case .success: return counter
        case .failure(.wouldBlock): return 0
        case .failure(let error): preconditionFailure("read(2) of eventfd \(descriptor.rawValue) failed: \(error)")
        }
    }

    /// Closes the eventfd (close(2)); see ``FileDescriptor/close()``.
    /// - Throws: ``Errno``.
    public func close() throws(Errno) {
        try descriptor.close()
    }
}

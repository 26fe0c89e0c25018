import Glibc

/// An open file descriptor: a value over the C `int`, with one thin wrapper per system call.
///
/// The descriptor does not close itself; call ``close()`` exactly once.
///
/// Threading: a value; `Sendable`. The kernel object behind it is shared by every copy.
@frozen
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    /// The C file descriptor.
    public let rawValue: CInt

    /// Wraps a C file descriptor; nothing is checked or opened.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// Standard error, for hosts that report failures without Foundation.
    public static var standardError: FileDescriptor { FileDescriptor(rawValue: STDERR_FILENO) }

    /// How ``open(_:_:)`` opens a file (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
    public enum AccessMode: Sendable {
        /// `O_RDONLY`.
        case readOnly
        /// `O_WRONLY`.
        case writeOnly
        /// `O_RDWR`.
        case readWrite
    }

    /// Opens an existing file with close-on-exec set (open(2) with `O_CLOEXEC`), retrying `EINTR`.
    /// - Parameters:
    ///   - path: the file's path.
    ///   - mode: reading, writing or both.
    /// - Returns: the descriptor; ``close()`` it.
    /// - Throws: ``Errno``, e.g. ``Errno/noSuchFileOrDirectory``, ``Errno/tooManyOpenFiles``.
    public static func open(_ path: String, _ mode: AccessMode) throws(Errno) -> FileDescriptor {
        let access: CInt
        switch mode {
        case .readOnly: access = O_RDONLY
        case .writeOnly: access = O_WRONLY
        case .readWrite: access = O_RDWR
        }
        // The path is copied into a NUL-terminated C string for the length of the call.
        let result = path.withCString { cPath in valueOrErrno { system_open(cPath, access | O_CLOEXEC) } }
        return FileDescriptor(rawValue: try result.get())
    }

    /// Reads up to `buffer.count` bytes (read(2)), retrying `EINTR`.
    /// - Parameter buffer: where the bytes go.
    /// - Returns: the number of bytes read; 0 means end of input.
    /// - Throws: ``Errno``, e.g. ``Errno/wouldBlock`` on a non-blocking descriptor with nothing
    ///   to read, ``Errno/badFileDescriptor`` after ``close()``.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        // read(2) writes at most buffer.count bytes, all inside the caller's buffer.
        try valueOrErrno { system_read(rawValue, buffer.baseAddress, buffer.count) }.get()
    }

    /// Writes up to `buffer.count` bytes (write(2)), retrying `EINTR`.
    /// - Parameter buffer: the bytes to write.
    /// - Returns: the number of bytes written, which may be fewer than `buffer.count`.
    /// - Throws: ``Errno``. On a socket whose peer has gone, write(2) also raises `SIGPIPE`;
    ///   use ``Socket/send(_:flags:)`` there.
    @inlinable
    public func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        // write(2) reads at most buffer.count bytes, all inside the caller's buffer.
        try valueOrErrno { system_write(rawValue, buffer.baseAddress, buffer.count) }.get()
    }

    /// Closes the descriptor (close(2)).
    ///
    /// `EINTR` is not retried: on Linux the descriptor is released even then, and a retry could
    /// close a descriptor another thread has just been given.
    /// - Throws: ``Errno``, e.g. ``Errno/badFileDescriptor`` if it was already closed.
    public func close() throws(Errno) {
        try nothingOrErrno(retryOnInterrupt: false) { system_close(rawValue) }.get()
    }

    /// Whether `O_NONBLOCK` is set (fcntl(2) `F_GETFL`).
    /// - Throws: ``Errno``.
    public func isNonBlocking() throws(Errno) -> Bool {
        let flags = try valueOrErrno { system_fcntl(rawValue, F_GETFL) }.get()
        return flags & O_NONBLOCK != 0
    }

    /// Sets or clears `O_NONBLOCK` (fcntl(2) `F_GETFL`, then `F_SETFL`).
    /// - Throws: ``Errno``.
    public func setNonBlocking(_ on: Bool) throws(Errno) {
        let flags = try valueOrErrno { system_fcntl(rawValue, F_GETFL) }.get()
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard wanted != flags else { return }
        try nothingOrErrno { system_fcntl(rawValue, F_SETFL, wanted) }.get()
    }

    /// Waits until this descriptor is ready for `events` (poll(2) on one descriptor).
    /// - Parameters:
    ///   - events: what to wait for, usually ``PollEvents/input`` and/or ``PollEvents/output``.
    ///   - timeout: milliseconds to wait; 0 returns at once, -1 waits without limit.
    /// - Returns: the events that are ready, empty on timeout. May include ``PollEvents/error``,
    ///   ``PollEvents/hangUp`` or ``PollEvents/invalid`` even when not asked for.
    /// - Throws: ``Errno``.
    public func poll(for events: PollEvents, timeout: CInt) throws(Errno) -> PollEvents {
        var one = [PollDescriptor(self, events: events)]
        _ = try PollDescriptor.poll(&one, timeout: timeout)
        return one[0].returnedEvents
    }
}

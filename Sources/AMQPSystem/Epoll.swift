internal import CAMQPSystem
import Glibc

/// An epoll(7) instance: a kernel set of watched descriptors, with one thin wrapper per call
/// (epoll_create1(2), epoll_ctl(2), epoll_wait(2)).
///
/// Each registration carries 64 bits of caller data that come back with its events. The instance
/// does not close itself; call ``close()`` exactly once.
///
/// Threading: a value; `Sendable`. The kernel allows ``add(_:events:data:)``,
/// ``modify(_:events:data:)`` and ``remove(_:)`` from any thread, also while another thread is in
/// ``wait(into:maxEvents:timeout:)``.
public struct Epoll: Hashable, Sendable {
    /// The epoll descriptor, e.g. to put inside another epoll or poll(2) set.
    public let descriptor: FileDescriptor

    /// Treats `descriptor` as an epoll instance; nothing is checked.
    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    /// Conditions to watch for and report (`EPOLLIN`, `EPOLLOUT`, ...; the C `uint32_t events`).
    ///
    /// Threading: a value; `Sendable`.
    public struct Events: OptionSet, Hashable, Sendable, CustomStringConvertible {
        /// The C `EPOLL*` bits.
        public let rawValue: UInt32
        /// Wraps C `EPOLL*` bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// `EPOLLIN`: there is data to read, a connection to accept, or the peer closed.
        public static let input = Events(rawValue: EPOLLIN.rawValue)
        /// `EPOLLOUT`: a write would not block; also a non-blocking connect has finished.
        public static let output = Events(rawValue: EPOLLOUT.rawValue)
        /// `EPOLLRDHUP`: the peer shut down its writing side (a read returns 0); only when asked for.
        public static let readHangUp = Events(rawValue: EPOLLRDHUP.rawValue)
        /// `EPOLLERR`: an error is pending (see ``Socket/pendingError()``); reported whether asked
        /// for or not.
        public static let error = Events(rawValue: EPOLLERR.rawValue)
        /// `EPOLLHUP`: both directions are closed; reported whether asked for or not.
        public static let hangUp = Events(rawValue: EPOLLHUP.rawValue)
        /// `EPOLLONESHOT`: after one report the registration is disarmed until
        /// ``Epoll/modify(_:events:data:)`` arms it again. Never reported.
        public static let oneShot = Events(rawValue: EPOLLONESHOT.rawValue)
        /// `EPOLLET`: report edges (changes) rather than levels. Never reported.
        public static let edgeTriggered = Events(rawValue: EPOLLET.rawValue)

        /// The set conditions, e.g. "[in,rdhup]".
        public var description: String {
            let names: [(Events, String)] = [
                (.input, "in"), (.output, "out"), (.readHangUp, "rdhup"), (.error, "err"),
                (.hangUp, "hup"), (.oneShot, "oneshot"), (.edgeTriggered, "et"),
            ]
            return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ",") + "]"
        }
    }

    /// One report from ``Epoll/wait(into:maxEvents:timeout:)``: what is ready, and the data given
    /// when the descriptor was registered (C `struct epoll_event`, unpacked).
    ///
    /// Threading: a value; `Sendable`.
    public struct Event: Hashable, Sendable {
        /// What is ready.
        public var events: Events
        /// The caller's 64 bits from ``Epoll/add(_:events:data:)`` or ``Epoll/modify(_:events:data:)``.
        public var data: UInt64

        /// An event with these conditions and data.
        public init(events: Events, data: UInt64) {
            self.events = events
            self.data = data
        }
    }

    /// Creates an epoll instance with close-on-exec set (epoll_create1(2) `EPOLL_CLOEXEC`).
    /// - Throws: ``Errno``, e.g. ``Errno/tooManyOpenFiles``.
    public static func create() throws(Errno) -> Epoll {
        let fd = try valueOrErrno { system_epoll_create1(CInt(EPOLL_CLOEXEC)) }.get()
        return Epoll(FileDescriptor(rawValue: fd))
    }

    /// Starts watching `fd` (epoll_ctl(2) `EPOLL_CTL_ADD`).
    /// - Parameters:
    ///   - fd: the descriptor; the registration ends when it is removed or every copy of it is closed.
    ///   - events: what to watch for, with ``Events/oneShot`` or ``Events/edgeTriggered`` if wanted.
    ///   - data: returned with each of its events.
    /// - Throws: ``Errno``, e.g. ``Errno/fileExists`` if `fd` is already registered.
    public func add(_ fd: FileDescriptor, events: Events, data: UInt64) throws(Errno) {
        try control(EPOLL_CTL_ADD, fd, events: events, data: data)
    }

    /// Changes what is watched on `fd` and its data, and re-arms a one-shot registration
    /// (epoll_ctl(2) `EPOLL_CTL_MOD`).
    /// - Throws: ``Errno``, e.g. ``Errno/noSuchFileOrDirectory`` if `fd` is not registered.
    public func modify(_ fd: FileDescriptor, events: Events, data: UInt64) throws(Errno) {
        try control(EPOLL_CTL_MOD, fd, events: events, data: data)
    }

    /// Stops watching `fd` (epoll_ctl(2) `EPOLL_CTL_DEL`).
    /// - Throws: ``Errno``, e.g. ``Errno/noSuchFileOrDirectory`` if `fd` is not registered.
    public func remove(_ fd: FileDescriptor) throws(Errno) {
        // Kernels before 2.6.9 required a non-null event even here; it is ignored.
        try control(EPOLL_CTL_DEL, fd, events: [], data: 0)
    }

    private func control(_ operation: CInt, _ fd: FileDescriptor, events: Events, data: UInt64) throws(Errno) {
        var event = epoll_event()
        event.events = events.rawValue
        event.data.u64 = data
        // epoll_ctl reads one epoll_event from the local. Swift imports the struct with glibc's
        // layout (packed on x86_64), so field stores land where the kernel reads them.
        try nothingOrErrno { system_epoll_ctl(descriptor.rawValue, operation, fd.rawValue, &event) }.get()
    }

    /// Waits until a watched descriptor is ready or `timeout` passes (epoll_wait(2)).
    ///
    /// `EINTR` is not retried: it returns 0 events, so the caller can recompute its timeout.
    /// - Parameters:
    ///   - events: replaced by the reports, at most `maxEvents` of them. Its capacity is kept, so a
    ///     buffer reused across calls is not reallocated.
    ///   - maxEvents: the most reports to take in one call; at least 1.
    ///   - timeout: milliseconds to wait; 0 returns at once, -1 waits without limit.
    /// - Returns: the number of reports, `events.count`; 0 on timeout or `EINTR`.
    /// - Throws: ``Errno``, e.g. ``Errno/badFileDescriptor`` after ``close()``.
    public func wait(into events: inout [Event], maxEvents: Int, timeout: CInt) throws(Errno) -> Int {
        precondition(maxEvents > 0 && maxEvents <= Int(CInt.max), "maxEvents must be in 1...CInt.max")
        events.removeAll(keepingCapacity: true)
        // The kernel fills at most maxEvents packed epoll_events in this temporary buffer, which
        // lives on the stack when it fits and is read only up to the count the call returns.
        let result = withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: maxEvents) { buffer in
            let count = valueOrErrno(retryOnInterrupt: false) {
                system_epoll_wait(descriptor.rawValue, buffer.baseAddress, CInt(maxEvents), timeout)
            }
            if case .success(let count) = count {
                for i in 0..<Int(count) {
                    events.append(Event(events: Events(rawValue: buffer[i].events), data: buffer[i].data.u64))
                }
            }
            return count
        }
        switch result {
        case .success(let count): return Int(count)
        case .failure(.interrupted): return 0
        case .failure(let error): throw error
        }
    }

    /// Closes the epoll instance (close(2)); see ``FileDescriptor/close()``.
    /// - Throws: ``Errno``.
    public func close() throws(Errno) {
        try descriptor.close()
    }
}

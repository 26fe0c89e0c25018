import Glibc

/// Readiness conditions for poll(2) (`POLLIN`, `POLLOUT`, ...).
///
/// Threading: a value; `Sendable`.
public struct PollEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The C `short` of `pollfd.events`/`revents`.
    public let rawValue: Int16

    /// Wraps the C `short` of `pollfd.events`/`revents`.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// `POLLIN`: there is data to read, or the peer closed (a read returns 0).
    public static let input = PollEvents(rawValue: Int16(POLLIN))
    /// `POLLOUT`: a write would not block.
    public static let output = PollEvents(rawValue: Int16(POLLOUT))
    /// `POLLERR`: an error is pending; reported whether asked for or not.
    public static let error = PollEvents(rawValue: Int16(POLLERR))
    /// `POLLHUP`: the connection hung up; reported whether asked for or not.
    public static let hangUp = PollEvents(rawValue: Int16(POLLHUP))
    /// `POLLNVAL`: the descriptor is not open; reported whether asked for or not.
    public static let invalid = PollEvents(rawValue: Int16(POLLNVAL))

    /// The set conditions, e.g. "[in,hup]".
    public var description: String {
        let names: [(PollEvents, String)] = [(.input, "in"), (.output, "out"), (.error, "err"), (.hangUp, "hup"), (.invalid, "nval")]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ",") + "]"
    }
}

/// One entry of a poll(2) set: a descriptor, what to wait for, and what was found (C `pollfd`).
///
/// Threading: a value; `Sendable`.
public struct PollDescriptor: Hashable, Sendable {
    /// The descriptor to watch.
    public var descriptor: FileDescriptor
    /// What to wait for.
    public var events: PollEvents
    /// What is ready, filled in by ``poll(_:timeout:)``.
    public var returnedEvents: PollEvents

    /// An entry that waits for `events` on `descriptor`.
    public init(_ descriptor: FileDescriptor, events: PollEvents) {
        self.descriptor = descriptor
        self.events = events
        self.returnedEvents = []
    }

    /// Waits until one of `descriptors` is ready or `timeout` passes (poll(2)).
    ///
    /// `EINTR` is retried with the same timeout, so after a signal the wait can be longer than
    /// asked; callers that keep deadlines recompute them from the clock anyway.
    /// - Parameters:
    ///   - descriptors: the set; each entry's ``returnedEvents`` is filled in.
    ///   - timeout: milliseconds to wait; 0 returns at once, -1 waits without limit.
    /// - Returns: how many entries have events; 0 on timeout.
    /// - Throws: ``Errno``.
    public static func poll(_ descriptors: inout [PollDescriptor], timeout: CInt) throws(Errno) -> Int {
        // Copied into C pollfd structs rather than laid out to match them: one small array per
        // call, and no assumption about Swift struct layout.
        var fds = descriptors.map { pollfd(fd: $0.descriptor.rawValue, events: $0.events.rawValue, revents: 0) }
        let count = fds.count
        // poll(2) reads and writes exactly `count` pollfd entries of the array.
        let ready = try valueOrErrno { system_poll(&fds, nfds_t(count), timeout) }.get()
        for i in descriptors.indices { descriptors[i].returnedEvents = PollEvents(rawValue: fds[i].revents) }
        return Int(ready)
    }
}

// A user's own poller, written against the public poller SPI only: single-threaded poll(2)
// underneath, and the shared proactor machinery (`ReadinessProactor`) on top. `Docs/Pollers.md`
// walks through it. It passes the same conformance suite as the epoll backend.
import AMQPProactor
import AMQPSystem
import Synchronization

/// A ``ReadinessPoller`` on poll(2): a table of armed descriptors, rebuilt into a `pollfd` array
/// for each wait, and an eventfd that wakes the waiter.
///
/// Arming is one-shot, as the SPI asks: a descriptor reported ready is disarmed until the
/// proactor arms it again. Arming (from any thread) while a poll(2) is in progress wakes it, so
/// the next poll(2) includes the new interest.
///
/// Threading: `Sendable`. The table is behind a lock; poll(2) runs without holding it.
public final class PollPoller: ReadinessPoller {
    private struct Entry {
        var token: UInt64
        var interest: ReadinessInterest
    }

    private let table = LockedValue<[FileDescriptor: Entry]>([:])
    private let wakeEvent: EventDescriptor

    /// Opens the wake eventfd.
    public init() throws(Errno) {
        wakeEvent = try EventDescriptor.create(nonBlocking: true)
    }

    deinit {
        try? wakeEvent.close()
    }

    /// See ``ReadinessPoller/register(_:token:)``.
    public func register(_ descriptor: FileDescriptor, token: UInt64) throws(Errno) {
        table.withLock { $0[descriptor] = Entry(token: token, interest: []) }
    }

    /// See ``ReadinessPoller/arm(_:token:interest:)``.
    public func arm(_ descriptor: FileDescriptor, token: UInt64, interest: ReadinessInterest) throws(Errno) {
        let known = table.withLock { table -> Bool in
            guard table[descriptor] != nil else { return false }
            table[descriptor] = Entry(token: token, interest: interest)
            return true
        }
        guard known else { throw .badFileDescriptor }
        // A poll(2) in progress does not see the new interest: make it return and start again.
        wake()
    }

    /// See ``ReadinessPoller/deregister(_:)``.
    public func deregister(_ descriptor: FileDescriptor) throws(Errno) {
        _ = table.withLock { $0.removeValue(forKey: descriptor) }
    }

    /// See ``ReadinessPoller/wait(until:into:)``.
    public func wait(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) throws(Errno) {
        // The descriptors armed now, plus the wake eventfd first.
        var armed: [(FileDescriptor, UInt64)] = []
        var set = [PollDescriptor(wakeEvent.descriptor, events: .input)]
        table.withLock { table in
            for (fd, entry) in table where !entry.interest.isEmpty {
                var wanted: PollEvents = []
                if entry.interest.contains(.read) { wanted.insert(.input) }
                if entry.interest.contains(.write) { wanted.insert(.output) }
                set.append(PollDescriptor(fd, events: wanted))
                armed.append((fd, entry.token))
            }
        }
        _ = try PollDescriptor.poll(&set, timeout: Self.timeoutMilliseconds(until: deadline))
        if !set[0].returnedEvents.isEmpty { _ = wakeEvent.drain() }
        table.withLock { table in
            for (i, (fd, token)) in armed.enumerated() {
                let got = set[i + 1].returnedEvents
                guard !got.isEmpty else { continue }
                // One-shot: disarm what was reported, unless it was deregistered or re-armed
                // under another token meanwhile (a new connection on a reused number).
                guard let entry = table[fd], entry.token == token else { continue }
                table[fd] = Entry(token: token, interest: [])
                var ready: ReadinessInterest = []
                if !got.isDisjoint(with: [.input, .hangUp, .error, .invalid]) { ready.insert(.read) }
                if !got.isDisjoint(with: [.output, .hangUp, .error, .invalid]) { ready.insert(.write) }
                events.append(ReadinessEvent(token: token, ready: ready))
            }
        }
    }

    /// See ``ReadinessPoller/wake()``.
    public func wake() {
        wakeEvent.signal()
    }
}

/// A proactor on a ``PollPoller``: the whole backend.
public typealias PollProactor = ReadinessProactor<PollPoller>

extension ReadinessProactor where Poller == PollPoller {
    /// A proactor on a new poll(2) poller.
    public static func poll() throws(Errno) -> PollProactor {
        PollProactor(poller: try PollPoller())
    }
}

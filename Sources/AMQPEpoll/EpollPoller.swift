import AMQPProactor
import AMQPSystem

/// The epoll backend's poller: one epoll descriptor, every socket armed one-shot, and an eventfd
/// for wakes.
///
/// A descriptor is added with `EPOLLONESHOT` and no interest, and armed with `EPOLL_CTL_MOD`;
/// `EPOLLRDHUP` is always asked for, so a peer's half-close shows up as readable (the read then
/// returns 0). The wake eventfd is level-triggered and drained by the waiter, so a wake made
/// while nobody waits makes the next wait return at once.
///
/// Threading: `Sendable`; epoll itself is safe to modify from any thread while another waits.
public final class EpollPoller: ReadinessPoller {
    private static let wakeToken = UInt64.max
    private let epoll: Epoll
    private let wakeEvent: EventDescriptor
    // Reused by the one waiting thread (the proactor lets one thread wait at a time).
    private nonisolated(unsafe) var buffer: [Epoll.Event] = []

    /// Opens the epoll descriptor and the wake eventfd.
    public init() throws(Errno) {
        epoll = try Epoll.create()
        do {
            wakeEvent = try EventDescriptor.create(nonBlocking: true)
        } catch {
            try? epoll.close()
            throw error
        }
        try epoll.add(wakeEvent.descriptor, events: [.input], data: Self.wakeToken)
    }

    deinit {
        try? epoll.close()
        try? wakeEvent.close()
    }

    /// See ``ReadinessPoller/register(_:token:)``.
    public func register(_ descriptor: FileDescriptor, token: UInt64) throws(Errno) {
        try epoll.add(descriptor, events: [.oneShot], data: token)
    }

    /// See ``ReadinessPoller/arm(_:token:interest:)``.
    public func arm(_ descriptor: FileDescriptor, token: UInt64, interest: ReadinessInterest) throws(Errno) {
        var events: Epoll.Events = [.oneShot]
        if interest.contains(.read) { events.formUnion([.input, .readHangUp]) }
        if interest.contains(.write) { events.insert(.output) }
        try epoll.modify(descriptor, events: events, data: token)
    }

    /// See ``ReadinessPoller/deregister(_:)``.
    public func deregister(_ descriptor: FileDescriptor) throws(Errno) {
        try epoll.remove(descriptor)
    }

    /// See ``ReadinessPoller/wait(until:into:)``.
    public func wait(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) throws(Errno) {
        let n = try epoll.wait(into: &buffer, maxEvents: 256, timeout: Self.timeoutMilliseconds(until: deadline))
        for e in buffer.prefix(n) {
            if e.data == Self.wakeToken {
                _ = wakeEvent.drain()
                continue
            }
            var ready: ReadinessInterest = []
            if !e.events.isDisjoint(with: [.input, .readHangUp, .hangUp, .error]) { ready.insert(.read) }
            if !e.events.isDisjoint(with: [.output, .hangUp, .error]) { ready.insert(.write) }
            events.append(ReadinessEvent(token: e.data, ready: ready))
        }
    }

    /// See ``ReadinessPoller/wake()``.
    public func wake() {
        wakeEvent.signal()
    }
}

/// The epoll backend: a ``ReadinessProactor`` over an ``EpollPoller``.
public typealias EpollProactor = ReadinessProactor<EpollPoller>

extension ReadinessProactor where Poller == EpollPoller {
    /// A proactor on a new epoll descriptor.
    public static func epoll() throws(Errno) -> EpollProactor {
        EpollProactor(poller: try EpollPoller())
    }
}

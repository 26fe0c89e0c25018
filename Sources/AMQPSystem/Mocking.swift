import Glibc
#if ENABLE_MOCKING
import Synchronization
#endif

// Fault injection for the system-call wrappers (Syscalls.swift), after swift-system's
// MockingDriver, with two differences. It is process-wide rather than thread-local, because the
// calls under test run on a proactor's pool threads, not the test's; and a fault narrows itself to
// one call on one descriptor (or the sockets of one port, or one thread), so that nothing else in
// the process notices it. It exists only when AMQPSystem is built with `ENABLE_MOCKING`, which
// Package.swift defines for debug builds (what `swift test` and the thread-sanitizer runs build).
// In a release build every `#if ENABLE_MOCKING` block is gone, so a wrapper is the bare libc call
// and the benchmarks pay nothing. In a debug build a call with no fault installed for it costs a
// call into the hook, one atomic load and a branch; only a call with faults of its kind takes the
// lock.

/// A system call made through this module's wrappers, as fault injection names it.
///
/// Threading: a value; `Sendable`.
@usableFromInline
package enum SystemCall: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case read, write, send, close, open, fcntl, poll
    case socket, socketpair, connect, bind, listen, accept, getsockname, getpeername, setsockopt, getsockopt, shutdown
    case epollCreate, epollCtl, epollWait, eventfd
    case getrlimit, setrlimit, getrusage
    case mmap, munmap
    case sigaction, kill, nanosleep
    /// io_uring_enter(2), which `AMQPURing` makes through liburing and asks the hook about itself.
    case ioUringEnter

    /// The call's bit in the set of calls with a fault installed.
    var bit: UInt64 { 1 << UInt64(rawValue) }

    /// Whether the call moves bytes, so that a fault may shorten it (``SyscallFault/Effect/limit(_:)``).
    package var movesBytes: Bool { self == .read || self == .write || self == .send }

    /// The C name, e.g. "epoll_wait".
    @usableFromInline
    package var description: String {
        switch self {
        case .read: return "read"
        case .write: return "write"
        case .send: return "send"
        case .close: return "close"
        case .open: return "open"
        case .fcntl: return "fcntl"
        case .poll: return "poll"
        case .socket: return "socket"
        case .socketpair: return "socketpair"
        case .connect: return "connect"
        case .bind: return "bind"
        case .listen: return "listen"
        case .accept: return "accept4"
        case .getsockname: return "getsockname"
        case .getpeername: return "getpeername"
        case .setsockopt: return "setsockopt"
        case .getsockopt: return "getsockopt"
        case .shutdown: return "shutdown"
        case .epollCreate: return "epoll_create1"
        case .epollCtl: return "epoll_ctl"
        case .epollWait: return "epoll_wait"
        case .eventfd: return "eventfd"
        case .getrlimit: return "getrlimit"
        case .setrlimit: return "setrlimit"
        case .getrusage: return "getrusage"
        case .mmap: return "mmap"
        case .munmap: return "munmap"
        case .sigaction: return "sigaction"
        case .kill: return "kill"
        case .nanosleep: return "nanosleep"
        case .ioUringEnter: return "io_uring_enter"
        }
    }
}

/// One fault for ``SyscallMock/with(_:_:)`` to inject: which call, on which descriptors, what
/// happens instead, from which matching call and for how many. It counts the calls it matched and
/// the ones it changed, for the test to check afterwards.
///
/// Threading: `Sendable`. @unchecked, and what makes it safe: the configuration is `let`; the
/// record of matched calls is written only inside the mock's lock (by whichever thread makes the
/// call) and read through accessors that take the same lock.
@usableFromInline
package final class SyscallFault: @unchecked Sendable, CustomStringConvertible {
    /// What a faulted call does instead.
    @usableFromInline
    package enum Effect: Sendable, Equatable {
        /// It does nothing and fails with this error: returns -1 with `errno` set (`MAP_FAILED`
        /// for mmap(2)), as the kernel does for `EINTR` before anything happened.
        case fail(Errno)
        /// It goes to the kernel asking for at most this many bytes: a short read, write or send.
        /// Only for calls that move bytes (``SystemCall/movesBytes``).
        case limit(Int)
    }

    /// Which calls a fault matches.
    package enum Target: Sendable, Equatable, CustomStringConvertible {
        /// Every call of its kind.
        case any
        /// Calls on this descriptor (for epoll_wait, the epoll descriptor).
        case descriptor(FileDescriptor)
        /// Calls on a socket bound to this local port: a listener, and the connections it accepted.
        case localPort(UInt16)
        /// Calls on a socket connected to this remote port: the clients of a listener on it.
        case peerPort(UInt16)
        /// Calls made by one thread (a pthread_t), for calls without a descriptor (mmap, open,
        /// socket) that other threads make too.
        case thread(pthread_t)

        /// Calls made by the calling thread.
        package static var callingThread: Target { .thread(pthread_self()) }

        package var description: String {
            switch self {
            case .any: return "any descriptor"
            case .descriptor(let fd): return "descriptor \(fd.rawValue)"
            case .localPort(let port): return "local port \(port)"
            case .peerPort(let port): return "peer port \(port)"
            case .thread(let thread): return "thread \(thread)"
            }
        }
    }

    /// One call the fault matched.
    package struct Match: Sendable {
        /// The descriptor the call was made on (-1 for calls without one, e.g. socket(2)).
        package var descriptor: CInt
        /// When the call was made.
        package var time: ContinuousClock.Instant
        /// Whether the fault changed it (false: it was skipped, or the fault was spent).
        package var applied: Bool
    }

    /// `times` for a fault that never runs out.
    package static let always = Int.max

    package let call: SystemCall
    package let effect: Effect
    package let target: Target
    /// Matching calls let through unchanged before the fault starts.
    package let skip: Int
    /// Matching calls changed after that; ``always`` for every one.
    package let times: Int
    /// Guarded by ``SyscallMock``'s lock.
    private var record: [Match] = []

    /// A fault on `call`; see the properties.
    package init(_ call: SystemCall, _ effect: Effect, on target: Target = .any, skip: Int = 0, times: Int = 1) {
        if case .limit(let bytes) = effect {
            precondition(call.movesBytes && bytes >= 0, "only read, write and send can be shortened, to 0 bytes or more")
        }
        precondition(skip >= 0 && times >= 1, "skip at least 0 calls, fault at least 1")
        self.call = call
        self.effect = effect
        self.target = target
        self.skip = skip
        self.times = times
    }

    /// `call` fails with `error`, doing nothing.
    package static func fail(_ call: SystemCall, with error: Errno, on target: Target = .any, skip: Int = 0, times: Int = 1) -> SyscallFault {
        SyscallFault(call, .fail(error), on: target, skip: skip, times: times)
    }

    /// `call` moves at most `bytes` bytes.
    package static func limit(_ call: SystemCall, to bytes: Int, on target: Target = .any, skip: Int = 0, times: Int = 1) -> SyscallFault {
        SyscallFault(call, .limit(bytes), on: target, skip: skip, times: times)
    }

    /// Every call it matched, in order.
    package var matches: [Match] { SyscallMock.locked { record } }
    /// How many calls it matched.
    package var matched: Int { SyscallMock.locked { record.count } }
    /// How many calls it changed.
    package var applied: Int { SyscallMock.locked { record.count(where: \.applied) } }

    @usableFromInline
    package var description: String {
        "\(call) on \(target): \(effect) after \(skip) for \(times == Self.always ? "every call" : "\(times)")"
    }

    /// Records a matching call (the mock's lock held); returns the effect when this call is in
    /// the fault's window.
    fileprivate func match(_ descriptor: CInt) -> Effect? {
        let index = record.count
        let applies = index >= skip && index - skip < times
        record.append(Match(descriptor: descriptor, time: .now, applied: applies))
        return applies ? effect : nil
    }

    /// Whether a call on `descriptor` is one of this fault's (the mock's lock held; the socket
    /// names are read with the bare libc calls, which no fault can reach).
    fileprivate func targets(_ descriptor: CInt) -> Bool {
        switch target {
        case .any: return true
        case .descriptor(let fd): return fd.rawValue == descriptor
        case .localPort(let port): return descriptor >= 0 && Self.port(of: descriptor, getsockname) == port
        case .peerPort(let port): return descriptor >= 0 && Self.port(of: descriptor, getpeername) == port
        case .thread(let thread): return pthread_equal(pthread_self(), thread) != 0
        }
    }

    private static func port(of descriptor: CInt, _ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt) -> UInt16? {
        var address = SocketAddress()
        var length = address.length
        let result = withUnsafeMutablePointer(to: &address.storage) { storage in
            // The call writes at most `length` bytes, the size of sockaddr_storage.
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        address.length = length
        return address.port
    }
}

/// Injects ``SyscallFault``s into this module's system-call wrappers for the length of a test.
///
/// ```swift
/// let eintr = SyscallFault.fail(.read, with: .interrupted, on: .descriptor(fd), times: 2)
/// let n = try SyscallMock.with(eintr) { try fd.read(into: buffer) }   // retried twice, then read
/// XCTAssertEqual(eintr.matched, 3)
/// ```
///
/// Faults are process-wide: a call on any thread that matches one is changed, so a test can fault
/// the sockets of a proactor's pool threads. Give each a ``SyscallFault/Target`` narrower than
/// ``SyscallFault/Target/any`` unless the test owns every call of that kind. Scopes never overlap:
/// one waits for another to end (and so cannot be nested). Only in builds with `ENABLE_MOCKING`
/// (debug); check ``isAvailable``.
///
/// A wake (``EventDescriptor/signal()``) stays async-signal-safe unless a `write` fault is
/// installed: the hook then takes a lock.
///
/// Threading: any thread may call ``with(_:_:)``.
package enum SyscallMock {
    /// Whether this build can inject faults (AMQPSystem built with `ENABLE_MOCKING`, i.e. debug).
    package static var isAvailable: Bool {
        #if ENABLE_MOCKING
        return true
        #else
        return false
        #endif
    }

    /// Runs `body` with `faults` installed, process-wide, and removes them when it returns.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws.
    package static func with<R, E: Error>(_ faults: SyscallFault..., body: () throws(E) -> R) throws(E) -> R {
        try with(faults, body)
    }

    /// Runs `body` with `faults` installed, process-wide, and removes them when it returns.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws.
    package static func with<R, E: Error>(_ faults: [SyscallFault], _ body: () throws(E) -> R) throws(E) -> R {
        #if ENABLE_MOCKING
        scope.lock()
        defer { scope.unlock() }
        let calls = faults.reduce(UInt64(0)) { $0 | $1.call.bit }
        state.withLock { $0 = faults }
        armed.store(calls, ordering: .releasing)
        defer {
            armed.store(0, ordering: .releasing)
            state.withLock { $0 = [] }
        }
        return try body()
        #else
        preconditionFailure("system-call faults exist only in builds with ENABLE_MOCKING (debug); check SyscallMock.isAvailable")
        #endif
    }

    /// The effect of a fault installed for `call` on `descriptor`, if any: for wrappers outside
    /// this module (`AMQPURing`'s io_uring_enter). Nil, and inlined to nothing, without
    /// `ENABLE_MOCKING`.
    @inlinable @inline(__always)
    package static func effect(_ call: SystemCall, descriptor: CInt) -> SyscallFault.Effect? {
        #if ENABLE_MOCKING
        return mockedEffect(call, descriptor)
        #else
        return nil
        #endif
    }

    /// Runs `body` with the mock's lock held.
    fileprivate static func locked<R>(_ body: () -> R) -> R {
        #if ENABLE_MOCKING
        return state.withLock { _ in body() }
        #else
        return body()
        #endif
    }
}

#if ENABLE_MOCKING
/// The calls with a fault installed, one bit per ``SystemCall``: with none, the hook's whole cost
/// is loading it.
private let armed = Atomic<UInt64>(0)
/// The installed faults; the lock also guards every fault's record. A pthread mutex (not
/// `Synchronization.Mutex`), so that the thread sanitizer sees it.
private let state = LockedValue<[SyscallFault]>([])
/// Held for the length of a ``SyscallMock/with(_:_:)`` scope.
private let scope = ConditionLock()

/// The effect for a call about to be made, recording it in every fault it matches: the first
/// fault whose window holds the call decides.
@usableFromInline @inline(never)
func mockedEffect(_ call: SystemCall, _ descriptor: CInt) -> SyscallFault.Effect? {
    guard armed.load(ordering: .acquiring) & call.bit != 0 else { return nil }
    return state.withLock { faults in
        var effect: SyscallFault.Effect?
        for fault in faults where fault.call == call && fault.targets(descriptor) {
            let own = fault.match(descriptor)
            if effect == nil { effect = own }
        }
        return effect
    }
}

/// Makes a call that moves up to `count` bytes with `effect` applied: the failure, or the real
/// call asked for fewer bytes.
@usableFromInline
func mocked<R: FixedWidthInteger>(_ effect: SyscallFault.Effect, count: Int, _ call: (Int) -> R) -> R {
    switch effect {
    case .fail(let error):
        errno = error.rawValue
        return -1
    case .limit(let bytes):
        return call(min(count, bytes))
    }
}

/// Makes a call that moves no bytes with `effect` applied: the failure (a limit does not apply).
@usableFromInline
func mocked<R: FixedWidthInteger>(_ effect: SyscallFault.Effect, _ call: () -> R) -> R {
    mocked(effect, count: 0) { _ in call() }
}
#endif

internal import CAMQPSystem
import Glibc

// One bare function per system call, as swift-system's Internals/Syscalls.swift: every libc call
// this package makes goes through one of these (the public types call them; the backends and the
// conformance suite call the public types), so that a test can fault any of them
// (Mocking.swift). Each checks for a fault only under `ENABLE_MOCKING` (debug builds); in a release
// build it is the libc call and nothing else, inlined into its caller. The ones on the hot paths
// (read, write, send) are inlinable so that they inline across modules too; epoll's need
// CAMQPSystem, which stays an internal import, so `Epoll`'s methods are where they inline.
//
// Not here: the pthread calls, pthread_sigmask and sigwait among them (they return their error
// rather than set errno, and nothing retries them); clock_gettime (the vDSO, no system call);
// getaddrinfo (a library call whose errors are not errno); getenv, strerror.

/// read(2).
@inlinable @inline(__always)
func system_read(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.read, fd) { return mocked(effect, count: count) { Glibc.read(fd, buffer, $0) } }
    #endif
    return Glibc.read(fd, buffer, count)
}

/// write(2).
@inlinable @inline(__always)
func system_write(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.write, fd) { return mocked(effect, count: count) { Glibc.write(fd, buffer, $0) } }
    #endif
    return Glibc.write(fd, buffer, count)
}

/// send(2).
@inlinable @inline(__always)
func system_send(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int, _ flags: CInt) -> Int {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.send, fd) { return mocked(effect, count: count) { Glibc.send(fd, buffer, $0, flags) } }
    #endif
    return Glibc.send(fd, buffer, count, flags)
}

/// close(2).
@inline(__always)
func system_close(_ fd: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.close, fd) { return mocked(effect) { Glibc.close(fd) } }
    #endif
    return Glibc.close(fd)
}

/// open(2), without a mode (no `O_CREAT`).
@inline(__always)
func system_open(_ path: UnsafePointer<CChar>, _ flags: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.open, -1) { return mocked(effect) { Glibc.open(path, flags) } }
    #endif
    return Glibc.open(path, flags)
}

/// fcntl(2) with no argument (`F_GETFL`, `F_GETFD`).
@inline(__always)
func system_fcntl(_ fd: CInt, _ command: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.fcntl, fd) { return mocked(effect) { Glibc.fcntl(fd, command) } }
    #endif
    return Glibc.fcntl(fd, command)
}

/// fcntl(2) with an int argument (`F_SETFL`, `F_SETFD`).
@inline(__always)
func system_fcntl(_ fd: CInt, _ command: CInt, _ value: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.fcntl, fd) { return mocked(effect) { Glibc.fcntl(fd, command, value) } }
    #endif
    return Glibc.fcntl(fd, command, value)
}

/// poll(2). A fault's descriptor is the first entry's.
@inline(__always)
func system_poll(_ fds: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ timeout: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.poll, count > 0 ? fds[0].fd : -1) { return mocked(effect) { Glibc.poll(fds, count, timeout) } }
    #endif
    return Glibc.poll(fds, count, timeout)
}

/// socket(2).
@inline(__always)
func system_socket(_ domain: CInt, _ type: CInt, _ proto: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.socket, -1) { return mocked(effect) { Glibc.socket(domain, type, proto) } }
    #endif
    return Glibc.socket(domain, type, proto)
}

/// socketpair(2).
@inline(__always)
func system_socketpair(_ domain: CInt, _ type: CInt, _ proto: CInt, _ fds: UnsafeMutablePointer<CInt>?) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.socketpair, -1) { return mocked(effect) { Glibc.socketpair(domain, type, proto, fds) } }
    #endif
    return Glibc.socketpair(domain, type, proto, fds)
}

/// connect(2).
@inline(__always)
func system_connect(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.connect, fd) { return mocked(effect) { Glibc.connect(fd, address, length) } }
    #endif
    return Glibc.connect(fd, address, length)
}

/// bind(2).
@inline(__always)
func system_bind(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.bind, fd) { return mocked(effect) { Glibc.bind(fd, address, length) } }
    #endif
    return Glibc.bind(fd, address, length)
}

/// listen(2).
@inline(__always)
func system_listen(_ fd: CInt, _ backlog: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.listen, fd) { return mocked(effect) { Glibc.listen(fd, backlog) } }
    #endif
    return Glibc.listen(fd, backlog)
}

/// accept4(2) without the peer's address (a GNU extension, through CAMQPSystem).
@inline(__always)
func system_accept4(_ fd: CInt, _ flags: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.accept, fd) { return mocked(effect) { camqp_accept4(fd, flags) } }
    #endif
    return camqp_accept4(fd, flags)
}

/// getsockname(2).
@inline(__always)
func system_getsockname(_ fd: CInt, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.getsockname, fd) { return mocked(effect) { Glibc.getsockname(fd, address, length) } }
    #endif
    return Glibc.getsockname(fd, address, length)
}

/// getpeername(2).
@inline(__always)
func system_getpeername(_ fd: CInt, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.getpeername, fd) { return mocked(effect) { Glibc.getpeername(fd, address, length) } }
    #endif
    return Glibc.getpeername(fd, address, length)
}

/// setsockopt(2).
@inline(__always)
func system_setsockopt(_ fd: CInt, _ level: CInt, _ name: CInt, _ value: UnsafeRawPointer, _ length: socklen_t) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.setsockopt, fd) { return mocked(effect) { Glibc.setsockopt(fd, level, name, value, length) } }
    #endif
    return Glibc.setsockopt(fd, level, name, value, length)
}

/// getsockopt(2).
@inline(__always)
func system_getsockopt(_ fd: CInt, _ level: CInt, _ name: CInt, _ value: UnsafeMutableRawPointer, _ length: UnsafeMutablePointer<socklen_t>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.getsockopt, fd) { return mocked(effect) { Glibc.getsockopt(fd, level, name, value, length) } }
    #endif
    return Glibc.getsockopt(fd, level, name, value, length)
}

/// shutdown(2).
@inline(__always)
func system_shutdown(_ fd: CInt, _ how: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.shutdown, fd) { return mocked(effect) { Glibc.shutdown(fd, how) } }
    #endif
    return Glibc.shutdown(fd, how)
}

/// epoll_create1(2).
@inline(__always)
func system_epoll_create1(_ flags: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.epollCreate, -1) { return mocked(effect) { epoll_create1(flags) } }
    #endif
    return epoll_create1(flags)
}

/// epoll_ctl(2). A fault's descriptor is the epoll descriptor.
@inline(__always)
func system_epoll_ctl(_ epfd: CInt, _ operation: CInt, _ fd: CInt, _ event: UnsafeMutablePointer<epoll_event>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.epollCtl, epfd) { return mocked(effect) { epoll_ctl(epfd, operation, fd, event) } }
    #endif
    return epoll_ctl(epfd, operation, fd, event)
}

/// epoll_wait(2). A fault's descriptor is the epoll descriptor.
@inline(__always)
func system_epoll_wait(_ epfd: CInt, _ events: UnsafeMutablePointer<epoll_event>?, _ maxEvents: CInt, _ timeout: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.epollWait, epfd) { return mocked(effect) { epoll_wait(epfd, events, maxEvents, timeout) } }
    #endif
    return epoll_wait(epfd, events, maxEvents, timeout)
}

/// eventfd(2).
@inline(__always)
func system_eventfd(_ initial: CUnsignedInt, _ flags: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.eventfd, -1) { return mocked(effect) { eventfd(initial, flags) } }
    #endif
    return eventfd(initial, flags)
}

/// getrlimit(2).
@inline(__always)
func system_getrlimit(_ resource: __rlimit_resource_t, _ limit: UnsafeMutablePointer<rlimit>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.getrlimit, -1) { return mocked(effect) { getrlimit(resource, limit) } }
    #endif
    return getrlimit(resource, limit)
}

/// setrlimit(2).
@inline(__always)
func system_setrlimit(_ resource: __rlimit_resource_t, _ limit: UnsafePointer<rlimit>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.setrlimit, -1) { return mocked(effect) { setrlimit(resource, limit) } }
    #endif
    return setrlimit(resource, limit)
}

/// getrusage(2).
@inline(__always)
func system_getrusage(_ who: __rusage_who_t, _ usage: UnsafeMutablePointer<rusage>) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.getrusage, -1) { return mocked(effect) { getrusage(who, usage) } }
    #endif
    return getrusage(who, usage)
}

/// mmap(2). A faulted call returns `MAP_FAILED` with errno set.
@inline(__always)
func system_mmap(_ address: UnsafeMutableRawPointer?, _ length: Int, _ protection: CInt, _ flags: CInt, _ fd: CInt, _ offset: off_t) -> UnsafeMutableRawPointer? {
    #if ENABLE_MOCKING
    if case .fail(let error)? = mockedEffect(.mmap, fd) {
        errno = error.rawValue
        return MAP_FAILED
    }
    #endif
    return mmap(address, length, protection, flags, fd, offset)
}

/// munmap(2).
@inline(__always)
func system_munmap(_ address: UnsafeMutableRawPointer, _ length: Int) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.munmap, -1) { return mocked(effect) { munmap(address, length) } }
    #endif
    return munmap(address, length)
}

/// sigaction(2) installing `handler` with `SA_RESTART` and an empty mask (through CAMQPSystem:
/// Swift cannot call the function by name, the struct of the same name wins).
@inline(__always)
func system_sigaction(_ signal: CInt, _ handler: @convention(c) (CInt) -> Void) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.sigaction, -1) { return mocked(effect) { camqp_set_signal_handler(signal, handler) } }
    #endif
    return camqp_set_signal_handler(signal, handler)
}

/// kill(2).
@inline(__always)
func system_kill(_ process: pid_t, _ signal: CInt) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.kill, -1) { return mocked(effect) { Glibc.kill(process, signal) } }
    #endif
    return Glibc.kill(process, signal)
}

/// getpid(2), which cannot fail.
@inline(__always)
func system_getpid() -> pid_t {
    Glibc.getpid()
}

/// sched_yield(2), which cannot fail on Linux.
@inline(__always)
func system_sched_yield() {
    _ = Glibc.sched_yield()
}

/// nanosleep(2).
@inline(__always)
func system_nanosleep(_ duration: UnsafePointer<timespec>, _ remaining: UnsafeMutablePointer<timespec>?) -> CInt {
    #if ENABLE_MOCKING
    if let effect = mockedEffect(.nanosleep, -1) { return mocked(effect) { Glibc.nanosleep(duration, remaining) } }
    #endif
    return Glibc.nanosleep(duration, remaining)
}

// The one place that turns a C return value into a Swift result. Everything here reads errno
// straight after the call, before any other code (allocation, ARC, a retain of a closure context)
// can run and overwrite it.

/// Runs `call` until it succeeds or fails with something other than `EINTR`.
/// - Returns: the call's result, or the errno of the failure.
@inlinable @inline(__always)
func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> I) -> Result<I, Errno> {
    while true {
        let result = call()
        if result != -1 { return .success(result) }
        let error = Errno(rawValue: errno)
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

/// As ``valueOrErrno(retryOnInterrupt:_:)`` for calls whose only result is success.
@inlinable @inline(__always)
func nothingOrErrno(retryOnInterrupt: Bool = true, _ call: () -> CInt) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, call).map { _ in () }
}

internal import CAMQPSystem
import Glibc
import Synchronization

/// A POSIX thread (pthread_create(3)) running one closure, for work that must own a thread, such
/// as a loop blocked in ``Epoll/wait(into:maxEvents:timeout:)``.
///
/// Threading: `Sendable`; ``join()`` may be called from any other thread, once.
public final class SystemThread: Sendable {
    /// The pthread; written once by pthread_create before `self` exists.
    private let thread: pthread_t
    /// Whether ``join()`` has been called, so that a second call traps and deinit knows whether
    /// to detach.
    private let joined = Atomic<Bool>(false)

    private init(thread: pthread_t) { self.thread = thread }

    /// The closure and name handed to the new thread, through pthread_create's `void *` argument.
    private final class Start: Sendable {
        let name: String?
        let body: @Sendable () -> Void
        init(name: String?, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a pthread running `body` (pthread_create(3)), with default attributes (joinable,
    /// the process's default stack size).
    /// - Parameters:
    ///   - name: the thread's name for debuggers, `ps -L` and ``currentName``; cut to 15 bytes,
    ///     the kernel's limit (pthread_setname_np(3)).
    ///   - body: what the thread runs; the thread ends when it returns.
    /// - Returns: the thread, to ``join()``.
    /// - Throws: ``Errno``, e.g. ``Errno/wouldBlock`` (`EAGAIN`) when the system is out of threads.
    public static func spawn(name: String? = nil, _ body: @escaping @Sendable () -> Void) throws(Errno) -> SystemThread {
        // One retain travels to the new thread as the raw argument; `run` takes it back.
        let start = Unmanaged.passRetained(Start(name: name, body: body))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            // `argument` is the retained Start passed below, and is consumed exactly once here.
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            if let name = start.name {
                SystemThread.setCurrentName(name)
            }
            start.body()
            return nil
        }, start.toOpaque())
        guard result == 0 else {
            // No thread was started, so the retain is still ours.
            start.release()
            throw Errno(rawValue: result)
        }
        return SystemThread(thread: thread)
    }

    /// Gives the processor to another runnable thread (sched_yield(2)): for a short wait on
    /// something another thread is about to finish.
    public static func yield() {
        system_sched_yield()
    }

    /// Puts the calling thread to sleep for `duration` (nanosleep(2)), going back to sleep for
    /// what is left when a signal interrupts it (`EINTR`). A duration of zero or less returns at once.
    public static func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 || (seconds == 0 && attoseconds > 0) else { return }
        // Ten years is "no limit" in practice, and keeps tv_sec far from overflowing.
        var request = timespec(tv_sec: Int(min(seconds, 315_360_000)), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = request
        // nanosleep reads `request` and, when interrupted, writes what is left into `remaining`.
        while system_nanosleep(&request, &remaining) == -1 && errno == EINTR {
            request = remaining
        }
    }

    /// Waits for the thread to finish (pthread_join(3)). Call it once, and not from the thread
    /// itself; either traps.
    public func join() {
        let alreadyJoined = joined.exchange(true, ordering: .acquiringAndReleasing)
        precondition(!alreadyJoined, "SystemThread.join() called twice")
        let result = pthread_join(thread, nil)
        precondition(result == 0, "pthread_join failed: \(Errno(rawValue: result))")
    }

    deinit {
        // A thread never joined is detached, so the system frees it when it ends.
        if !joined.load(ordering: .acquiring) {
            pthread_detach(thread)
        }
    }

    /// The calling thread's name (pthread_getname_np(3)), e.g. the name given to ``spawn(name:_:)``.
    public static var currentName: String {
        // The kernel's names are at most 15 bytes and a NUL; the call writes inside the 16 bytes.
        var buffer = [CChar](repeating: 0, count: 16)
        let result = camqp_pthread_getname(pthread_self(), &buffer, buffer.count)
        guard result == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Names the calling thread, cut to the kernel's 15 bytes between Unicode scalars; failures
    /// are ignored.
    private static func setCurrentName(_ name: String) {
        var length = 0
        for scalar in name.unicodeScalars {
            let width = UTF8.width(scalar)
            if length + width > 15 { break }
            length += width
        }
        let bytes = name.utf8.prefix(length).map { CChar(bitPattern: $0) } + [0]
        // pthread_setname_np copies the NUL-terminated bytes of the array.
        _ = camqp_pthread_setname(pthread_self(), bytes)
    }
}

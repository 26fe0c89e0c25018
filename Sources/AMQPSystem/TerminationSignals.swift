#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM for a process that runs until told to stop (a broker, a server), taken by a
/// thread that waits for them (sigwait(3)), so that stopping runs no code in a signal handler.
///
/// Threading: a value; `Sendable`. ``block()`` affects the calling thread and the threads it starts
/// afterwards, so call it first thing in `main`, before any other thread exists.
public struct TerminationSignals: Sendable {
    private let set: sigset_t

    /// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts later).
    public static func block() -> TerminationSignals {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return TerminationSignals(set: set)
    }

    /// Starts a thread that waits for the first of them and then calls `action` (say, a
    /// container's `stop()`), once.
    public func onSignal(_ action: @escaping @Sendable () -> Void) throws(Errno) {
        let blocked = set
        _ = try SystemThread.spawn(name: "signals") {
            var set = blocked
            var received: Int32 = 0
            sigwait(&set, &received)
            action()
        }
    }
}

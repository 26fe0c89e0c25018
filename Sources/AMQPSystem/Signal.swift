import Glibc

/// A signal number (`SIG*`), with the calls that install a handler for it and send it to this
/// process.
///
/// Threading: a value; `Sendable`. Handlers belong to the process.
@frozen
public struct Signal: RawRepresentable, Hashable, Sendable {
    /// The C signal number.
    public let rawValue: CInt

    /// Wraps a C signal number.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// `SIGINT`: interrupt from the keyboard (Ctrl-C).
    public static var interrupt: Signal { Signal(rawValue: SIGINT) }
    /// `SIGTERM`: a request to terminate.
    public static var terminate: Signal { Signal(rawValue: SIGTERM) }
    /// `SIGUSR1`: for the application's own use.
    public static var user1: Signal { Signal(rawValue: SIGUSR1) }
    /// `SIGUSR2`: for the application's own use.
    public static var user2: Signal { Signal(rawValue: SIGUSR2) }

    /// Installs `handler` for this signal (sigaction(2) with `SA_RESTART`, as glibc's signal(3)
    /// does: the handler stays installed, the signal is blocked while it runs, and interrupted
    /// calls that can be restarted are).
    ///
    /// The handler runs on whichever thread the kernel picks, interrupting it: call only
    /// async-signal-safe functions there (such as ``EventDescriptor/signal()``).
    /// - Parameter handler: a C function of the signal number; it can capture nothing.
    /// - Throws: ``Errno``: ``Errno/invalidArgument`` for `SIGKILL`, `SIGSTOP` or an unknown number.
    public func setHandler(_ handler: @convention(c) (CInt) -> Void) throws(Errno) {
        try nothingOrErrno { system_sigaction(rawValue, handler) }.get()
    }

    /// Sends this signal to this process (kill(2) of getpid(2)), not to one thread: a thread that
    /// blocks it (a test runner's may) leaves it to one that does not.
    /// - Throws: ``Errno``.
    public func sendToProcess() throws(Errno) {
        try nothingOrErrno { system_kill(system_getpid(), rawValue) }.get()
    }
}

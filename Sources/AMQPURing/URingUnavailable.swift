import AMQPEpoll
import AMQPProactor
import AMQPSystem

/// Why io_uring cannot be used on this machine, in words an operator can act on.
///
/// Threading: a value; `Sendable`.
public struct URingUnavailable: Error, Sendable, CustomStringConvertible {
    /// The causes.
    public enum Cause: Sendable, Equatable {
        /// The `kernel.io_uring_disabled` sysctl forbids it (1: only for a group, 2: for all).
        case disabledBySysctl(Int)
        /// io_uring_setup(2) said `EPERM`: a seccomp filter (containers), or the sysctl at 1.
        case notPermitted
        /// io_uring_setup(2) said `ENOSYS`: a kernel built without io_uring, or a filter that
        /// pretends so.
        case notSupported
        /// The kernel has io_uring but lacks something this backend needs.
        case missingFeature(String)
        /// io_uring_setup(2) failed otherwise (`ENOMEM`: the locked-memory limit).
        case setupFailed(Errno)
    }

    /// The cause.
    public let cause: Cause

    /// An error for `cause`.
    public init(_ cause: Cause) { self.cause = cause }

    /// What happened, and what to do.
    public var description: String {
        switch cause {
        case .disabledBySysctl(let value):
            return "io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled is \(value))"
        case .notPermitted:
            return "io_uring_setup is not permitted (EPERM): a seccomp filter (a container's default profile) or kernel.io_uring_disabled"
        case .notSupported:
            return "io_uring_setup is not implemented (ENOSYS): the kernel has no io_uring, or a filter hides it"
        case .missingFeature(let what):
            return "the kernel's io_uring lacks \(what)"
        case .setupFailed(let errno):
            return "io_uring_setup failed: \(errno)"
        }
    }
}

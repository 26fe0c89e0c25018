import AMQPEpoll
import AMQPProactor
import AMQPSystem
import CURing
import Glibc

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

/// Sets a ring up and checks it can do what the backend needs, naming the cause when not.
enum URingAvailability {
    static let sysctlPath = "/proc/sys/kernel/io_uring_disabled"

    /// The operations the backend submits.
    static let operations: [(io_uring_op, String)] = [
        (IORING_OP_RECV, "IORING_OP_RECV"), (IORING_OP_SEND, "IORING_OP_SEND"),
        (IORING_OP_ACCEPT, "IORING_OP_ACCEPT"), (IORING_OP_READ, "IORING_OP_READ"),
        (IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"), (IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"),
    ]

    static func setUp(_ configuration: URingConfiguration) throws(URingUnavailable) -> URing {
        let simulated = configuration.simulatedFailure
        let sysctl = simulated == .disabled ? 2 : readSysctl()
        if sysctl == 2 { throw URingUnavailable(.disabledBySysctl(2)) }
        let ring: URing
        do throws(Errno) {
            switch simulated {
            case .eperm?: throw Errno.notPermitted
            case .enosys?: throw Errno(rawValue: ENOSYS)
            default: break
            }
            ring = try URing(entries: configuration.submissionEntries,
                             completionEntries: max(configuration.completionEntries, configuration.submissionEntries),
                             flags: configuration.setupFlags)
        } catch {
            switch error {
            case .notPermitted where sysctl == 1: throw URingUnavailable(.disabledBySysctl(1))
            case .notPermitted: throw URingUnavailable(.notPermitted)
            case Errno(rawValue: ENOSYS): throw URingUnavailable(.notSupported)
            default: throw URingUnavailable(.setupFailed(error))
            }
        }
        let needed = UInt32(IORING_FEAT_EXT_ARG) | UInt32(IORING_FEAT_NODROP)
        if ring.features & needed != needed {
            throw URingUnavailable(.missingFeature("IORING_FEAT_EXT_ARG and IORING_FEAT_NODROP (Linux 5.11)"))
        }
        var missing = ring.unsupported(operations.map(\.0))
        if simulated == .feature { missing = [IORING_OP_RECV] }
        if let first = missing.first, let name = operations.first(where: { $0.0 == first })?.1 {
            throw URingUnavailable(.missingFeature(name))
        }
        return ring
    }

    /// The sysctl's value; 0 when the file is absent (kernels before 6.6 have no such switch).
    private static func readSysctl() -> Int {
        let fd = open(sysctlPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        let file = FileDescriptor(rawValue: fd)
        defer { try? file.close() }
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = (try? bytes.withUnsafeMutableBytes { buffer throws(Errno) in try file.read(into: buffer) }) ?? 0
        return Int(String(decoding: bytes.prefix(n), as: UTF8.self).filter(\.isNumber)) ?? 0
    }
}

/// A proactor chosen at run time: io_uring when it works here, epoll otherwise.
///
/// Threading: `Sendable`.
public struct AutomaticProactor: Sendable {
    /// The proactor.
    public let proactor: any Proactor
    /// "io_uring" or "epoll".
    public let backend: String
    /// Why io_uring was not taken; nil when it was.
    public let fallbackReason: URingUnavailable?

    /// Tries io_uring with `configuration`, then epoll.
    /// - Throws: ``Errno`` when epoll cannot be set up either.
    public static func make(configuration: URingConfiguration = URingConfiguration()) throws(Errno) -> AutomaticProactor {
        do {
            return AutomaticProactor(proactor: try URingProactor(configuration: configuration), backend: "io_uring", fallbackReason: nil)
        } catch {
            return AutomaticProactor(proactor: try EpollProactor.epoll(), backend: "epoll", fallbackReason: error)
        }
    }

    /// One line for a log: which backend, and why not io_uring.
    public var summary: String {
        fallbackReason.map { "proactor backend: epoll (io_uring unusable: \($0))" } ?? "proactor backend: io_uring"
    }
}

import AMQPEpoll
import AMQPProactor
import AMQPSystem
import CURing

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
            case .enosys?: throw Errno.noFunction
            default: break
            }
            ring = try URing(entries: configuration.submissionEntries,
                             completionEntries: max(configuration.completionEntries, configuration.submissionEntries),
                             flags: configuration.setupFlags)
        } catch {
            switch error {
            case .notPermitted where sysctl == 1: throw URingUnavailable(.disabledBySysctl(1))
            case .notPermitted: throw URingUnavailable(.notPermitted)
            case .noFunction: throw URingUnavailable(.notSupported)
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
        guard let file = try? FileDescriptor.open(sysctlPath, .readOnly) else { return 0 }
        defer { try? file.close() }
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = (try? bytes.withUnsafeMutableBytes { buffer throws(Errno) in try file.read(into: buffer) }) ?? 0
        return Int(String(decoding: bytes.prefix(n), as: UTF8.self).filter(\.isNumber)) ?? 0
    }
}

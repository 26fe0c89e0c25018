import AMQPProactor
import AMQPSystem
import CURing

/// How a ``URingProactor`` sizes its ring and buffers.
///
/// Threading: a value; `Sendable`.
public struct URingConfiguration: Sendable {
    /// Submission queue entries. A full queue is submitted to make room, so this bounds how many
    /// operations go to the kernel per `io_uring_enter`, not how many may be in flight.
    public var submissionEntries: UInt32 = 256
    /// Completion queue entries (at least `submissionEntries`). Completions beyond it are kept by
    /// the kernel (`IORING_FEAT_NODROP`, required) and arrive at the next wait: never lost.
    public var completionEntries: UInt32 = 2048
    /// Receive buffers shared by every connection: a power of two, at most 32768.
    /// `AMQP_URING_BUFFERS` overrides it.
    public var bufferCount = 512
    /// The size of one receive buffer. `AMQP_URING_BUFFER_KB` overrides it, in KiB.
    public var bufferSize = 16 * 1024
    /// Entries prepared by threads running connections are submitted once this many wait, even
    /// if no thread is about to wait on the ring. `AMQP_URING_SUBMIT_BATCH` overrides it.
    public var submitBatch = 8
    /// Output bytes at which a connection's driver sends in the middle of a batch (see
    /// ``AMQPEngine/ConnectionDriver/setEarlyWrite(threshold:_:)``).
    public var earlyWriteThreshold = EarlyWrite.threshold
    /// Accepts a listener keeps in flight at most (fewer when its backlog is fuller).
    public var acceptsInFlight = 16
    /// `IORING_SETUP_*` flags besides `CQSIZE`. The default, `COOP_TASKRUN`, lets the kernel
    /// finish a completion when the thread that submitted it next enters the kernel or takes an
    /// interrupt, instead of interrupting it at once with an IPI: it halved the kernel time per
    /// message in Benchmarks/proactor.sh (Docs/Pollers.md). `AMQP_URING_FLAGS` overrides it.
    public var setupFlags = URingConfiguration.cooperativeTaskRunning
    /// Makes setting up fail as if io_uring were unusable for this reason, to test the fallback
    /// paths. Defaults to the environment's `AMQP_URING_SIMULATE` (`disabled`, `eperm`, `enosys`,
    /// `feature`), unset in production.
    public var simulatedFailure: SimulatedFailure?

    /// `IORING_SETUP_COOP_TASKRUN`.
    public static var cooperativeTaskRunning: UInt32 { UInt32(IORING_SETUP_COOP_TASKRUN) }

    /// The ways io_uring can be unusable that the backend can be told to pretend.
    public enum SimulatedFailure: String, Sendable, CaseIterable {
        /// `/proc/sys/kernel/io_uring_disabled` reads 2.
        case disabled
        /// io_uring_setup(2) fails with `EPERM`, as under a seccomp filter.
        case eperm
        /// io_uring_setup(2) fails with `ENOSYS`, as on a kernel without io_uring.
        case enosys
        /// The kernel lacks an operation the backend needs.
        case feature
    }

    /// The defaults: a 256-entry ring, 2048 completions, 512 buffers of 16 KiB.
    public init() {
        if let value = Environment.value(of: "AMQP_URING_FLAGS"), let flags = UInt32(value) { setupFlags = flags }
        if let value = Environment.value(of: "AMQP_URING_BUFFERS"), let n = Int(value), n > 0, n <= 32768, n & (n - 1) == 0 { bufferCount = n }
        if let value = Environment.value(of: "AMQP_URING_BUFFER_KB"), let n = Int(value), n > 0, n <= 1024 { bufferSize = n * 1024 }
        if let value = Environment.value(of: "AMQP_URING_SUBMIT_BATCH"), let n = Int(value) { submitBatch = max(1, n) }
        if let value = Environment.value(of: "AMQP_URING_SIMULATE") {
            simulatedFailure = SimulatedFailure(rawValue: value)
        }
    }
}

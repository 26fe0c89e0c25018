import AMQPSystem
import CURing

/// One io_uring instance (liburing's `struct io_uring`), with one thin wrapper per call.
///
/// liburing makes the io_uring system calls, so they are wrapped here rather than in AMQPSystem
/// (which an epoll-only build uses without liburing). The two that enter the kernel on the hot
/// path, ``submit()`` and ``submitAndWait(_:wait:timeout:)``, ask AMQPSystem's fault hook first
/// (`SyscallMock`, `.ioUringEnter`), which is nothing in a release build.
///
/// Not thread-safe by itself: whoever holds it guards it (``URingProactor`` with its ring lock).
/// A class rather than swift-system's `~Copyable` struct, so that it can own the provided-buffer
/// rings registered with it and free their memory only after the ring is torn down.
final class URing {
    // Allocated once and never moved: liburing's calls take its address.
    let ring: UnsafeMutablePointer<io_uring>
    // Freed in deinit, after the ring that the kernel lets fill them.
    private var bufferRings: [ProvidedBuffers] = []

    /// Sets up a ring with `entries` submission and `completionEntries` completion slots
    /// (io_uring_queue_init_params with `IORING_SETUP_CQSIZE`).
    /// - Throws: ``Errno``: `EPERM` when io_uring is disabled or filtered (seccomp), `ENOSYS`
    ///   on a kernel without it, `ENOMEM` when the locked-memory limit is too low.
    init(entries: UInt32, completionEntries: UInt32, flags: UInt32 = 0) throws(Errno) {
        precondition(entries > 0 && completionEntries >= entries, "a ring needs entries, and at least as many completions")
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        var params = io_uring_params()
        params.flags = UInt32(IORING_SETUP_CQSIZE) | flags
        params.cq_entries = completionEntries
        let result = io_uring_queue_init_params(entries, ring, &params)
        guard result >= 0 else {
            ring.deallocate()
            throw Errno(rawValue: -result)
        }
        self.ring = ring
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        for b in bufferRings { b.deallocate() }
    }

    /// The kernel's `IORING_FEAT_*` bits for this ring.
    var features: UInt32 { ring.pointee.features }

    /// Completion queue slots (the kernel may round up what was asked).
    var completionEntries: UInt32 { ring.pointee.cq.ring_entries }

    /// Starts a ring set up with `IORING_SETUP_R_DISABLED` (io_uring_register(2)
    /// `IORING_REGISTER_ENABLE_RINGS`); with
    /// `SINGLE_ISSUER`, the calling thread becomes the only one that may submit.
    /// - Throws: ``Errno``.
    func enable() throws(Errno) {
        let result = curing_enable_rings(ring)
        guard result >= 0 else { throw Errno(rawValue: -result) }
    }

    /// Which of `opcodes` the kernel does not support (io_uring_get_probe_ring); all of them when
    /// the probe itself fails.
    func unsupported(_ opcodes: [io_uring_op]) -> [io_uring_op] {
        guard let probe = io_uring_get_probe_ring(ring) else { return opcodes }
        defer { io_uring_free_probe(probe) }
        return opcodes.filter { io_uring_opcode_supported(probe, CInt($0.rawValue)) == 0 }
    }

    /// A free submission entry, or nil when the submission queue is full (io_uring_get_sqe).
    func nextSubmission() -> UnsafeMutablePointer<io_uring_sqe>? {
        io_uring_get_sqe(ring)
    }

    /// Publishes prepared entries to the kernel; returns how many it has not consumed yet.
    func flush() -> UInt32 {
        curing_flush_submissions(ring)
    }

    /// Submits what was prepared without waiting (io_uring_submit).
    /// - Throws: ``Errno``: `EBUSY` or `EAGAIN` when the kernel wants completions reaped first;
    ///   the entries then stay queued for the next enter.
    @discardableResult
    func submit() throws(Errno) -> Int {
        if case .fail(let error)? = SyscallMock.effect(.ioUringEnter, descriptor: ring.pointee.ring_fd) { throw error }
        let n = io_uring_submit(ring)
        guard n >= 0 else { throw Errno(rawValue: -n) }
        return Int(n)
    }

    /// Enters the kernel to run the task work it keeps for this thread (io_uring_get_events):
    /// under `COOP_TASKRUN` a send that had to wait for room in the socket completes only then.
    func runPendingWork() {
        _ = io_uring_get_events(ring)
    }

    /// Submits `count` flushed entries and waits for `wait` completions until `timeout` (nil:
    /// no limit), in one io_uring_enter(2).
    /// - Throws: ``Errno``: `ETIME` when the time passed, `EINTR`, `EBUSY`; none loses an entry.
    func submitAndWait(_ count: UInt32, wait: UInt32, timeout: Duration?) throws(Errno) {
        var nanoseconds: Int64 = -1
        if let timeout {
            // Capped at about 30 years; a deadline already past waits not at all.
            let (seconds, attoseconds) = timeout.components
            nanoseconds = seconds < 0 || attoseconds < 0 ? 0 : min(seconds, 1 << 30) * 1_000_000_000 + attoseconds / 1_000_000_000
        }
        if case .fail(let error)? = SyscallMock.effect(.ioUringEnter, descriptor: ring.pointee.ring_fd) { throw error }
        let result = curing_submit_and_wait(ring, count, wait, nanoseconds)
        guard result >= 0 else { throw Errno(rawValue: -result) }
    }

    /// Whether the kernel holds completions that did not fit in the queue (`IORING_SQ_CQ_OVERFLOW`);
    /// ``reap(_:)`` brings them in.
    var completionsOverflowed: Bool {
        curing_completions_overflowed(ring)
    }

    /// Completions ready to be read.
    var readyCompletions: UInt32 { io_uring_cq_ready(ring) }

    /// Hands every ready completion to `body`, oldest first, and marks them seen
    /// (io_uring_peek_batch_cqe, then io_uring_cq_advance). Also flushes completions the kernel
    /// kept aside when the queue overflowed.
    func reap(_ body: (_ userData: UInt64, _ result: Int32, _ flags: UInt32) -> Void) {
        let capacity = 64
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<io_uring_cqe>?.self, capacity: capacity) { batch in
            while true {
                let n = Int(io_uring_peek_batch_cqe(ring, batch.baseAddress, UInt32(capacity)))
                for i in 0..<n {
                    // Each pointer is into the mapped completion queue, valid until cq_advance.
                    let cqe = batch[i].unsafelyUnwrapped.pointee
                    body(cqe.user_data, cqe.res, cqe.flags)
                }
                io_uring_cq_advance(ring, UInt32(n))
                if n < capacity { return }
            }
        }
    }

    /// Registers `buffers` as their group (io_uring_register_buf_ring); the ring frees them when
    /// it goes, registered or not.
    /// - Throws: ``Errno``: `EINVAL` on kernels without buffer rings.
    func register(_ buffers: ProvidedBuffers) throws(Errno) {
        bufferRings.append(buffers)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: buffers.ring))
        registration.ring_entries = UInt32(buffers.count)
        registration.bgid = buffers.group
        let result = io_uring_register_buf_ring(ring, &registration, 0)
        guard result >= 0 else { throw Errno(rawValue: -result) }
    }

    /// Cancels every operation on `descriptor` and returns once they are cancelled or done
    /// (io_uring_register_sync_cancel with `IORING_ASYNC_CANCEL_FD | ALL`). Their completions
    /// still arrive on the ring.
    /// - Throws: ``Errno``; `ENOENT` when nothing was in flight.
    func cancelSynchronously(_ descriptor: CInt) throws(Errno) {
        var request = io_uring_sync_cancel_reg()
        request.fd = descriptor
        request.flags = UInt32(IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL)
        request.timeout.tv_sec = -1
        request.timeout.tv_nsec = -1
        let result = io_uring_register_sync_cancel(ring, &request)
        guard result >= 0 else { throw Errno(rawValue: -result) }
    }
}

import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import CURing

/// A ``Proactor`` on io_uring: accepts, receives, sends, the wake and the connect's poll are
/// submitted to one ring and come back as completions; nothing is polled for readiness.
///
/// Design (Docs/Pollers.md, "The io_uring backend"):
/// - **One ring for the whole proactor, guarded by `lock`.** Any pool thread may run any
///   connection, so the ring is not tied to a thread (no `SINGLE_ISSUER`, `DEFER_TASKRUN` or
///   registered ring fd). The scheduler lets one thread wait at a time: that thread publishes the
///   entries prepared since its last turn and waits for completions in one `io_uring_enter`. An
///   entry prepared while it waits is submitted by the thread that prepared it.
/// - **Receives** are multishot into a provided-buffer ring; the thread holding the connection
///   has the driver decode complete frames straight from the buffers
///   (`ConnectionDriver.read(_: UnsafeRawBufferPointer)`) and gives them back. A receive ended for
///   want of buffers (`ENOBUFS`) is re-armed when buffers come back, or at once if they came back
///   before its completion was seen.
/// - **Sends**: at most one per connection, of the driver's output block
///   (`ConnectionDriver.takeOutputBlock()`), sent from the driver's memory, which stays put and
///   unchanged until the send is reported; up to 256 KiB; the driver hears how much went when the
///   completion is seen.
/// - **Close**: cancel what is in flight on the socket, close it when the last completion is in.
///   Every `user_data` carries the socket's slot and generation (``CompletionTag``).
/// - **Wake**: a read of an eventfd, kept pending; **timers**: the wait's own timeout.
///
/// Completions reach the shared scheduler as readiness of the socket's task, so scheduling
/// (tasks, the ready queue, leader/follower, wakes, timers, interrupts) is the same as epoll's.
///
/// Threading: `Sendable`. @unchecked, and what makes it safe: the ring, the buffers, the slot
/// table and every ``SocketOperations`` are touched only with `lock` held (the scheduler's lock
/// may be held when taking it, never the other way round); drivers and sockets only by the thread
/// holding their task, as in every backend; the rest is `let`.
public final class URingProactor: Proactor, SchedulerIO, @unchecked Sendable {
    let scheduler = ProactorScheduler()
    let configuration: URingConfiguration
    /// The ring lock.
    let lock = ConditionLock()
    // Guarded by `lock`:
    let ring: URing
    let buffers: ProvidedBuffers
    // The lock is also why these opt out of run-time exclusivity checks: accesses never overlap.
    @exclusivity(unchecked) var slots = SlotTable()
    @exclusivity(unchecked) private var waiting = false          // a thread is in io_uring_enter for this ring
    @exclusivity(unchecked) private var backlog: [Submission] = []   // prepared while the submission queue was full
    @exclusivity(unchecked) private var unsubmitted = 0          // entries prepared since the last submit
    @exclusivity(unchecked) private var enabled: Bool            // false until the first wait for a ring set up disabled
    @exclusivity(unchecked) var starved: [ConnectionOperations] = []
    /// Buffers the kernel filled whose completions were seen and that are not given back yet.
    @exclusivity(unchecked) private var buffersHeld = 0
    @exclusivity(unchecked) var counters = URingStatistics()   // guarded by `lock`
    // Not guarded: written by wakeIO from any thread (async-signal-safe) and read by the kernel.
    private let wakeEvent: EventDescriptor
    // The pending wake read's 8 bytes; only the kernel writes them, and nothing reads them.
    private let wakeTarget = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    /// A proactor on a new ring.
    /// - Throws: ``URingUnavailable`` naming why io_uring cannot be used here.
    public init(configuration: URingConfiguration = URingConfiguration()) throws(URingUnavailable) {
        self.configuration = configuration
        ring = try URingAvailability.setUp(configuration)
        enabled = configuration.setupFlags & UInt32(IORING_SETUP_R_DISABLED) == 0
        do throws(Errno) {
            buffers = try ProvidedBuffers(count: configuration.bufferCount, size: configuration.bufferSize, group: 0)
        } catch {
            wakeTarget.deallocate()
            throw URingUnavailable(.setupFailed(error))
        }
        do throws(Errno) {
            try ring.register(buffers)
        } catch {
            wakeTarget.deallocate()
            throw URingUnavailable(.missingFeature("provided-buffer rings (io_uring_register_buf_ring: \(error))"))
        }
        do throws(Errno) {
            // Blocking, so that the ring's read waits for a signal instead of failing with EAGAIN.
            wakeEvent = try EventDescriptor.create(nonBlocking: false)
        } catch {
            wakeTarget.deallocate()
            throw URingUnavailable(.setupFailed(error))
        }
        scheduler.attach(self)
        lock.withLock { prepare(.wake) }
    }

    deinit {
        // Sockets still closing: their operations end with the ring (torn down with `ring`).
        for s in slots.all where s.ending == .close { try? FileDescriptor(rawValue: s.descriptor).close() }
        try? wakeEvent.close()
        wakeTarget.deallocate()
    }

    /// See ``Proactor/now``: `ContinuousClock`.
    public var now: ContinuousClock.Instant { .now }
    /// See ``Proactor/wait()``.
    public func wait() -> ProactorBatch { scheduler.wait() }
    /// See ``Proactor/get()``.
    public func get() -> ProactorBatch? { scheduler.get() }
    /// See ``Proactor/done(_:)``.
    public func done(_ batch: ProactorBatch) { scheduler.done(batch) }
    /// See ``Proactor/interrupt()``: an atomic increment and an eventfd write, nothing else.
    public func interrupt() { scheduler.interrupt() }
    /// See ``Proactor/setTimeout(_:)``.
    public func setTimeout(_ timeout: Duration) { scheduler.setTimeout(timeout) }
    /// See ``Proactor/cancelTimeout()``.
    public func cancelTimeout() { scheduler.cancelTimeout() }
    /// See ``Proactor/disconnect(_:)``.
    public func disconnect(_ error: AMQPError?) { scheduler.disconnect(error) }

    // MARK: SchedulerIO

    package func wakeIO() { wakeEvent.signal() }

    package func waitForIO(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent]) {
        let (count, ready) = lock.withLock { () -> (UInt32, UInt32) in
            if !enabled {
                // Started by the first waiter: with SINGLE_ISSUER (a one-thread pool, measuring a
                // thread-owned ring) that thread becomes the ring's one submitter.
                enabled = true
                try? ring.enable()
            }
            drainBacklog()
            waiting = true
            unsubmitted = 0
            return (ring.flush(), ring.readyCompletions)
        }
        if count > 0 || ready == 0 {
            // ETIME, EINTR and EBUSY all leave nothing lost: what was not submitted stays queued.
            try? ring.submitAndWait(count, wait: ready > 0 ? 0 : 1, timeout: deadline.map { $0 - .now })
        }
        var closed: [CInt] = []
        lock.withLock {
            waiting = false
            if ring.completionsOverflowed { counters.completionOverflows += 1 }
            ring.reap { userData, result, flags in
                complete(userData, result, flags, into: &events, closing: &closed)
            }
        }
        closeDescriptors(closed)
    }

    /// Takes what has completed, without waiting, unless a thread waits on the ring (it takes
    /// them itself): an early write calls it to learn that its send in flight is done.
    func reapWithoutWaiting(runningPendingWork: Bool = false) {
        var events: [ReadinessEvent] = []
        var closed: [CInt] = []
        lock.withLock {
            guard !waiting else { return }
            // A send prepared at the end of an earlier batch may not be submitted yet (the thread
            // took the next task without waiting on the ring): it goes now.
            if unsubmitted > 0 { submitNow() }
            if runningPendingWork { ring.runPendingWork() }
            ring.reap { userData, result, flags in
                complete(userData, result, flags, into: &events, closing: &closed)
            }
        }
        closeDescriptors(closed)
        scheduler.deliver(events)
    }

    /// Submits what was prepared now (the ring lock held), for a send that should not wait for
    /// the end of the batch.
    func submitNow() {
        unsubmitted = 0
        _ = try? ring.submit()
    }

    // MARK: submissions (the ring lock held)

    /// What the proactor submits.
    enum Submission {
        case wake
        case receive(ConnectionOperations)
        case send(ConnectionOperations, UnsafeRawBufferPointer)
        case connect(ConnectionOperations)
        case accept(ListenerOperations)
        case cancel(SocketOperations)
        /// A cancel of one connection's receive only (``forceEndOfReceives()``).
        case cancelReceive(ConnectionOperations)
    }

    /// Ends a socket (the ring lock held): what is in flight is cancelled (synchronously for a
    /// release, whose socket goes back to the application at once), and the socket is retired
    /// once nothing is.
    func finish(_ socket: SocketOperations, _ ending: SocketOperations.Ending, closing: inout [CInt]) {
        guard socket.ending == nil else { return }
        socket.ending = ending
        dropBacklog(of: socket)
        if socket.inFlight == 0 {
            retire(socket, closing: &closing)
        } else if ending == .release {
            // What was prepared must reach the kernel to be found by the cancel.
            _ = try? ring.submit()
            try? ring.cancelSynchronously(socket.descriptor)
        } else if !socket.cancelSubmitted {
            prepare(.cancel(socket))
            submitIfWaiting()
        }
    }

    /// Forgets a socket's submissions still waiting for room in the submission queue.
    private func dropBacklog(of socket: SocketOperations) {
        backlog.removeAll { submission in
            switch submission {
            case .receive(let c) where c === socket: c.receiving = false
            // Never submitted: nothing of it was written.
            case .send(let c, _) where c === socket: c.sendResult = -Errno.canceled.rawValue
            case .connect(let c) where c === socket: break
            case .accept(let l) where l === socket: l.acceptsInFlight -= 1
            case .cancelReceive(let c) where c === socket: break
            default: return false
            }
            socket.inFlight -= 1
            return true
        }
    }

    /// Prepares `submission`; it goes to the kernel with the next wait, or at once when a thread
    /// is waiting already (``submitIfWaiting()``).
    func prepare(_ submission: Submission) {
        switch submission {
        case .wake: break
        case .receive(let c): c.inFlight += 1; c.receiving = true; c.starved = false
        case .send(let c, _): c.inFlight += 1
        case .connect(let c): c.inFlight += 1
        case .cancel(let s): s.inFlight += 1; s.cancelSubmitted = true
        case .cancelReceive(let c): c.inFlight += 1
        case .accept(let l): l.inFlight += 1; l.acceptsInFlight += 1
        }
        guard backlog.isEmpty, let sqe = nextEntry() else {
            backlog.append(submission)
            return
        }
        fill(sqe, submission)
        unsubmitted += 1
    }

    /// Submits what was prepared if a thread is waiting on the ring (it would not see it).
    /// Also submits once `submitBatch` entries wait: holding every connection's send until the
    /// next wait would leave the peer idle while this thread works through the whole ready queue.
    func submitIfWaiting() {
        guard waiting || unsubmitted >= configuration.submitBatch else { return }
        unsubmitted = 0
        // EBUSY or EAGAIN: the entries stay queued and go with the next enter.
        _ = try? ring.submit()
    }

    /// A submission entry; when the queue is full, what it holds is submitted to make room.
    private func nextEntry() -> UnsafeMutablePointer<io_uring_sqe>? {
        if let sqe = ring.nextSubmission() { return sqe }
        _ = try? ring.submit()
        return ring.nextSubmission()
    }

    private func drainBacklog() {
        while !backlog.isEmpty, let sqe = nextEntry() {
            fill(sqe, backlog.removeFirst())
        }
    }

    private func fill(_ sqe: UnsafeMutablePointer<io_uring_sqe>, _ submission: Submission) {
        let tag: CompletionTag
        switch submission {
        case .wake:
            io_uring_prep_read(sqe, wakeEvent.descriptor.rawValue, wakeTarget, 8, 0)
            tag = CompletionTag(slot: 0, generation: 0, operation: .wake)
        case .receive(let c):
            io_uring_prep_recv_multishot(sqe, c.descriptor, nil, 0, 0)
            sqe.pointee.flags |= CURING_IOSQE_BUFFER_SELECT
            sqe.pointee.buf_group = buffers.group
            tag = c.tag(.receive)
        case .send(let c, let bytes):
            io_uring_prep_send(sqe, c.descriptor, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL))
            tag = c.tag(.send)
        case .connect(let c):
            io_uring_prep_poll_add(sqe, c.descriptor, UInt32(POLLOUT))
            tag = c.tag(.connect)
        case .accept(let l):
            io_uring_prep_accept(sqe, l.descriptor, nil, nil, CInt(SOCK_CLOEXEC.rawValue))
            tag = l.tag(.accept)
        case .cancel(let s):
            io_uring_prep_cancel_fd(sqe, s.descriptor, UInt32(IORING_ASYNC_CANCEL_ALL))
            tag = s.tag(.cancel)
        case .cancelReceive(let c):
            io_uring_prep_cancel64(sqe, c.tag(.receive).userData, 0)
            tag = c.tag(.cancelReceive)
        }
        io_uring_sqe_set_data64(sqe, tag.userData)
    }

    // MARK: completions (the ring lock held)

    private func complete(_ userData: UInt64, _ result: Int32, _ flags: UInt32,
                          into events: inout [ReadinessEvent], closing: inout [CInt]) {
        guard let tag = CompletionTag(userData: userData) else { return }
        if tag.operation == .wake {
            prepare(.wake)
            return
        }
        let hasBuffer = flags & UInt32(IORING_CQE_F_BUFFER) != 0
        if hasBuffer { buffersHeld += 1 }
        guard let socket = slots[tag] else {
            // Not expected (a slot is freed only after its last completion), but never act on it.
            counters.staleCompletions += 1
            if hasBuffer { giveBack([UInt16(flags >> UInt32(IORING_CQE_BUFFER_SHIFT))]) }
            return
        }
        var last = true
        switch (tag.operation, socket) {
        case (.receive, let c as ConnectionOperations):
            last = flags & UInt32(IORING_CQE_F_MORE) == 0
            received(c, result, buffer: hasBuffer ? UInt16(flags >> UInt32(IORING_CQE_BUFFER_SHIFT)) : nil, last: last)
        case (.send, let c as ConnectionOperations):
            c.sendResult = result
            if result == c.sendLength && !c.wakeOnCompleteSend && socket.ending == nil {
                socket.inFlight -= 1
                return
            }
        case (.connect, let c as ConnectionOperations):
            c.connectResult = result
        case (.accept, let l as ListenerOperations):
            l.acceptsInFlight -= 1
            if result >= 0 {
                if l.ending == nil { l.accepted.append(result) } else { closing.append(result) }
            } else if result != -Errno.canceled.rawValue && result != -Errno.wouldBlock.rawValue {
                l.acceptError = Errno(rawValue: -result)
            }
        case (.cancel, _):
            // How many it cancelled (IORING_ASYNC_CANCEL_ALL): none when all had completed.
            if result == 0 { counters.cancelsFindingNothing += 1 }
        default:
            // A cancel of one operation: ENOENT or EALREADY when it had completed, or was.
            if result == -Errno.noSuchFileOrDirectory.rawValue || result == -Errno.alreadyInProcess.rawValue { counters.cancelsFindingNothing += 1 }
        }
        if last { socket.inFlight -= 1 }
        if socket.ending != nil {
            if socket.inFlight == 0 { retire(socket, closing: &closing) }
            return
        }
        events.append(ReadinessEvent(token: socket.taskID, ready: .read))
    }

    private func received(_ c: ConnectionOperations, _ result: Int32, buffer: UInt16?, last: Bool) {
        if last { c.receiving = false }
        if let buffer {
            if result > 0 && c.ending == nil { c.received.append((buffer, Int(result))) } else { giveBack([buffer]) }
        }
        if result == 0 {
            c.endOfInput = true
        } else if result == -Errno.noBufferSpace.rawValue {
            counters.starvedReceives += 1
            guard c.ending == nil, !c.starved, last else { return }
            if buffersHeld < buffers.count {
                // Buffers came back between the kernel finding none and this completion being
                // seen: no give-back is coming to re-arm it, so re-arm now.
                prepare(.receive(c))
            } else {
                // Re-armed when buffers come back: every one is held.
                c.starved = true
                starved.append(c)
            }
        } else if result < 0 && result != -Errno.canceled.rawValue {
            c.receiveError = Errno(rawValue: -result)
        } else if last && c.ending == nil {
            // Cancelled, or ended by the kernel (an overflowing completion queue): the next
            // batch re-arms. A thread that exits also cancels what it submitted.
            counters.receivesRearmed += 1
        }
    }

    /// Gives buffers back to the kernel, and re-arms the receives that ran out of them.
    func giveBack(_ ids: some Collection<UInt16>) {
        buffers.giveBack(ids)
        buffersHeld -= ids.count
        guard !ids.isEmpty, !starved.isEmpty else { return }
        let waiting = starved
        starved = []
        for c in waiting where c.starved && c.ending == nil && !c.endOfInput && !c.receiving {
            prepare(.receive(c))
        }
        submitIfWaiting()
    }

    /// Takes a socket with nothing in flight out of the table; adds the descriptors the caller
    /// must close (its own unless released, and accepted ones no one took).
    func retire(_ socket: SocketOperations, closing: inout [CInt]) {
        slots.remove(socket)
        if let c = socket as? ConnectionOperations {
            giveBack(c.received.map(\.id))
            c.received = []
        }
        if let l = socket as? ListenerOperations {
            closing += l.accepted
            l.accepted = []
        }
        if socket.ending == .close { closing.append(socket.descriptor) }
    }

    /// Closes descriptors whose operations are all done (the ring lock not held); listeners
    /// out of descriptors hear of it.
    func closeDescriptors(_ descriptors: [CInt]) {
        guard !descriptors.isEmpty else { return }
        for fd in descriptors { try? FileDescriptor(rawValue: fd).close() }
        scheduler.lock.withLock { scheduler.descriptorFreed() }
    }
}

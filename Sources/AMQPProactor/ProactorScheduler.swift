import AMQPCodec
import AMQPEngine
import AMQPSystem
import Synchronization

/// What a backend plugs into ``ProactorScheduler``: waiting for IO, and running a connection's or
/// a listener's batch. ``ReadinessProactor`` is one (over a ``ReadinessPoller``); a completion
/// backend (io_uring) would be another, reusing everything else: tasks, the ready queue, the
/// leader/follower wait, wakes, timers, interrupts, inactivity.
package protocol SchedulerIO: AnyObject, Sendable {
    /// Waits for IO until `deadline` (the scheduler's lock not held); appends what happened.
    func waitForIO(until deadline: ContinuousClock.Instant?, into events: inout [ReadinessEvent])
    /// Makes a `waitForIO` in progress return. Async-signal-safe.
    func wakeIO()
    /// A connection's IO for one batch (the task held); whether the application has events.
    func runConnection(_ task: ConnectionTask, _ work: ConnectionWork) -> Bool
    /// Ends a connection's batch: writes, arms, frees; clears `working` under the lock.
    func finishConnection(_ task: ConnectionTask)
    /// A listener's events for one batch (the task held).
    func runListener(_ task: ListenerTask, _ work: ListenerWork, handle: ProactorListener?) -> [ProactorEvent]
    /// Ends a listener's batch; clears `working` under the lock.
    func finishListener(_ task: ListenerTask)
}

/// The scheduling that every backend shares.
///
/// How it schedules (Proton's epoll proactor, with one lock): connections, listeners and the
/// proactor itself are tasks; a task with something to do goes on the ready queue once; a thread
/// in ``wait()`` takes the first ready task, or, when none is ready and no other thread is polling,
/// becomes the poller and waits for readiness, wakes and deadlines; the others sleep until a task
/// is ready. A task taken by a thread is `working` until ``done(_:)``: whatever happens to it
/// meanwhile (readiness, a wake, a deadline, a disconnect) is recorded and looked at again at
/// `done`, which queues it again if anything is left. So one connection is never on two threads.
///
/// @unchecked Sendable, and what makes it safe: every mutable property is guarded by `lock`
/// (documented on each), except `interruptsRequested`, an atomic, so that `interrupt()` takes no
/// lock and is safe in a signal handler; `io` is set once, before any use.
package final class ProactorScheduler: @unchecked Sendable {
    // The backend that owns this scheduler, set once right after both exist. Unowned(unsafe) is
    // safe because the backend owns the scheduler: every call into the scheduler comes through
    // the backend, which is alive for its duration.
    private unowned(unsafe) var ioReference: (any SchedulerIO)?
    package var io: any SchedulerIO { ioReference.unsafelyUnwrapped }
    package func attach(_ io: any SchedulerIO) { ioReference = io }
    package let lock = ConditionLock()
    // Guarded by `lock`:
    private var readyQueue = TaskQueue()
    private var tasks: [UInt64: ProactorTask] = [:]
    private var nextID: UInt64 = 1
    private var pollerBusy = false
    private var sleepers = 0
    private var timers = TimerHeap()
    private var proactorTimeout: ContinuousClock.Instant?
    private var connectionCount = 0
    private var listenerCount = 0
    private var backingOff: [ListenerTask] = []
    private let selfTask = ProactorSelfTask(id: 0)
    private var readiness: [ReadinessEvent] = []
    // Lock-free, for interrupt() from a signal handler.
    private let interruptsRequested = Atomic<Int>(0)

    package init() {}

    /// How long a listener out of descriptors (`EMFILE`) waits before it tries again, unless a
    /// descriptor is closed sooner.
    package static var acceptBackoff: Duration { .milliseconds(100) }

    package var now: ContinuousClock.Instant { .now }

    // MARK: the scheduling loop

    package func wait() -> ProactorBatch {
        lock.lock()
        while true {
            absorbInterrupts()
            if let task = readyQueue.popFirst() {
                if let batch = begin(task) { return batch }
                continue
            }
            if !pollerBusy {
                poll(until: nextDeadline())
                continue
            }
            sleepers += 1
            _ = lock.wait(until: nil)
            sleepers -= 1
        }
    }

    package func get() -> ProactorBatch? {
        lock.lock()
        for round in 0..<2 {
            absorbInterrupts()
            while let task = readyQueue.popFirst() {
                if let batch = begin(task) { return batch }
            }
            guard round == 0, !pollerBusy else { break }
            poll(until: now)
        }
        lock.unlock()
        return nil
    }

    /// Takes `task` (the lock held) and makes its batch; returns with the lock released when
    /// there is a batch, held when there is none (nothing to tell the application).
    private func begin(_ task: ProactorTask) -> ProactorBatch? {
        task.queued = false
        task.working = true
        switch task {
        case let c as ConnectionTask:
            let work = ConnectionWork(ready: c.ready, wake: c.wakePending, timer: c.timerDue, disconnect: c.disconnect)
            c.ready = []
            c.wakePending = false
            c.timerDue = false
            c.disconnect = nil
            lock.unlock()
            if io.runConnection(c, work) { return ProactorBatch(kind: .connection(c.driver), owner: c) }
            io.finishConnection(c)
            lock.lock()
            return nil
        case let l as ListenerTask:
            let work = ListenerWork(ready: l.ready, timer: l.timerDue, close: l.closeRequested)
            l.ready = []
            l.timerDue = false
            l.closeRequested = nil
            let handle = l.handle
            lock.unlock()
            let events = io.runListener(l, work, handle: handle)
            if let handle, !events.isEmpty { return ProactorBatch(kind: .listener(handle), owner: l, events: events) }
            io.finishListener(l)
            lock.lock()
            return nil
        default:
            let events = selfEvents()
            lock.unlock()
            if !events.isEmpty { return ProactorBatch(kind: .proactor, owner: selfTask, events: events) }
            lock.lock()
            selfTask.working = false
            if selfTask.hasWork { schedule(selfTask) }
            return nil
        }
    }

    package func done(_ batch: ProactorBatch) {
        guard !batch.isDone else { return }
        batch.isDone = true
        switch batch.owner {
        case let c as ConnectionTask: io.finishConnection(c)
        case let l as ListenerTask: io.finishListener(l)
        default:
            lock.withLock {
                selfTask.working = false
                // After the application had its say on the timeout (it may have set another).
                if batch.containsTimeout { checkInactive() }
                if selfTask.hasWork { schedule(selfTask) }
            }
        }
    }

    /// Polls once (the lock held on entry and on return).
    private func poll(until deadline: ContinuousClock.Instant?) {
        pollerBusy = true
        var events = readiness
        readiness = []
        lock.unlock()
        events.removeAll(keepingCapacity: true)
        io.waitForIO(until: deadline, into: &events)
        let now = self.now
        lock.lock()
        pollerBusy = false
        for e in events {
            guard let task = tasks[e.token] else { continue }   // closed since: a stale event
            task.ready.formUnion(e.ready)
            schedule(task)
        }
        readiness = events
        expireTimers(now)
        // This thread stops polling: a sleeper takes over (interrupts and IO must always have a
        // thread in the poller to reach, as interrupt() cannot signal a sleeper itself), and one
        // more for each task this thread cannot take.
        if sleepers > 0 {
            for _ in 0..<max(1, min(readyQueue.count, sleepers)) { lock.signal() }
        }
    }

    /// Readiness a backend found outside ``poll(until:)`` (the lock not held): a completion
    /// backend that reaps its queue while a thread is in a batch.
    package func deliver(_ events: [ReadinessEvent]) {
        guard !events.isEmpty else { return }
        lock.withLock {
            for e in events {
                guard let task = tasks[e.token] else { continue }
                task.ready.formUnion(e.ready)
                schedule(task)
            }
        }
    }

    /// Queues `task` if it is neither queued nor held (the lock held), and makes sure a thread
    /// comes for it: a sleeper, or the poller woken from its wait.
    package func schedule(_ task: ProactorTask) {
        guard !task.queued, !task.working else { return }
        task.queued = true
        readyQueue.append(task)
        if sleepers > 0 {
            lock.signal()
        } else if pollerBusy {
            io.wakeIO()
        }
    }

    // MARK: time

    /// The earliest deadline: a connection's tick, a listener's back-off, or the proactor timeout.
    private func nextDeadline() -> ContinuousClock.Instant? {
        let tasks = self.tasks
        let timer = timers.peek { tasks[$0]?.deadline }?.deadline
        switch (timer, proactorTimeout) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b): return b
        }
    }

    private func expireTimers(_ now: ContinuousClock.Instant) {
        let tasks = self.tasks
        while let top = timers.peek(current: { tasks[$0]?.deadline }), top.deadline <= now {
            timers.pop()
            guard let task = tasks[top.owner] else { continue }
            task.deadline = nil
            task.timerDue = true
            schedule(task)
        }
        if let t = proactorTimeout, t <= now {
            proactorTimeout = nil
            selfTask.timeoutFired = true
            schedule(selfTask)
        }
    }

    /// Sets or clears a task's deadline (the lock held).
    package func setDeadline(_ task: ProactorTask, _ deadline: ContinuousClock.Instant?) {
        guard task.deadline != deadline else { return }
        task.deadline = deadline
        if let deadline {
            timers.push(deadline, owner: task.id)
            // A deadline earlier than what the poller waits for must cut its wait short.
            if pollerBusy { io.wakeIO() }
        }
    }

    package func setTimeout(_ timeout: Duration) {
        lock.withLock {
            proactorTimeout = now.advanced(by: timeout)
            selfTask.timeoutFired = false
            if pollerBusy { io.wakeIO() }
        }
    }

    package func cancelTimeout() {
        lock.withLock {
            let wasSet = proactorTimeout != nil
            proactorTimeout = nil
            selfTask.timeoutFired = false
            if wasSet { checkInactive() }
        }
    }

    // MARK: the proactor's own events

    package func interrupt() {
        // Lock-free and allocation-free: safe in a signal handler.
        interruptsRequested.add(1, ordering: .releasing)
        io.wakeIO()
    }

    private func absorbInterrupts() {
        let n = interruptsRequested.exchange(0, ordering: .acquiring)
        guard n > 0 else { return }
        selfTask.interrupts += n
        schedule(selfTask)
    }

    /// What the proactor's batch says now (the lock held): one interrupt per batch, so that each
    /// goes to one `wait`; otherwise the timeout and inactivity.
    private func selfEvents() -> [ProactorEvent] {
        if selfTask.interrupts > 0 {
            selfTask.interrupts -= 1
            return [.interrupt]
        }
        if selfTask.timeoutFired {
            selfTask.timeoutFired = false
            return [.timeout]
        }
        var events: [ProactorEvent] = []
        if selfTask.inactivePending {
            selfTask.inactivePending = false
            if isInactive { events.append(.inactive) }
        }
        return events
    }

    private var isInactive: Bool { connectionCount == 0 && listenerCount == 0 && proactorTimeout == nil }

    /// Posts inactive if nothing is left (the lock held).
    package func checkInactive() {
        if isInactive {
            selfTask.inactivePending = true
            schedule(selfTask)
        }
    }

    package func disconnect(_ error: AMQPError?) {
        let error = error ?? AMQPError(condition: ErrorCondition.connectionForced, description: "the proactor disconnected")
        lock.withLock {
            for task in tasks.values {
                switch task {
                case let c as ConnectionTask:
                    c.disconnect = error
                    schedule(c)
                case let l as ListenerTask where l.closeRequested == nil:
                    l.closeRequested = .some(nil)
                    schedule(l)
                default: break
                }
            }
            checkInactive()
        }
    }

    // MARK: tasks

    /// A new task id and its entry in the table (the lock held).
    package func add<T: ProactorTask>(_ make: (UInt64) -> T) -> T {
        let task = make(nextID)
        nextID += 1
        tasks[task.id] = task
        switch task {
        case is ConnectionTask: connectionCount += 1
        case is ListenerTask: listenerCount += 1
        default: break
        }
        return task
    }

    /// Takes a task out of the table (the lock held); stale readiness and timers for it are
    /// dropped by id from now on.
    package func remove(_ task: ProactorTask) {
        guard tasks.removeValue(forKey: task.id) != nil else { return }
        task.deadline = nil
        switch task {
        case is ConnectionTask: connectionCount -= 1
        case is ListenerTask: listenerCount -= 1
        default: break
        }
        checkInactive()
    }

    package func isInTable(_ task: ProactorTask) -> Bool { tasks[task.id] != nil }

    /// Asks for a wake in the connection's next batch; false when it is gone.
    package func wake(_ task: ConnectionTask) -> Bool {
        lock.withLock {
            guard !task.freed, isInTable(task) else { return false }
            task.wakePending = true
            schedule(task)
            return true
        }
    }

    /// Whether the connection is still run.
    package func isAlive(_ task: ConnectionTask) -> Bool {
        lock.withLock { !task.freed && isInTable(task) }
    }

    /// A descriptor was closed: listeners waiting for one try again now.
    package func descriptorFreed() {
        guard !backingOff.isEmpty else { return }
        for l in backingOff where l.backingOff {
            l.timerDue = true
            schedule(l)
        }
        backingOff.removeAll()
    }

    package func startBackoff(_ l: ListenerTask) {
        l.backingOff = true
        backingOff.append(l)
        setDeadline(l, now.advanced(by: Self.acceptBackoff))
    }
}

/// The ready queue: tasks in the order they became ready, each at most once.
struct TaskQueue {
    private var items: [ProactorTask?] = []
    private var head = 0

    var count: Int { items.count - head }

    mutating func append(_ task: ProactorTask) { items.append(task) }

    mutating func popFirst() -> ProactorTask? {
        guard head < items.count else { return nil }
        let t = items[head]
        items[head] = nil
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
        else if head >= 1024 && head * 2 >= items.count { items.removeFirst(head); head = 0 }
        return t
    }
}


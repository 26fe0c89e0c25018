import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem

// Listeners on the ring: one-shot accepts, one per free backlog place (at most
// `URingConfiguration.acceptsInFlight`), backing off when out of descriptors as epoll does.
extension URingProactor: ListenerScheduler {
    /// See ``Proactor/listen(on:backlog:)``.
    @discardableResult
    public func listen(on address: String, backlog: Int) -> ProactorListener {
        let bound = ListeningSocket(address: address, backlog: backlog, nonBlocking: false)
        let socket = bound.socket
        return scheduler.lock.withLock {
            let task = scheduler.add { ListenerTask(id: $0, socket: socket, backlog: max(1, backlog)) }
            task.failure = bound.failure
            let handle = ProactorListener(address: address, port: bound.port, task: task, scheduler: self)
            task.handle = handle
            if let socket {
                let l = ListenerOperations(descriptor: socket.descriptor.rawValue, taskID: task.id)
                lock.withLock { slots.insert(l) }
                task.io = l
            }
            task.timerDue = true
            scheduler.schedule(task)
            return handle
        }
    }

    private func operations(_ task: ListenerTask) -> ListenerOperations? {
        task.io.map { unsafeDowncast($0, to: ListenerOperations.self) }
    }

    /// One listener batch's events (the task held, the lock not).
    package func runListener(_ task: ListenerTask, _ work: ListenerWork, handle: ProactorListener?) -> [ProactorEvent] {
        guard let handle, !task.closed else { return [] }
        var events: [ProactorEvent] = []
        if let failure = task.failure {
            closeListener(task)
            return [.listenerClose(handle, failure)]
        }
        if !task.openReported {
            task.openReported = true
            events.append(.listenerOpen(handle))
        }
        if let close = work.close {
            closeListener(task)
            events.append(.listenerClose(handle, close))
            return events
        }
        if work.timer { scheduler.lock.withLock { task.backingOff = false } }
        guard let l = operations(task) else { return events }
        let (accepted, error) = lock.withLock {
            defer { l.accepted = [] }
            return (l.accepted, l.acceptError.take())
        }
        let sockets = accepted.map { Socket(FileDescriptor(rawValue: $0)) }
        scheduler.lock.withLock {
            task.pending += sockets
            if error == .tooManyOpenFiles || error == .fileTableOverflow { scheduler.startBackoff(task) }
        }
        for _ in sockets { events.append(.listenerAccept(handle)) }
        return events
    }

    private func takePending(_ task: ListenerTask) -> [Socket] {
        scheduler.lock.withLock {
            defer { task.pending = [] }
            return task.pending
        }
    }

    private func closeListener(_ task: ListenerTask) {
        guard !task.closed else { return }
        task.closed = true
        closeDescriptors(takePending(task).map(\.descriptor.rawValue))
        guard let l = operations(task) else { return }
        task.io = nil
        var closing: [CInt] = []
        lock.withLock { finish(l, .close, closing: &closing) }
        closeDescriptors(closing)
    }

    /// Ends a listener's batch: refuses what was not answered, keeps accepts in flight for the
    /// free backlog places, or frees the closed listener.
    package func finishListener(_ task: ListenerTask) {
        closeDescriptors(takePending(task).map(\.descriptor.rawValue))
        if !task.closed, let l = operations(task) {
            let (room, backingOff) = scheduler.lock.withLock { (task.backlog - task.pending.count, task.backingOff) }
            if !backingOff {
                lock.withLock {
                    let wanted = min(room, configuration.acceptsInFlight) - l.acceptsInFlight - l.accepted.count
                    guard wanted > 0, l.ending == nil else { return }
                    for _ in 0..<wanted { prepare(.accept(l)) }
                    submitIfWaiting()
                }
            }
        }
        scheduler.lock.withLock {
            task.working = false
            if task.closed {
                scheduler.remove(task)
            } else if task.hasWork {
                scheduler.schedule(task)
            }
        }
    }

    package func accept(_ task: ListenerTask, configuration: DriverConfiguration) -> ProactorConnection? {
        let socket: Socket? = scheduler.lock.withLock { task.pending.isEmpty ? nil : task.pending.removeFirst() }
        guard let socket else { return nil }
        try? socket.setNoDelay(true)
        let driver = ConnectionDriver(mode: .server, configuration: configuration)
        return scheduler.lock.withLock {
            let c = scheduler.add { ConnectionTask(id: $0, driver: driver, socket: socket, phase: .connected, target: "accepted connection") }
            register(c, socket)
            c.ready = [.read]
            scheduler.schedule(c)
            return ProactorConnection(task: c, scheduler: self)
        }
    }

    package func refuse(_ task: ListenerTask) {
        let socket: Socket? = scheduler.lock.withLock { task.pending.isEmpty ? nil : task.pending.removeFirst() }
        closeDescriptors(socket.map { [$0.descriptor.rawValue] } ?? [])
    }

    package func close(_ task: ListenerTask) {
        scheduler.lock.withLock {
            guard scheduler.isInTable(task), task.closeRequested == nil else { return }
            task.closeRequested = .some(nil)
            scheduler.schedule(task)
        }
    }
}

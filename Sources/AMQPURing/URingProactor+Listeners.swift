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
        return scheduler.addListener(bound, address: address, backlog: backlog, owner: self) { task, socket in
            let l = ListenerOperations(descriptor: socket.descriptor.rawValue, taskID: task.id)
            lock.withLock { slots.insert(l) }
            task.io = l
        }
    }

    private func operations(_ task: ListenerTask) -> ListenerOperations? {
        task.io.map { unsafeDowncast($0, to: ListenerOperations.self) }
    }

    /// One listener batch's events (the task held, the lock not).
    package func runListener(_ task: ListenerTask, _ work: ListenerWork, handle: ProactorListener?) -> [ProactorEvent] {
        guard let handle, !task.closed else { return [] }
        var (events, accepting) = scheduler.beginListenerBatch(task, work, handle: handle) { closeListener(task) }
        guard accepting, let l = operations(task) else { return events }
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

    private func closeListener(_ task: ListenerTask) {
        guard !task.closed else { return }
        task.closed = true
        closeDescriptors(scheduler.takeUnanswered(task).map(\.descriptor.rawValue))
        guard let l = operations(task) else { return }
        task.io = nil
        var closing: [CInt] = []
        lock.withLock { finish(l, .close, closing: &closing) }
        closeDescriptors(closing)
    }

    /// Ends a listener's batch: refuses what was not answered, keeps accepts in flight for the
    /// free backlog places, or frees the closed listener.
    package func finishListener(_ task: ListenerTask) {
        closeDescriptors(scheduler.takeUnanswered(task).map(\.descriptor.rawValue))
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
        scheduler.endListenerBatch(task)
    }

    package func accept(_ task: ListenerTask, configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection? {
        guard let socket = scheduler.takeAccepted(task) else { return nil }
        try? socket.setNoDelay(true)
        let driver = ConnectionDriver(mode: .server, configuration: configuration)
        let c = scheduler.addConnected(driver: driver, layer: layer, socket: socket, target: "accepted connection") { register($0, socket) }
        return ProactorConnection(task: c, scheduler: self)
    }

    package func refuse(_ task: ListenerTask) {
        closeDescriptors(scheduler.takeAccepted(task).map { [$0.descriptor.rawValue] } ?? [])
    }

    package func close(_ task: ListenerTask) { scheduler.requestClose(task) }
}

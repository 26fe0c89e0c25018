import AMQPCodec
import AMQPEngine
import AMQPSystem

// What every backend does to a task the same way, whatever its IO: the driver's side of a failed
// socket, the start of a listener's batch, and the listener and connection bookkeeping that lives
// under the scheduler's lock.

extension ConnectionTask {
    /// A socket-level error (condition `proton:io`), e.g. "read from accepted connection:
    /// Connection reset by peer".
    package func ioError(_ action: String, _ error: Errno) -> AMQPError {
        AMQPError(condition: ProactorCondition.io, description: "\(action) \(target): \(error)")
    }

    /// A read failed (the task held): the driver reports it unless its input had closed, and its
    /// output closes. The backend closes the socket.
    package func readFailed(_ error: Errno) {
        if !driver.isTailClosed { driver.failTransport(ioError("read from", error)) }
        driver.writeClose()
    }

    /// A write failed (the task held): the driver reports it unless its input had closed, and
    /// both ways close. The backend closes the socket.
    package func writeFailed(_ error: Errno) {
        if !driver.isTailClosed { driver.failTransport(ioError("write to", error)) }
        driver.writeClose()
        driver.readClose()
    }

    /// A connection that never connected (the task held): transport error, then transport closed.
    package func connectFailed(_ error: AMQPError) {
        driver.failTransport(error)
        driver.writeClose()
        driver.readClose()
    }

    /// For a finished connection (the task held): until when it stays open for its layer's last
    /// bytes (a TLS close_notify or alert waiting for room in the socket), at most
    /// ``TransportLayerLinger/duration``; nil to close it now (no layer, no socket, nothing left
    /// to write, or the time is up).
    package func lingerDeadline(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let layer, socket != nil, layer.hasOutput(driver: driver) else { return nil }
        let until = lingerUntil ?? now.advanced(by: TransportLayerLinger.duration)
        lingerUntil = until
        return now < until ? until : nil
    }

    /// Why no address of `target` took a connect.
    package func noAddressError(_ last: Errno?) -> AMQPError {
        AMQPError(condition: ProactorCondition.io, description: "connect to \(target): \(last.map { "\($0)" } ?? "no address")")
    }
}

extension ProactorScheduler {
    /// A client connection's task, its first batch queued to start the connect (so nothing blocks
    /// on the caller's thread).
    package func addClient(_ plan: ConnectPlan, layer: (any TransportLayer)?, target: String) -> ConnectionTask {
        lock.withLock {
            let task = add { ConnectionTask(id: $0, driver: plan.driver, layer: layer, socket: nil, phase: plan.phase, target: target) }
            task.timerDue = true
            schedule(task)
            return task
        }
    }

    /// A connection on a connected socket (adopted or accepted), its first batch queued;
    /// `register` gives the socket to the backend (the lock held).
    package func addConnected(driver: ConnectionDriver, layer: (any TransportLayer)?, socket: Socket, target: String,
                              ready: ReadinessInterest = .read, register: (ConnectionTask) -> Void) -> ConnectionTask {
        lock.withLock {
            let task = add { ConnectionTask(id: $0, driver: driver, layer: layer, socket: socket, phase: .connected, target: target) }
            register(task)
            task.ready = ready
            schedule(task)
            return task
        }
    }

    /// A listener on `bound`, its first batch queued (it reports open, or the failure to listen);
    /// `register` gives the socket to the backend (the lock held).
    package func addListener(_ bound: ListeningSocket, address: String, backlog: Int, owner: any ListenerScheduler,
                             register: (ListenerTask, Socket) -> Void) -> ProactorListener {
        lock.withLock {
            let task = add { ListenerTask(id: $0, socket: bound.socket, backlog: max(1, backlog)) }
            task.failure = bound.failure
            let handle = ProactorListener(address: address, port: bound.port, task: task, scheduler: owner)
            task.handle = handle
            if let socket = bound.socket { register(task, socket) }
            task.timerDue = true
            schedule(task)
            return handle
        }
    }

    /// Ends a listener's batch once the backend is done with it: a closed listener leaves the
    /// table, one with more to do is queued again.
    package func endListenerBatch(_ task: ListenerTask) {
        lock.withLock {
            task.working = false
            if task.closed {
                remove(task)
            } else if task.hasWork {
                schedule(task)
            }
        }
    }

    /// The events a listener's batch starts with (the task held, the lock not): a failure to
    /// listen, or a close asked for, ends the listener (`close` releases its socket); otherwise
    /// listener-open, once. `accepting` says whether the batch goes on to accept.
    package func beginListenerBatch(_ task: ListenerTask, _ work: ListenerWork, handle: ProactorListener,
                                    close: () -> Void) -> (events: [ProactorEvent], accepting: Bool) {
        if let failure = task.failure {
            close()
            return ([.listenerClose(handle, failure)], false)
        }
        var events: [ProactorEvent] = []
        if !task.openReported {
            task.openReported = true
            events.append(.listenerOpen(handle))
        }
        if let error = work.close {
            close()
            events.append(.listenerClose(handle, error))
            return (events, false)
        }
        if work.timer { lock.withLock { task.backingOff = false } }
        return (events, true)
    }

    /// The next accepted connection waiting for the application's answer, if any.
    package func takeAccepted(_ task: ListenerTask) -> Socket? {
        lock.withLock { task.pending.isEmpty ? nil : task.pending.removeFirst() }
    }

    /// Every accepted connection no one answered (to close at the end of the batch).
    package func takeUnanswered(_ task: ListenerTask) -> [Socket] {
        lock.withLock {
            defer { task.pending = [] }
            return task.pending
        }
    }

    /// Asks a listener to close, once; its batch does it.
    package func requestClose(_ task: ListenerTask) {
        lock.withLock {
            guard isInTable(task), task.closeRequested == nil else { return }
            task.closeRequested = .some(nil)
            schedule(task)
        }
    }
}

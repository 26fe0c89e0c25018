import AMQPCodec
import AMQPEngine
import AMQPSystem

/// What happened to a listener between two of its batches.
package struct ListenerWork {
    package var ready: ReadinessInterest
    package var timer: Bool
    package var close: AMQPError??
}

// Listeners: binding, accepting (within the backlog, backing off when out of descriptors), closing.
extension ReadinessProactor: ListenerScheduler {
    /// See ``Proactor/listen(on:backlog:)``.
    @discardableResult
    public func listen(on address: String, backlog: Int) -> ProactorListener {
        let bound = ListeningSocket(address: address, backlog: backlog, nonBlocking: true)
        let socket = bound.socket
        return scheduler.lock.withLock {
            let task = scheduler.add { ListenerTask(id: $0, socket: socket, backlog: max(1, backlog)) }
            task.failure = bound.failure
            let handle = ProactorListener(address: address, port: bound.port, task: task, scheduler: self)
            task.handle = handle
            if let socket {
                do {
                    try poller.register(socket.descriptor, token: task.id)
                    task.registered = true
                } catch {
                    task.failure = AMQPError(condition: ProactorCondition.io, description: "poller register: \(error)")
                }
            }
            task.timerDue = true
            scheduler.schedule(task)
            return handle
        }
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
        if work.ready.contains(.read) || work.timer {
            for _ in acceptAvailable(task) { events.append(.listenerAccept(handle)) }
        }
        return events
    }

    /// Accepts what is waiting, up to the backlog; returns the new sockets.
    private func acceptAvailable(_ task: ListenerTask) -> [Socket] {
        guard let socket = task.socket else { return [] }
        var accepted: [Socket] = []
        let room = scheduler.lock.withLock { task.backlog - task.pending.count }
        while accepted.count < room {
            do {
                accepted.append(try socket.accept(nonBlocking: true))
            } catch .wouldBlock {
                break
            } catch .tooManyOpenFiles, .fileTableOverflow {
                scheduler.lock.withLock { scheduler.startBackoff(task) }
                break
            } catch .connectionAborted {
                continue
            } catch {
                break
            }
        }
        scheduler.lock.withLock { task.pending += accepted }
        return accepted
    }

    /// Takes the accepted connections no one answered yet.
    private func takePending(_ task: ListenerTask) -> [Socket] {
        scheduler.lock.withLock {
            defer { task.pending = [] }
            return task.pending
        }
    }

    private func closeListener(_ task: ListenerTask) {
        guard !task.closed else { return }
        task.closed = true
        close(unregistered: takePending(task))
        if let socket = task.socket { retire(registered: socket, of: task) }
    }

    /// Ends a listener's batch: refuses what was not answered, re-arms, or frees the closed one.
    package func finishListener(_ task: ListenerTask) {
        close(unregistered: takePending(task))
        if !task.closed, let socket = task.socket, !scheduler.lock.withLock({ task.backingOff }) {
            do {
                try poller.arm(socket.descriptor, token: task.id, interest: .read)
            } catch {
                scheduler.lock.withLock { task.closeRequested = .some(AMQPError(condition: ProactorCondition.io, description: "poller arm: \(error)")) }
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
            do {
                try poller.register(socket.descriptor, token: c.id)
                c.registered = true
            } catch {
                c.disconnect = AMQPError(condition: ProactorCondition.io, description: "poller register: \(error)")
            }
            c.ready = [.read]
            scheduler.schedule(c)
            return ProactorConnection(task: c, scheduler: self)
        }
    }

    package func refuse(_ task: ListenerTask) {
        let socket: Socket? = scheduler.lock.withLock { task.pending.isEmpty ? nil : task.pending.removeFirst() }
        close(unregistered: socket.map { [$0] } ?? [])
    }

    package func close(_ task: ListenerTask) {
        scheduler.lock.withLock {
            guard scheduler.isInTable(task), task.closeRequested == nil else { return }
            task.closeRequested = .some(nil)
            scheduler.schedule(task)
        }
    }
}

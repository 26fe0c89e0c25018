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
        return scheduler.addListener(bound, address: address, backlog: backlog, owner: self) { task, socket in
            do {
                try poller.register(socket.descriptor, token: task.id)
                task.registered = true
            } catch {
                task.failure = AMQPError(condition: ProactorCondition.io, description: "poller register: \(error)")
            }
        }
    }

    /// One listener batch's events (the task held, the lock not).
    package func runListener(_ task: ListenerTask, _ work: ListenerWork, handle: ProactorListener?) -> [ProactorEvent] {
        guard let handle, !task.closed else { return [] }
        var (events, accepting) = scheduler.beginListenerBatch(task, work, handle: handle) { closeListener(task) }
        if accepting && (work.ready.contains(.read) || work.timer) {
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

    private func closeListener(_ task: ListenerTask) {
        guard !task.closed else { return }
        task.closed = true
        close(unregistered: scheduler.takeUnanswered(task))
        if let socket = task.socket { retire(registered: socket, of: task) }
    }

    /// Ends a listener's batch: refuses what was not answered, re-arms, or frees the closed one.
    package func finishListener(_ task: ListenerTask) {
        close(unregistered: scheduler.takeUnanswered(task))
        if !task.closed, let socket = task.socket, !scheduler.lock.withLock({ task.backingOff }) {
            do {
                try poller.arm(socket.descriptor, token: task.id, interest: .read)
            } catch {
                scheduler.lock.withLock { task.closeRequested = .some(AMQPError(condition: ProactorCondition.io, description: "poller arm: \(error)")) }
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
        close(unregistered: scheduler.takeAccepted(task).map { [$0] } ?? [])
    }

    package func close(_ task: ListenerTask) { scheduler.requestClose(task) }
}

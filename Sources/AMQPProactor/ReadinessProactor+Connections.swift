import AMQPCodec
import AMQPEngine
import AMQPSystem

/// What happened to a connection between two of its batches.
package struct ConnectionWork {
    package var ready: ReadinessInterest
    package var wake: Bool
    package var timer: Bool
    package var disconnect: AMQPError?
}

// Connections: connecting, pumping the driver (read, wake, tick, write), and freeing.
extension ReadinessProactor: ConnectionScheduler {
    /// See ``Proactor/connect(to:configuration:layer:)``.
    @discardableResult
    public func connect(to address: String, configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection {
        let task = scheduler.addClient(ConnectPlan(address: address, configuration: configuration), layer: layer, target: address)
        return ProactorConnection(task: task, scheduler: self)
    }

    /// See ``Proactor/adopt(_:driver:layer:)``.
    @discardableResult
    public func adopt(_ socket: Socket, driver: ConnectionDriver, layer: (any TransportLayer)?) -> ProactorConnection {
        try? socket.descriptor.setNonBlocking(true)
        try? socket.setNoDelay(true)
        let task = scheduler.addConnected(driver: driver, layer: layer, socket: socket, target: "adopted socket",
                                          ready: [.read, .write]) { register($0, socket) }
        return ProactorConnection(task: task, scheduler: self)
    }

    package func wake(_ task: ConnectionTask) -> Bool { scheduler.wake(task) }

    package func isAlive(_ task: ConnectionTask) -> Bool { scheduler.isAlive(task) }

    /// See ``Proactor/release(_:)``: nil for a connection with a layer.
    public func release(_ batch: ProactorBatch) -> (driver: ConnectionDriver, socket: Socket?)? {
        guard !batch.isDone, let task = batch.owner as? ConnectionTask, !task.released, task.layer == nil else { return nil }
        task.released = true
        task.driver.setEarlyWrite(threshold: .max, nil)
        if let socket = task.socket { try? poller.deregister(socket.descriptor) }
        let socket = task.socket
        task.socket = nil
        scheduler.lock.withLock {
            task.registered = false
            task.freed = true
            scheduler.remove(task)
        }
        return (task.driver, socket)
    }

    /// Registers a connection's socket with the poller (the lock held).
    func register(_ task: ConnectionTask, _ socket: Socket) {
        task.driver.setEarlyWrite(threshold: earlyWriteThreshold) { [weak self, weak task] _ in
            if let self, let task { self.writeEarly(task) }
        }
        do {
            try poller.register(socket.descriptor, token: task.id)
            task.registered = true
        } catch {
            task.disconnect = AMQPError(condition: ProactorCondition.io, description: "poller register: \(error)")
        }
    }

    // MARK: pumping

    /// Does a connection's IO for one batch (the task held, the lock not); returns whether the
    /// application has events to take.
    package func runConnection(_ task: ConnectionTask, _ work: ConnectionWork) -> Bool {
        let driver = task.driver
        switch task.phase {
        case .starting(let addresses, let error):
            if let error {
                fail(task, error)
            } else {
                connectNext(task, addresses, last: nil)
            }
        case .connecting(let remaining, let last):
            if !work.ready.isEmpty { finishConnect(task, remaining: remaining, last: last) }
        case .connected:
            if work.ready.contains(.read) {
                if let layer = task.layer { readInput(task, through: layer) } else { readInput(task) }
            }
        case .closed:
            break
        }
        if work.wake { driver.wake() }
        if let error = work.disconnect { closeTransport(task, error) }
        flushOutput(task)
        return driver.hasEvent
    }

    private func connectNext(_ task: ConnectionTask, _ addresses: [SocketAddress], last: Errno?) {
        let attempt = ConnectAttempt(addresses, last: last)
        guard let socket = attempt.socket else { return fail(task, task.noAddressError(attempt.last)) }
        task.socket = socket
        task.phase = .connecting(remaining: attempt.remaining, last: attempt.last)
        scheduler.lock.withLock { register(task, socket) }
    }

    private func finishConnect(_ task: ConnectionTask, remaining: [SocketAddress], last: Errno?) {
        guard let socket = task.socket else { return }
        let error: Errno?
        do { error = try socket.pendingError() } catch let e { error = e }
        if let error {
            closeSocket(task)
            connectNext(task, remaining, last: error)
            return
        }
        task.phase = .connected
        if let layer = task.layer { readInput(task, through: layer) } else { readInput(task) }
    }

    /// Reads what the socket has into the driver, a few buffers at most per batch, so that one
    /// busy connection cannot hold its thread forever.
    private func readInput(_ task: ConnectionTask) {
        guard let socket = task.socket else { return }
        let driver = task.driver
        for _ in 0..<4 {
            guard !driver.isTailClosed else { return }
            let buffer = driver.readBuffer()
            let n: Int
            do {
                n = try socket.read(into: buffer)
            } catch .wouldBlock {
                return
            } catch {
                readFailed(task, error)
                return
            }
            if n == 0 {
                driver.readClose()
                return
            }
            driver.readDone(n)
            if n < buffer.count { return }
        }
    }

    /// Reads what the socket has into the layer, which passes it on to the driver; as many
    /// buffers per batch as ``readInput(_:)``.
    private func readInput(_ task: ConnectionTask, through layer: any TransportLayer) {
        guard let socket = task.socket else { return }
        let driver = task.driver
        for _ in 0..<4 {
            guard layer.wantsInput(driver: driver) else { return }
            let buffer = layer.readBuffer(driver: driver)
            if buffer.isEmpty { return }
            let n: Int
            do {
                n = try socket.read(into: buffer)
            } catch .wouldBlock {
                return
            } catch {
                readFailed(task, error)
                return
            }
            if n == 0 {
                layer.readClose(driver: driver)
                return
            }
            layer.readDone(n, driver: driver)
            if n < buffer.count { return }
        }
    }

    private func readFailed(_ task: ConnectionTask, _ error: Errno) {
        task.readFailed(error)
        closeSocket(task)
    }

    /// Writes what the driver has, until the socket is full.
    /// The driver's early write (the task held, from inside the application's send): one
    /// non-blocking send of what is pending. A failure is left for ``flushOutput(_:)`` at the end
    /// of the batch, which meets it again and closes the connection properly.
    private func writeEarly(_ task: ConnectionTask) {
        guard let socket = task.socket, case .connected = task.phase else { return }
        let driver = task.driver
        if let layer = task.layer {
            // What the layer makes of the pending output, until the socket takes no more.
            while true {
                let out = layer.output(driver: driver, early: true)
                guard !out.isEmpty, let sent = try? socket.send(out, flags: [.noSignal, .dontWait]), sent > 0 else { return }
                layer.writeDone(sent, driver: driver)
                if sent < out.count { return }
            }
        }
        let sent = driver.pendingOutput.withUnsafeBytes { bytes in try? socket.send(bytes, flags: [.noSignal, .dontWait]) }
        if let sent, sent > 0 { driver.writeDone(sent) }
    }

    func flushOutput(_ task: ConnectionTask) {
        let driver = task.driver
        guard let socket = task.socket, case .connected = task.phase else { return }
        if let layer = task.layer { return flushOutput(task, socket, through: layer) }
        while !driver.isHeadClosed {
            let out = driver.pendingOutput
            if out.isEmpty { return }
            let result = out.withUnsafeBytes { bytes in
                Result { () throws(Errno) in try socket.send(bytes, flags: [.noSignal, .dontWait]) }
            }
            switch result {
            case .success(let n):
                driver.writeDone(n)
            case .failure(.wouldBlock):
                return
            case .failure(let error):
                task.writeFailed(error)
                closeSocket(task)
                return
            }
        }
    }

    /// Writes what the layer has (the driver's output through it), until the socket is full.
    private func flushOutput(_ task: ConnectionTask, _ socket: Socket, through layer: any TransportLayer) {
        let driver = task.driver
        while true {
            let out = layer.output(driver: driver, early: false)
            if out.isEmpty { return }
            switch Result(catching: { () throws(Errno) in try socket.send(out, flags: [.noSignal, .dontWait]) }) {
            case .success(let n):
                layer.writeDone(n, driver: driver)
            case .failure(.wouldBlock):
                return
            case .failure(let error):
                task.writeFailed(error)
                closeSocket(task)
                return
            }
        }
    }

    /// Fails a connection that never connected: transport error, then transport closed.
    private func fail(_ task: ConnectionTask, _ error: AMQPError) {
        closeSocket(task)
        task.connectFailed(error)
    }

    /// Disconnect: the driver closes with `error`, what fits in the socket goes, then both ways close.
    private func closeTransport(_ task: ConnectionTask, _ error: AMQPError) {
        let driver = task.driver
        if !driver.isTailClosed { driver.failTransport(error) }
        flushOutput(task)
        driver.writeClose()
        driver.readClose()
        closeSocket(task)
    }

    private func closeSocket(_ task: ConnectionTask) {
        guard let socket = task.socket else { return }
        task.socket = nil
        task.phase = .closed
        retire(registered: socket, of: task)
    }

    /// Takes a task's registered socket out of the poller and closes it: the one way every
    /// registered descriptor ends, so that listeners out of descriptors hear of it.
    func retire(registered socket: Socket, of task: ProactorTask) {
        try? poller.deregister(socket.descriptor)
        try? socket.close()
        scheduler.lock.withLock {
            task.registered = false
            scheduler.descriptorFreed()
        }
    }

    /// Closes sockets never registered (accepted and refused or unanswered); listeners out of
    /// descriptors hear of it too.
    func close(unregistered sockets: [Socket]) {
        guard !sockets.isEmpty else { return }
        for s in sockets { try? s.close() }
        scheduler.lock.withLock { scheduler.descriptorFreed() }
    }

    // MARK: done

    /// Ends a connection's batch (the task held, the lock not): writes, ticks, arms the socket
    /// for what the driver needs next, and frees the connection once its driver is finished.
    package func finishConnection(_ task: ConnectionTask) {
        if task.released {
            scheduler.lock.withLock { task.working = false }
            return
        }
        let driver = task.driver
        // After the tick, which may write a heartbeat: one flush covers both.
        var deadline = driver.isHeadClosed ? nil : driver.tick(now: now)
        flushOutput(task)
        if driver.isFinished {
            if let until = task.lingerDeadline(now: now) {
                deadline = until
            } else {
                closeSocket(task)
                scheduler.lock.withLock {
                    task.working = false
                    task.freed = true
                    scheduler.remove(task)
                }
                return
            }
        }
        var interest: ReadinessInterest = []
        if let socket = task.socket {
            switch task.phase {
            case .connecting: interest = .write
            case .connected:
                if let layer = task.layer {
                    if layer.wantsInput(driver: driver) { interest.insert(.read) }
                    if layer.hasOutput(driver: driver) { interest.insert(.write) }
                } else {
                    if !driver.isTailClosed { interest.insert(.read) }
                    if !driver.isHeadClosed && !driver.pendingOutput.isEmpty { interest.insert(.write) }
                }
            default: break
            }
            if !interest.isEmpty {
                do {
                    try poller.arm(socket.descriptor, token: task.id, interest: interest)
                } catch {
                    scheduler.lock.withLock { task.disconnect = AMQPError(condition: ProactorCondition.io, description: "poller arm: \(error)") }
                }
            }
        }
        scheduler.lock.withLock {
            task.working = false
            scheduler.setDeadline(task, deadline)
            // Events the application has not taken, or anything that happened meanwhile.
            if driver.hasEvent || task.hasWork {
                scheduler.schedule(task)
            }
        }
    }
}

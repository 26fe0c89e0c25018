import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem

// Connections on the ring: connecting (a poll for writability), copying received buffers into
// the driver, one send at a time, closing once nothing is in flight.
extension URingProactor: ConnectionScheduler {
    /// See ``Proactor/connect(to:configuration:layer:)``.
    @discardableResult
    public func connect(to address: String, configuration: DriverConfiguration, layer: (any TransportLayer)?) -> ProactorConnection {
        let task = scheduler.addClient(ConnectPlan(address: address, configuration: configuration), layer: layer, target: address)
        return ProactorConnection(task: task, scheduler: self)
    }

    /// See ``Proactor/adopt(_:driver:layer:)``.
    @discardableResult
    public func adopt(_ socket: Socket, driver: ConnectionDriver, layer: (any TransportLayer)?) -> ProactorConnection {
        try? socket.setNoDelay(true)
        let task = scheduler.addConnected(driver: driver, layer: layer, socket: socket, target: "adopted socket") { register($0, socket) }
        return ProactorConnection(task: task, scheduler: self)
    }

    package func wake(_ task: ConnectionTask) -> Bool { scheduler.wake(task) }

    package func isAlive(_ task: ConnectionTask) -> Bool { scheduler.isAlive(task) }

    /// See ``Proactor/release(_:)``. Whatever is in flight on the socket is cancelled before it
    /// comes back, so the ring never reads from or writes to the application's socket. nil for a
    /// connection with a layer.
    public func release(_ batch: ProactorBatch) -> (driver: ConnectionDriver, socket: Socket?)? {
        guard !batch.isDone, let task = batch.owner as? ConnectionTask, !task.released, task.layer == nil else { return nil }
        task.released = true
        task.driver.setEarlyWrite(threshold: .max, nil)
        let socket = task.socket
        task.socket = nil
        let c = operations(task)
        end(task, .release)
        // The send's completion, whether it came before the cancel unseen or the cancel ended it,
        // says what was written: reported, so that those bytes are not written again.
        if let c { reportSendAfterCancel(task, c) }
        // What was not written goes back to the pending output, for whoever drives the
        // connection next.
        task.driver.returnOutputBlock()
        scheduler.lock.withLock {
            task.freed = true
            scheduler.remove(task)
        }
        return (task.driver, socket)
    }

    /// After a release's synchronous cancel, the send that was in flight has completed (written
    /// in part or whole, or cancelled before it wrote), but its completion may still be in the
    /// queue, or being taken by the thread that waits on the ring: waits for it (a few
    /// microseconds), then tells the driver what it wrote.
    private func reportSendAfterCancel(_ task: ConnectionTask, _ c: ConnectionOperations) {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while lock.withLock({ c.sending && c.sendResult == nil }) {
            reapWithoutWaiting()
            guard ContinuousClock.now < deadline else { return }
            if lock.withLock({ c.sending && c.sendResult == nil }) { SystemThread.yield() }
        }
        guard let sent = lock.withLock({ takeSendCompletion(c) }) else { return }
        c.sendBlock = []
        if sent > 0 { task.driver.writeDone(Int(sent)) }
    }

    /// Gives a connection's socket a slot on the ring (worker, or the scheduler lock held).
    func register(_ task: ConnectionTask, _ socket: Socket) {
        let c = ConnectionOperations(descriptor: socket.descriptor.rawValue, taskID: task.id)
        lock.withLock { slots.insert(c) }
        task.io = c
        task.driver.setEarlyWrite(threshold: configuration.earlyWriteThreshold) { [weak self, weak task] _ in
            if let self, let task { self.writeEarly(task) }
        }
    }

    private func operations(_ task: ConnectionTask) -> ConnectionOperations? {
        task.io.map { unsafeDowncast($0, to: ConnectionOperations.self) }
    }

    // MARK: pumping

    /// A connection's IO for one batch (the task held, the lock not): what completed since its
    /// last batch goes into the driver; returns whether the application has events to take.
    package func runConnection(_ task: ConnectionTask, _ work: ConnectionWork) -> Bool {
        let driver = task.driver
        switch task.phase {
        case .starting(let addresses, let error):
            if let error { fail(task, error) } else { connectNext(task, addresses, last: nil) }
        case .connecting(let remaining, let last):
            if !work.ready.isEmpty { finishConnect(task, remaining: remaining, last: last) }
        case .connected:
            if !work.ready.isEmpty { absorb(task) }
        case .closed:
            break
        }
        if work.wake { driver.wake() }
        if let error = work.disconnect { closeTransport(task, error) }
        // What the input called for (flow, dispositions, a reply) goes before the application's
        // turn, as epoll writes it: held for the next wait, it sat while the thread went on with
        // this connection's next batch (one pair: 2.28M against 2.51M msg/s, Docs/Pollers.md).
        startSend(task, now: true)
        return driver.hasEvent
    }

    private func connectNext(_ task: ConnectionTask, _ addresses: [SocketAddress], last: Errno?) {
        let attempt = ConnectAttempt(addresses, last: last)
        guard let socket = attempt.socket else { return fail(task, task.noAddressError(attempt.last)) }
        task.socket = socket
        task.phase = .connecting(remaining: attempt.remaining, last: attempt.last)
        register(task, socket)
        guard let c = operations(task) else { return }
        lock.withLock {
            prepare(.connect(c))
            submitIfWaiting()
        }
    }

    private func finishConnect(_ task: ConnectionTask, remaining: [SocketAddress], last: Errno?) {
        guard let socket = task.socket, let c = operations(task),
              let result = lock.withLock({ c.connectResult.take() }) else { return }
        if result == -Errno.canceled.rawValue {
            // The thread that submitted the poll exited, and the kernel cancelled it with the
            // thread: the connect goes on, so wait again.
            lock.withLock {
                prepare(.connect(c))
                submitIfWaiting()
            }
            return
        }
        let error: Errno?
        do { error = try socket.pendingError() } catch let e { error = e }
        if let error {
            closeSocket(task)
            connectNext(task, remaining, last: error)
            return
        }
        task.phase = .connected
    }

    /// Takes what completed: received bytes into the driver (the buffers then go back), the
    /// send's result, the end of input or a receive error.
    private func absorb(_ task: ConnectionTask) {
        guard let c = operations(task) else { return }
        let driver = task.driver
        // One turn of the lock for what came in and for the send's result.
        var (received, endOfInput, receiveError, sent) = lock.withLock {
            defer { c.received = [] }
            return (c.received, c.endOfInput, c.receiveError.take(), takeSendCompletion(c))
        }
        if !received.isEmpty {
            if let layer = task.layer {
                // The layer takes every byte (copying what it cannot process at once).
                for (id, count) in received { layer.read(buffers.bytes(of: id, length: count), driver: driver) }
            } else {
                // Complete frames are decoded from the ring's buffer itself: no copy into the driver's.
                for (id, count) in received { driver.read(buffers.bytes(of: id, length: count)) }
            }
            lock.withLock {
                giveBack(received.lazy.map(\.id))
                // The list's storage serves the next batch, unless more came in meanwhile.
                if c.received.isEmpty {
                    received.removeAll(keepingCapacity: true)
                    swap(&c.received, &received)
                }
            }
        }
        if let sent, !report(task, c, sent: sent) { return }
        if let receiveError {
            task.readFailed(receiveError)
            closeSocket(task)
        } else if endOfInput {
            if let layer = task.layer { layer.readClose(driver: driver) } else { driver.readClose() }
        }
    }

    /// Tells the driver how much the last send carried, once it completed; false when it failed
    /// (the connection is then closing).
    private func takeSendResult(_ task: ConnectionTask, _ c: ConnectionOperations) -> Bool {
        guard let sent = lock.withLock({ takeSendCompletion(c) }) else { return true }
        return report(task, c, sent: sent)
    }

    /// The completed send's result, if any, taken (the ring lock held): no send is in flight then.
    private func takeSendCompletion(_ c: ConnectionOperations) -> Int32? {
        guard let r = c.sendResult.take() else { return nil }
        c.sending = false
        return r
    }

    /// Tells the driver what a completed send carried (the task held, the lock not); false when
    /// it failed (the connection is then closing).
    private func report(_ task: ConnectionTask, _ c: ConnectionOperations, sent: Int32) -> Bool {
        if sent >= 0 {
            // Let go of the driver's memory before reporting: once all of its block is written,
            // the driver reuses that storage for new output, which must not need a copy.
            c.sendBlock = []
            if let layer = task.layer {
                c.sendOwner = nil
                layer.writeDone(Int(sent), driver: task.driver)
            } else {
                task.driver.writeDone(Int(sent))
            }
        } else if sent != -Errno.canceled.rawValue {
            task.writeFailed(Errno(rawValue: -sent))
            closeSocket(task)
            return false
        }
        return true
    }

    /// The driver's early write (the task held, from inside the application's send): when the
    /// send in flight is done (or none is), the pending output goes now, submitted at once. A
    /// failed send is left for the end of the batch, which closes the connection properly.
    private func writeEarly(_ task: ConnectionTask) {
        guard let c = operations(task) else { return }
        // Whether a send is in flight with no result seen, and whether a new one may start: none
        // in flight, or it completed without failing.
        func state() -> (busy: Bool, free: Bool) {
            lock.withLock { (c.sending && c.sendResult == nil, !c.sending || (c.sendResult ?? -1) >= 0) }
        }
        var now = state()
        // A send in flight may have completed without anyone looking (or not gone out yet).
        if now.busy { reapWithoutWaiting(); now = state() }
        // Under COOP_TASKRUN one that waited for room completes only when this thread enters the
        // kernel: it does so once, and a send still in flight then means the peer is behind.
        if now.busy { reapWithoutWaiting(runningPendingWork: true); now = state() }
        guard now.free else { return }
        startSend(task, now: true, early: true)
    }

    /// Sends the driver's pending output, unless a send is in flight already; then makes sure
    /// that send's completion wakes the task if more output waits behind it. `now` submits it at
    /// once rather than with the next wait.
    private func startSend(_ task: ConnectionTask, now: Bool = false, early: Bool = false) {
        let driver = task.driver
        if let layer = task.layer { return startSend(task, through: layer, now: now, early: early) }
        guard task.socket != nil, task.isConnected, !driver.isHeadClosed, let c = operations(task) else { return }
        while true {
            // The rest of the block in flight, or the next one. None means nothing to write, and
            // no turn of the lock: a completed send's result waits for the batch's end to take it.
            let block = driver.takeOutputBlock()
            if block.isEmpty { return }
            // One turn of the lock for the last send's result and whether one is in flight.
            let (sent, sending) = lock.withLock { (takeSendCompletion(c), c.sending) }
            if let sent {
                guard report(task, c, sent: sent) else { return }
                continue   // the block moved on
            }
            let quiet = mayCompleteQuietly(driver)
            if sending {
                // Output beyond what is in flight (the rest of the block, or new output after it)
                // needs the send's completion to wake the task, and so does the stream's end.
                let more = block.count > c.sendLength || !driver.pendingOutput.isEmpty
                guard more || !quiet else { return }
                let completed: Bool = lock.withLock {
                    c.wakeOnCompleteSend = true
                    return c.sendResult != nil
                }
                // A quiet completion may have come meanwhile: then take it and send the rest.
                if completed { continue }
                return
            }
            guard !driver.isHeadClosed else { return }
            c.sendBlock = block.prefix(ConnectionOperations.sendLimit)
            // The pointer outlives the closure, and is safe: `c.sendBlock` keeps the storage alive
            // until the completion is taken, and the driver does not change its block until then.
            let bytes = c.sendBlock.withUnsafeBytes { $0 }
            let more = bytes.count < block.count || !driver.pendingOutput.isEmpty
            lock.withLock {
                c.sending = true
                c.sendLength = bytes.count
                c.wakeOnCompleteSend = more || !quiet
                prepare(.send(c, bytes))
                if now { submitNow() } else { submitIfWaiting() }
            }
            return
        }
    }

    /// Sends what the layer has (the driver's output through it), unless a send is in flight
    /// already. The layer's bytes stay put until reported (``TransportLayer/output(driver:early:)``),
    /// and the connection's operations keep the layer alive until the send completes, even if the
    /// connection goes first. Every such send wakes the task when it completes.
    private func startSend(_ task: ConnectionTask, through layer: any TransportLayer, now: Bool, early: Bool) {
        let driver = task.driver
        guard task.socket != nil, task.isConnected, let c = operations(task) else { return }
        while true {
            let (sent, sending) = lock.withLock { (takeSendCompletion(c), c.sending) }
            if let sent {
                guard report(task, c, sent: sent) else { return }
                continue
            }
            // Its completion wakes the task, which sends the rest.
            if sending { return }
            let out = layer.output(driver: driver, early: early)
            if out.isEmpty { return }
            let bytes = UnsafeRawBufferPointer(rebasing: out.prefix(ConnectionOperations.sendLimit))
            c.sendOwner = layer
            lock.withLock {
                c.sending = true
                c.sendLength = bytes.count
                c.wakeOnCompleteSend = true
                prepare(.send(c, bytes))
                if now { submitNow() } else { submitIfWaiting() }
            }
            return
        }
    }

    /// Whether a send that carries all the output may complete without waking the task: only
    /// while the stream goes on. At its end the driver closes its output when it hears that the
    /// last bytes went, so that must not wait for another event.
    private func mayCompleteQuietly(_ driver: ConnectionDriver) -> Bool {
        let connection = driver.connection
        return !driver.isTailClosed && connection.localState != .closed && connection.remoteState != .closed
    }

    /// Fails a connection that never connected: transport error, then transport closed.
    private func fail(_ task: ConnectionTask, _ error: AMQPError) {
        closeSocket(task)
        task.connectFailed(error)
    }

    /// Disconnect: the driver closes with `error`, what fits in the socket now goes (when no
    /// send is in flight), then both ways close.
    private func closeTransport(_ task: ConnectionTask, _ error: AMQPError) {
        let driver = task.driver
        if !driver.isTailClosed { driver.failTransport(error) }
        if let socket = task.socket, task.isConnected, let c = operations(task),
           takeSendResult(task, c), !lock.withLock({ c.sending }) {
            if let layer = task.layer {
                let out = layer.output(driver: driver, early: false)
                if !out.isEmpty, let sent = try? socket.send(out, flags: [.noSignal, .dontWait]) { layer.writeDone(sent, driver: driver) }
            } else if !driver.isHeadClosed {
                // The rest of a block a send left behind goes first.
                driver.returnOutputBlock()
                let sent = driver.pendingOutput.withUnsafeBytes { bytes in try? socket.send(bytes, flags: [.noSignal, .dontWait]) }
                if let sent { driver.writeDone(sent) }
            }
        }
        driver.writeClose()
        driver.readClose()
        closeSocket(task)
    }

    private func closeSocket(_ task: ConnectionTask) {
        guard task.socket != nil else { return }
        task.socket = nil
        task.phase = .closed
        end(task, .close)
    }

    /// Ends a task's slot on the ring: what is in flight is cancelled, and the slot (and for
    /// `.close` the descriptor) goes once the last completion is in.
    private func end(_ task: ConnectionTask, _ ending: SocketOperations.Ending) {
        guard let c = operations(task) else { return }
        task.io = nil
        var closing: [CInt] = []
        lock.withLock { finish(c, ending, closing: &closing) }
        closeDescriptors(closing)
    }

    // MARK: done

    /// Ends a connection's batch (the task held, the lock not): ticks, sends, keeps a receive
    /// armed, and frees the connection once its driver is finished.
    package func finishConnection(_ task: ConnectionTask) {
        if task.released {
            scheduler.lock.withLock { task.working = false }
            return
        }
        let driver = task.driver
        if let c = operations(task) {
            // In one turn of the lock: a quiet send's result first (the tick looks at what was
            // written), and the receive kept armed.
            let armed = task.isConnected && (task.layer.map { $0.wantsInput(driver: driver) } ?? !driver.isTailClosed)
            let sent: Int32? = lock.withLock {
                if armed && !c.receiving && !c.starved && !c.endOfInput && c.ending == nil {
                    prepare(.receive(c))
                    submitIfWaiting()
                }
                return takeSendCompletion(c)
            }
            if let sent { _ = report(task, c, sent: sent) }
        }
        var deadline = driver.isHeadClosed ? nil : driver.tick(now: now)
        startSend(task)
        if driver.isFinished {
            if let until = task.lingerDeadline(now: now) {
                // The layer's last bytes are being sent: the send's completion wakes the task.
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


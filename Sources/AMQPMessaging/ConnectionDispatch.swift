import AMQPCodec
import AMQPEngine
import AMQPProactor
import Logging

// Turns one connection's engine events into handler calls, in order, and runs its queued work.
extension Container {
    func runConnectionBatch(_ batch: ProactorBatch, _ driver: ConnectionDriver) {
        guard let record = driver.configuration.context as? ConnectionRecord, !record.finished else {
            while batch.next() != nil {}
            return
        }
        let c: MessagingConnection
        if let m = record.messaging {
            c = m
            if c.connection !== driver.connection {
                // A reconnect: the same handler and work queue on a new connection.
                c.rebind(to: driver.connection)
                c.isSecure = record.isTLS
                driver.connection.open()
                if let timeout = record.openTimeout { armOpenTimeout(timeout, record.workQueue) }
            }
        } else {
            guard let handler = record.handler else { return }
            c = MessagingConnection(container: self, connection: driver.connection, url: record.url,
                                    workQueue: record.workQueue, handler: handler, logger: record.logger)
            c.isSecure = record.isTLS
            record.messaging = c
            record.handler = nil
            if record.isClient { driver.connection.open() }
            if let timeout = record.openTimeout { armOpenTimeout(timeout, record.workQueue) }
        }
        // Work may cause events and events may queue work: go on until both are drained.
        var closed = false
        c.inHandler = true
        repeat {
            while let e = batch.next() {
                if case .amqp(let event) = e, dispatch(event, c, driver) { closed = true }
                c.closeIfAsked()
            }
            guard !closed else { break }
            let (work, wake) = record.workQueue.take()
            for item in work { item(c); c.closeIfAsked() }
            if wake { c.handler.onConnectionWake(c); c.closeIfAsked() }
            if c.openTimedOut && driver.connection.remoteState == .uninitialized && !driver.isTailClosed {
                c.openTimedOut = false
                driver.failTransport(AMQPError(condition: ErrorCondition.resourceLimitExceeded,
                                               description: "the peer did not answer our open within the open timeout"))
            }
        } while driver.hasEvent
        let sent = c.newlySent()
        if sent > 0 { metrics.sent.increment(by: Int64(sent)) }
        guard closed else {
            c.inHandler = false
            return
        }
        c.facts.saslOutcome = driver.saslOutcome
        if record.reconnect != nil, !c.closedByApplication, !isStopped, let (url, wait) = nextAttempt(record, c) {
            c.inHandler = false
            // Record and handler stay for the next connection; it is made last, after everything
            // this batch does to them, so the next connection's first batch cannot overlap it.
            scheduleReconnect(record, to: url, after: wait)
            return
        }
        end(record, c)
    }

    /// Ends a connection for good: runs the work its queue took (closing the queue in the same
    /// step, so `add` either took work that runs here or refuses it), then `onTransportClose`.
    func end(_ record: ConnectionRecord, _ c: MessagingConnection) {
        c.inHandler = true
        let (work, wake) = record.workQueue.close()
        for item in work { item(c) }
        if wake { c.handler.onConnectionWake(c) }
        // The transport is closed: a close asked for now has nothing left to close.
        c.pendingClose = nil
        c.handler.onTransportClose(c)
        c.inHandler = false
        record.finished = true
        record.messaging = nil
        connectionFinished(record)
    }

    /// One event; true once the transport is closed (nothing more happens).
    private func dispatch(_ event: AMQPEvent, _ c: MessagingConnection, _ driver: ConnectionDriver) -> Bool {
        let h = c.handler
        switch event {
        case .connectionBound:
            metrics.connectionsOpen.increment()
            h.onTransportOpen(c)
        case .connectionRemoteOpen(let conn):
            c.facts.peerOpened = true
            c.authenticatedIdentity = driver.authenticatedIdentity
            c.saslMechanism = driver.saslMechanism?.rawValue
            if c.isSecure && driver.mode == .server { c.peerCertificateSubject = driver.saslTransport.externalIdentity }
            if conn.localState == .uninitialized { conn.open() }
            c.logger.debug("connection open", metadata: ["amqp.peer.container": "\(conn.remoteOpen?.containerID ?? "")"])
            h.onConnectionOpen(c)
        case .connectionRemoteClose(let conn):
            if let e = conn.remoteError {
                if c.facts.peerCloseError == nil { c.facts.peerCloseError = e }
                c.logger.warning("the peer closed the connection with an error", metadata: Self.metadata(e))
                h.onConnectionError(c, e)
            }
            h.onConnectionClose(c)
            if conn.localState != .closed { conn.close() }
        case .sessionRemoteBegin(let s):
            c.facts.peerBegan = true
            if s.localState == .uninitialized { s.begin() }
            h.onSessionOpen(c, s)
        case .sessionRemoteEnd(let s):
            if let e = s.remoteError {
                c.logger.warning("the peer ended a session with an error", metadata: Self.metadata(e))
                h.onSessionError(c, s, e)
            }
            h.onSessionClose(c, s)
            if s.localState != .closed { s.end() }
        case .linkRemoteOpen(let l): linkOpened(l, c)
        case .linkRemoteClose(let l), .linkRemoteDetach(let l):
            if let e = l.remoteError {
                c.logger.warning("the peer detached a link with an error", metadata: Self.metadata(e).merging(["amqp.link": "\(l.name)"]) { a, _ in a })
            }
            if l.role == .sender {
                if let e = l.remoteError { h.onSenderError(c, l, e) }
                h.onSenderClose(c, l)
                c.senderOptions[ObjectIdentifier(l)] = nil
            } else {
                if let e = l.remoteError { h.onReceiverError(c, l, e) }
                h.onReceiverClose(c, l)
                c.receiverOptions[ObjectIdentifier(l)] = nil
            }
            if l.localState != .closed { l.close() }
        case .linkFlow(let l):
            if l.role == .sender && l.localState == .active {
                if l.drain { h.onSenderDrain(c, l) }
                if l.credit > 0 { h.onSendable(c, l) }
            }
        case .delivery(let d):
            if d.link.role == .receiver { received(d, c) } else { tracked(d, c) }
        case .transportError(let e):
            if c.facts.transportError == nil { c.facts.transportError = e }
            c.logger.warning("transport error", metadata: Self.metadata(e))
            h.onTransportError(c, e)
        case .transportClosed:
            metrics.connectionsOpen.decrement()
            c.logger.debug("transport closed")
            c.isTransportClosed = true
            // Whatever was not settled will not be now: say so, one by one, so nothing is lost
            // silently (a reconnect, if any, comes after).
            c.failUnsettled(AMQPError(condition: ErrorCondition.connectionForced,
                                      description: "the connection dropped before the peer settled the delivery"))
            return true
        default: break
        }
        return false
    }

    static func metadata(_ e: AMQPError) -> Logger.Metadata {
        ["amqp.condition": "\(e.condition.rawValue)", "amqp.description": "\(e.description ?? "")"]
    }

    private func linkOpened(_ l: Link, _ c: MessagingConnection) {
        if l.localState == .uninitialized {
            // The peer opened it: answer with the terminus it asked for.
            l.localSource = l.remoteAttach?.source
            l.localTarget = l.remoteAttach?.target?.target
            c.handler.onLinkAttaching(c, l)
            if l.role == .receiver {
                let options = c.incomingReceiverOptions
                c.receiverOptions[ObjectIdentifier(l)] = options
                l.attach()
                if options.creditWindow > 0 { l.flow(credit: options.creditWindow) }
            } else {
                c.senderOptions[ObjectIdentifier(l)] = c.incomingSenderOptions
                c.senders.append(l)
                l.attach()
            }
        }
        if l.role == .sender {
            c.handler.onSenderOpen(c, l)
            if l.credit > 0 { c.handler.onSendable(c, l) }
        } else {
            c.handler.onReceiverOpen(c, l)
        }
    }

    /// A receiver's delivery: a whole message once (its payload is taken then), settlement later.
    private func received(_ d: Delivery, _ c: MessagingConnection) {
        let link = d.link
        let options = c.handling(ofReceiver: link)
        if d.isAborted {
            if !d.locallySettled { d.settle() }
        } else if !d.isPartial && !d.payload.isEmpty {
            metrics.received.increment()
            let bytes = d.readPayload()
            if options.rawMessages {
                c.handler.onRawMessage(c, d, bytes)
                if options.autoAccept && !d.locallySettled { d.accept() }
            } else { do {
                let message = try Message(decoding: bytes)
                c.handler.onMessage(c, d, message)
                if options.autoAccept && !d.locallySettled { d.accept() }
            } catch {
                d.update(.rejected(Rejected(error: AMQPError(condition: ErrorCondition.decodeError, description: "\(error)"))), settle: true)
            } }
        } else if d.remotelySettled {
            c.handler.onDeliverySettle(c, d)
        }
        if options.creditWindow > 0 && !d.isPartial && link.localState == .active && link.credit <= options.creditWindow / 2 {
            link.flow(credit: options.creditWindow - link.credit)
        }
    }

    /// A sender's delivery: its outcome once, its settlement once.
    private func tracked(_ d: Delivery, _ c: MessagingConnection) {
        let h = c.handler
        let id = ObjectIdentifier(d)
        if d.error != nil {
            h.onTrackerReject(c, d)
            return
        }
        let autoSettle = c.autoSettles(d.link)
        if let state = d.remoteState, state.isOutcome, c.reportedOutcomes.isEmpty || !c.reportedOutcomes.contains(id) {
            metrics.settled.increment()
            switch state {
            case .accepted: h.onTrackerAccept(c, d)
            case .rejected:
                metrics.rejected.increment()
                h.onTrackerReject(c, d)
            default: h.onTrackerRelease(c, d)
            }
            if autoSettle && !d.locallySettled { d.settle() } else if !d.locallySettled { c.reportedOutcomes.insert(id) }
        }
        if d.remotelySettled {
            h.onTrackerSettle(c, d)
            if !c.reportedOutcomes.isEmpty { c.reportedOutcomes.remove(id) }
            if autoSettle && !d.locallySettled { d.settle() }
        }
    }
}

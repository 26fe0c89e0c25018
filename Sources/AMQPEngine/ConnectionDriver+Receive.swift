import AMQPCodec

// One handler per performative the peer sends (AMQP 1.0 §2.7).
extension ConnectionDriver {
    func handleOpen(_ o: Open) {
        let c = connection
        guard c.remoteState == .uninitialized else {
            protocolFailure(ErrorCondition.illegalState, "second open")
            return
        }
        c.remoteOpen = o
        c.remoteState = .active
        remoteMaxFrameSize = max(512, o.maxFrameSize)
        idle.remoteTimeout = o.idleTimeOut ?? 0
        // What waited for the peer's limits: sessions beyond channel 0, attaches over 512 bytes.
        for s in c.sessions where s.localState != .uninitialized {
            if !s.beginSent { sendBegin(s) }
            if s.canSend {
                for l in s.links where l.localState != .uninitialized && !l.attachSent {
                    sendAttach(l)
                    if l.localState == .closed { sendDetach(l, closed: l.detachCloses) }
                }
            }
        }
        post(.connectionRemoteOpen(c))
    }

    func handleBegin(_ b: Begin, channel: UInt16) {
        let c = connection
        guard c.sessionsByRemoteChannel[channel] == nil else {
            protocolFailure(ErrorCondition.notAllowed, "begin on channel \(channel), which is in use")
            return
        }
        let session: Session
        if let ours = b.remoteChannel {
            // Our begin's answer; the session may already be ended on our side, waiting for it.
            guard let s = c.sessions.first(where: { $0.localChannel == ours && $0.beginSent && $0.remoteState == .uninitialized }) else {
                protocolFailure(ErrorCondition.notFound, "begin answers channel \(ours), which we did not begin")
                return
            }
            session = s
        } else {
            session = c.session()
        }
        session.remoteChannel = channel
        session.remoteState = .active
        session.nextIncomingID = SerialNumber(b.nextOutgoingID)
        session.remoteOutgoingWindow = b.outgoingWindow
        session.remoteHandleMax = b.handleMax
        // §2.5.6 with nothing sent yet: the peer's incoming-window is all ours to use.
        session.remoteIncomingWindow = clampedCount(Int64(b.incomingWindow) - session.nextOutgoingID.distance(from: Session.initialOutgoingID))
        c.sessionsByRemoteChannel[channel] = session
        post(.sessionRemoteBegin(session))
        flushSenders(session)
    }

    func handleAttach(_ a: Attach, _ s: Session) {
        guard a.handle <= configuration.handleMax else {
            // §2.7.2: a handle outside the announced range is a framing error.
            protocolFailure(ErrorCondition.framingError, "attach with handle \(a.handle), above handle-max \(configuration.handleMax)")
            return
        }
        if s.linksByRemoteHandle[a.handle] != nil {
            endSession(s, AMQPError(condition: ErrorCondition.handleInUse, description: "handle \(a.handle) is in use"))
            return
        }
        let ourRole: Role = a.role == .sender ? .receiver : .sender
        let link: Link
        if let l = s.links.first(where: { $0.name == a.name && $0.role == ourRole && $0.remoteHandle == nil && $0.remoteState == .uninitialized }) {
            link = l
        } else {
            let held = connection.sessions.reduce(0) { $0 + $1.links.count }
            guard held < configuration.maxLinks else {
                protocolFailure(ErrorCondition.resourceLimitExceeded, "attach beyond the \(configuration.maxLinks) links a connection may hold")
                return
            }
            link = Link(session: s, name: a.name, role: ourRole)
            s.links.append(link)
            stealLink(named: a.name, role: ourRole, for: link)
        }
        link.remoteAttach = a
        link.peerMaxMessageSize = a.maxMessageSize ?? 0
        link.remoteHandle = a.handle
        link.remoteState = .active
        if ourRole == .receiver {
            // Credit granted before this attach counted from the sender's initial count (§2.6.7).
            link.deliveryCountNumber = SerialNumber(a.initialDeliveryCount ?? 0)
        }
        s.linksByRemoteHandle[a.handle] = link
        post(.linkRemoteOpen(link))
        if ourRole == .sender { flushTransfers(link) }
    }

    /// §2.6.1: a link's name is unique per direction between two containers, so a second attach
    /// of a name that is attached already, from the same peer, takes the link over: the old one
    /// is detached with `amqp:link:stolen`.
    private func stealLink(named name: String, role: Role, for newLink: Link) {
        for session in connection.sessions {
            for old in session.links where old !== newLink && old.role == role && old.remoteState == .active && old.name == name {
                detachLink(old, AMQPError(condition: ErrorCondition.stolen,
                                          description: "link \(name) was attached again by the same container"))
                return
            }
        }
    }

    func handleFlow(_ f: Flow, _ s: Session) {
        // §2.5.6: remote-incoming-window = next-incoming-id(flow) + incoming-window(flow) - next-outgoing-id.
        // Computed as the window less what is in flight, a signed serial difference, so that
        // transfers still on their way when the window shrank count as using it up, not as 2^32.
        // Without next-incoming-id the peer has not seen our begin: counting starts at our first id.
        let theirNext = f.nextIncomingID.map(SerialNumber.init) ?? Session.initialOutgoingID
        let inFlight = max(0, s.nextOutgoingID.distance(from: theirNext))
        let wasBlocked = s.remoteIncomingWindow == 0
        s.remoteIncomingWindow = clampedCount(Int64(f.incomingWindow) - inFlight)
        s.remoteOutgoingWindow = f.outgoingWindow
        guard let h = f.handle else {
            flushSenders(s)
            if f.echo { sendFlow(s, link: nil) }
            return
        }
        guard let link = s.linksByRemoteHandle[h] else {
            unknownHandle(h, in: s, "flow")
            return
        }
        if link.role == .sender {
            // §2.6.7: link-credit = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd), a
            // signed serial difference: deliveries the receiver has not counted yet use up its
            // credit. A flow without delivery-count comes from a receiver that has not seen our
            // attach, so it counts from our initial delivery-count.
            let theirCount = f.deliveryCount.map(SerialNumber.init) ?? link.initialDeliveryCount
            link.credit = clampedCount(Int64(f.linkCredit ?? 0) - link.deliveryCountNumber.distance(from: theirCount))
            link.drain = f.drain
            // Completes a drain too, when nothing is left to send (see flushTransfers).
            flushTransfers(link)
            if f.echo { sendFlow(s, link: link) }
        } else {
            link.available = f.available ?? 0
            // A sender advances its count without transfers only when it drains (§2.6.7), and then
            // what is left of our credit shrinks with it. Outside a drain a count ahead of the
            // transfers we have is a flow that overtook them (RabbitMQ 3.10 sends its flows that
            // way): the transfers still come, and are counted as they do.
            if let c = f.deliveryCount.map(SerialNumber.init), link.drain || f.drain {
                let consumed = c.distance(from: link.deliveryCountNumber)
                if consumed > 0 {
                    link.credit = clampedCount(Int64(link.credit) - consumed)
                    link.deliveryCountNumber = c
                }
            }
            if f.echo { sendFlow(s, link: link) }
        }
        // Any flow reopens the session window for every sender of the session, not just this link.
        if wasBlocked && s.remoteIncomingWindow > 0 { flushSenders(s) }
        post(.linkFlow(link))
    }

    func handleTransfer(_ t: TransferFields, tag: DeliveryTag?, state: DeliveryState?, payload: ArraySlice<UInt8>, _ s: Session) {
        guard s.incomingWindowLeft > 0 else {
            endSession(s, AMQPError(condition: ErrorCondition.windowViolation, description: "transfer beyond the incoming window"))
            return
        }
        s.nextIncomingID.increment()
        s.incomingWindowLeft -= 1
        // Borrowed, not retained: the session holds its links until both sides detached, which
        // no transfer can finish.
        guard let linkReference = s.linksByRemoteHandle.unretained(t.handle),
              linkReference._withUnsafeGuaranteedRef({ $0.role == .receiver }) else {
            unknownHandle(t.handle, in: s, "transfer")
            return
        }
        linkReference._withUnsafeGuaranteedRef { link in
            handleTransfer(t, tag: tag, state: state, payload: payload, s, on: link)
        }
    }

    private func handleTransfer(_ t: TransferFields, tag: DeliveryTag?, state: DeliveryState?, payload: ArraySlice<UInt8>,
                                _ s: Session, on link: Link) {
        // Transfers already in flight when we detached are dropped, not errors; they still used
        // up the window, which must reopen or the session stalls.
        guard link.localState != .closed else {
            reopenIncomingWindow(s)
            return
        }
        let delivery: Delivery
        if let current = link.current {
            delivery = current
            // §2.7.5: every transfer of a delivery carries its delivery-id, if any.
            if let id = t.deliveryID, id != delivery.id {
                dropDelivery(delivery, s)
                detachLink(link, AMQPError(condition: ErrorCondition.invalidField,
                                           description: "transfer with delivery-id \(id) while delivery \(delivery.id.map { "\($0)" } ?? "?") is incomplete"))
                reopenIncomingWindow(s)
                return
            }
            if !t.aborted { delivery.receive(payload) }
        } else {
            guard let id = t.deliveryID else {
                detachLink(link, AMQPError(condition: ErrorCondition.invalidField, description: "first transfer of a delivery without delivery-id"))
                reopenIncomingWindow(s)
                return
            }
            guard let tag else {
                detachLink(link, AMQPError(condition: ErrorCondition.invalidField, description: "first transfer of delivery \(id) without delivery-tag"))
                reopenIncomingWindow(s)
                return
            }
            guard t.tagCount <= DeliveryTag.maxCount else {
                detachLink(link, AMQPError(condition: ErrorCondition.invalidField,
                                           description: "delivery-tag of \(t.tagCount) bytes on delivery \(id): at most \(DeliveryTag.maxCount) (§2.8.7)"))
                reopenIncomingWindow(s)
                return
            }
            guard link.credit > 0 || link.overrun < configuration.creditOverrunLimit else {
                detachLink(link, AMQPError(condition: ErrorCondition.transferLimitExceeded,
                                           description: "\(link.overrun + 1) transfers beyond the credit granted"))
                reopenIncomingWindow(s)
                return
            }
            if t.settled != true && s.unsettledIncoming.count >= configuration.maxUnsettledDeliveries {
                endSession(s, AMQPError(condition: ErrorCondition.resourceLimitExceeded,
                                        description: "more than \(configuration.maxUnsettledDeliveries) unsettled deliveries"))
                return
            }
            if link.credit > 0 { link.credit -= 1 } else { link.overrun += 1 }
            link.deliveryCountNumber.increment()
            delivery = Delivery(link: link, tag: tag, payload: [])
            delivery.receive(payload)
            delivery.id = id
            delivery.messageFormat = t.messageFormat ?? 0
            if t.settled != true { s.unsettledIncoming.insert(delivery, id: id) }
        }
        if t.settled == true && !delivery.remotelySettled {
            delivery.remotelySettled = true
            // Settled on a later transfer: the sender has forgotten it, so do we.
            if let id = delivery.id { s.unsettledIncoming.remove(id) }
        }
        if let state { delivery.remoteState = state }
        let limit = link.maxMessageSize ?? configuration.maxMessageSize
        if let limit, UInt64(delivery.receivedBytes) > limit {
            dropDelivery(delivery, s)
            detachLink(link, AMQPError(condition: ErrorCondition.messageSizeExceeded, description: "message over \(limit) bytes"))
            reopenIncomingWindow(s)
            return
        }
        // The window reopens only as the application reads: checked after its turn.
        if t.more && delivery.bufferedCount >= configuration.sessionBufferLimit { queueBufferCheck(link) }
        if t.aborted {
            delivery.isAborted = true
            delivery.isPartial = false
            delivery.releaseBuffered()
            delivery.payload = []
            link.current = nil
            if let id = delivery.id { s.unsettledIncoming.remove(id) }
        } else {
            delivery.isPartial = t.more
            // Only a delivery with more to come is remembered: the common single-frame message
            // leaves link.current alone.
            if t.more { link.current = delivery } else if link.current != nil { link.current = nil }
        }
        post(.delivery(delivery))
        reopenIncomingWindow(s)
    }

    @inline(never)
    private func queueBufferCheck(_ link: Link) {
        guard !link.bufferCheckQueued else { return }
        link.bufferCheckQueued = true
        pendingBufferChecks.append(link)
    }

    /// Receivers whose delivery in progress filled the session buffer, checked once the
    /// application had its turn: one that read none of it waits for the whole message, which can
    /// never come as the window stays shut until it reads. Its link is refused with
    /// `message-size-exceeded` rather than left stalled; one that read (a streaming receiver) goes on.
    func refuseStalledDeliveries() {
        guard !pendingBufferChecks.isEmpty else { return }
        let links = pendingBufferChecks
        pendingBufferChecks.removeAll()
        for link in links {
            link.bufferCheckQueued = false
            let limit = configuration.sessionBufferLimit
            guard let d = link.current, d.bufferedCount >= limit, link.localState == .active else { continue }
            let s = link.session
            let held = d.bufferedCount
            dropDelivery(d, s)
            detachLink(link, AMQPError(condition: ErrorCondition.messageSizeExceeded,
                                       description: "message over the session buffer limit of \(limit) bytes (\(held) received and not read); raise sessionBufferLimit or read partial deliveries"))
            reopenIncomingWindow(s)
        }
    }

    /// Forgets an incoming delivery that will not complete.
    private func dropDelivery(_ d: Delivery, _ s: Session) {
        if d.link.current === d { d.link.current = nil }
        d.releaseBuffered()
        if let id = d.id { s.unsettledIncoming.remove(id) }
    }

    /// Grants the peer a full incoming window again once half is used, unless the application
    /// has fallen behind reading what arrived (``DriverConfiguration/sessionBufferLimit``).
    func reopenIncomingWindow(_ s: Session) {
        if s.incomingWindowLeft <= s.incomingWindow / 2 && s.bufferedBytes < configuration.sessionBufferLimit {
            s.incomingWindowLeft = s.incomingWindow
            sendFlow(s, link: nil)
        }
    }

    func handleDisposition(_ d: Disposition, _ s: Session) {
        // A disposition from the receiver is about what we sent, and the other way round.
        let ours = d.role == .receiver
        let last = d.last ?? d.first
        var matched = dispositionScratch
        if d.settled {
            // The common case, a range of settled outcomes: the deliveries are moved out of the
            // table (highest id first), then popped off the list in order, each into its event.
            if ours {
                s.unsettledOutgoing.take(from: d.first, through: last, into: &matched)
            } else {
                s.unsettledIncoming.take(from: d.first, through: last, into: &matched)
            }
            while let (_, delivery) = matched.popLast() {
                if let state = d.state { delivery.remoteState = state }
                delivery.remotelySettled = true
                // rcv-settle-mode second: an accept that waited for the sender settles now.
                if !ours && delivery.settleWhenSenderSettles && !delivery.locallySettled {
                    delivery.locallySettled = true
                    delivery.releaseBuffered()
                }
                post(.delivery(delivery))
            }
            dispositionScratch = matched
            return
        }
        if ours {
            s.unsettledOutgoing.collect(from: d.first, through: last, into: &matched)
        } else {
            s.unsettledIncoming.collect(from: d.first, through: last, into: &matched)
        }
        for (id, delivery) in matched {
            if let state = d.state { delivery.remoteState = state }
            if d.settled {
                delivery.remotelySettled = true
                if ours { s.unsettledOutgoing.remove(id) } else { s.unsettledIncoming.remove(id) }
                // rcv-settle-mode second: an accept that waited for the sender settles now.
                if !ours && delivery.settleWhenSenderSettles && !delivery.locallySettled {
                    delivery.locallySettled = true
                    delivery.releaseBuffered()
                }
            }
            post(.delivery(delivery))
        }
        matched.removeAll(keepingCapacity: true)
        dispositionScratch = matched
    }

    func handleDetach(_ d: Detach, _ s: Session) {
        guard let link = s.linksByRemoteHandle[d.handle] else {
            unknownHandle(d.handle, in: s, "detach")
            return
        }
        s.linksByRemoteHandle[d.handle] = nil
        link.remoteState = .closed
        link.remoteError = d.error
        if let current = link.current { dropDelivery(current, s) }
        post(d.closed ? .linkRemoteClose(link) : .linkRemoteDetach(link))
        if link.localState == .closed { s.forget(link) }
    }

    func handleEnd(_ e: End, _ s: Session) {
        s.remoteState = .closed
        s.remoteError = e.error
        if let c = s.remoteChannel { connection.sessionsByRemoteChannel[c] = nil }
        // The session's links end with it (§2.5.5): nothing more arrives for them.
        s.linksByRemoteHandle.removeAll()
        for l in s.links where l.remoteState != .closed {
            l.remoteState = .closed
            l.current = nil
        }
        s.dropDeliveries()
        post(.sessionRemoteEnd(s))
        if s.localState == .closed { connection.forget(s) }
    }

    func handleClose(_ c: Close) {
        let conn = connection
        conn.remoteState = .closed
        conn.remoteError = c.error
        post(.connectionRemoteClose(conn))
        closeTail()
        if output.gate == .closeWritten { finishOutput() }
    }

    /// A frame for a handle no link holds: beyond our handle-max it is a framing error (§2.7.2;
    /// no attach can have used it), otherwise the session ends with unattached-handle. Checked
    /// here, off the hot path, since a handle in use is always within handle-max.
    @inline(never)
    func unknownHandle(_ handle: UInt32, in s: Session, _ frame: String) {
        if handle > configuration.handleMax {
            protocolFailure(ErrorCondition.framingError, "\(frame) with handle \(handle), above handle-max \(configuration.handleMax)")
        } else {
            endSession(s, AMQPError(condition: ErrorCondition.unattachedHandle, description: "\(frame) for handle \(handle)"))
        }
    }

    func endSession(_ s: Session, _ error: AMQPError) {
        if s.localState != .closed { s.end(error) }
    }

    func detachLink(_ l: Link, _ error: AMQPError) {
        if l.localState != .closed { l.close(error) } else { l.localError = error }
    }
}

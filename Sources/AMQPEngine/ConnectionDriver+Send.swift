import AMQPCodec

// Output: every frame we write, and the flow control that decides when transfers may go.
// Everything passes through `output`, whose gate refuses AMQP frames once our close is written.
extension ConnectionDriver {
    // MARK: writing frames

    func writeHeader(_ header: ProtocolHeader) {
        output.writeHeader(header)
        trace("-> \(header) header")
    }

    /// Writes the AMQP header, then whatever AMQP frames waited for it.
    func startAMQPOutput() {
        guard output.gate == .beforeAMQP || output.gate == .closeHeld else { return }
        output.openAMQP()
        trace("-> amqp header")
    }

    /// Writes one AMQP frame other than a transfer. Returns false when it was not written: the
    /// gate refused it (our close is out), or it would exceed the peer's max-frame-size (§2.7.1),
    /// in which case the connection closes with `amqp:frame-size-too-small`, except for an attach,
    /// whose link alone fails (see ``sendAttach(_:)``).
    @discardableResult
    func writeFrame(channel: UInt16, _ p: Performative) -> Bool {
        let limit = Int(remoteMaxFrameSize)
        var oversize = 0
        let written = output.writeAMQPFrame { b in
            let start = b.count
            Frame.append(channel: channel, into: &b) { p.encode(into: &$0) }
            let size = b.count - start
            if size > limit {
                b.removeLast(size)
                oversize = size
            }
        }
        guard written else { return false }
        idle.outputSinceTick = true
        guard oversize == 0 else {
            trace("-> [\(channel)] \(p.name) not sent: \(oversize) bytes over the peer's max-frame-size \(limit)")
            if case .attach = p { return false }
            protocolFailure(ErrorCondition.frameSizeTooSmall,
                            "our \(p.name) frame of \(oversize) bytes exceeds the peer's max-frame-size \(limit)")
            return false
        }
        trace("-> [\(channel)] \(p)")
        return true
    }

    /// A transfer frame, written by ``TransferCodec`` without building a ``Transfer``. The caller
    /// sized the payload to fit the peer's max-frame-size.
    func writeTransfer(channel: UInt16, handle: UInt32, first d: Delivery?, more: Bool, payload: ArraySlice<UInt8>) {
        if configuration.trace != nil {
            let t = Transfer(handle: handle, deliveryID: d?.id, deliveryTag: d?.tag, messageFormat: d?.messageFormat,
                             settled: d?.locallySettled, more: more)
            trace("-> [\(channel)] \(Performative.transfer(t))")
        }
        idle.outputSinceTick = true
        output.writeAMQPFrame { out in
            TransferCodec.append(channel: channel, handle: handle, deliveryID: d?.id, tag: d?.deliveryTag, messageFormat: d?.messageFormat,
                                 settled: d?.locallySettled, more: more, payload: payload, into: &out)
        }
    }

    /// Sender: whether a message of `size` bytes would go out at once, whole, in one transfer:
    /// nothing queued ahead of it, credit, session window, output open, within the peer's
    /// max-message-size and max-frame-size. Tracing takes the general path, which traces.
    func canSendAtOnce(_ l: Link, size: Int, tagCount: Int) -> Bool {
        let s = l.session
        return configuration.trace == nil && l.outgoing.isEmpty && l.credit > 0 && s.remoteIncomingWindow > 0
            && l.role == .sender && l.localState == .active && l.remoteState == .active && s.canSend
            && s.localChannel != nil && l.localHandle != nil && s.remoteState == .active && output.gate == .open
            && (l.peerMaxMessageSize == 0 || UInt64(size) <= l.peerMaxMessageSize)
            && size + TransferCodec.maxOverhead + tagCount <= Int(min(remoteMaxFrameSize, 1 << 30))
    }

    /// Sends a new delivery whose payload is `message`, encoded straight into the output, with no
    /// array of its own, when it can go at once, whole, in one transfer (see
    /// ``canSendAtOnce(_:size:tagCount:)``; its size is checked once encoded). Returns nil, having
    /// changed nothing, when it cannot: the caller queues it.
    func trySendAtOnce(_ message: borrowing Message, on l: Link, tag: DeliveryTag, settled: Bool) -> Delivery? {
        let s = l.session
        guard canSendAtOnce(l, size: 0, tagCount: tag.count), let ch = s.localChannel, let handle = l.localHandle else { return nil }
        // The id the delivery takes if it stays (startDelivery below gives it the same).
        let id = s.nextDeliveryID.value
        guard output.writeTransfer(channel: ch, handle: handle, deliveryID: id, tag: tag, messageFormat: 0, settled: settled,
                                   message: message, maxFrame: Int(min(remoteMaxFrameSize, 1 << 30)),
                                   maxMessage: l.peerMaxMessageSize) else { return nil }
        let d = Delivery(link: l, tag: tag, payload: [])
        d.locallySettled = settled
        startDelivery(d, on: l, s)
        idle.outputSinceTick = true
        s.nextOutgoingID.increment()
        s.remoteIncomingWindow -= 1
        if l.drain { flushTransfers(l) }
        return d
    }

    /// Sends a new delivery whose encoded payload fits one transfer, without queueing it. Only
    /// after ``canSendAtOnce(_:size:tagCount:)``.
    func sendAtOnce(_ d: Delivery, on l: Link, payload: ArraySlice<UInt8>) {
        let s = l.session
        guard let ch = s.localChannel, let handle = l.localHandle, output.gate == .open else { return }
        startDelivery(d, on: l, s)
        idle.outputSinceTick = true
        output.writeTransfer(channel: ch, handle: handle, deliveryID: d.id, tag: d.deliveryTag, messageFormat: d.messageFormat,
                             settled: d.locallySettled, payload: payload)
        s.nextOutgoingID.increment()
        s.remoteIncomingWindow -= 1
        if l.drain { flushTransfers(l) }
    }

    /// A delivery's first transfer takes the next delivery-id and a unit of credit.
    @inline(__always)
    private func startDelivery(_ d: Delivery, on l: Link, _ s: Session) {
        let id = s.nextDeliveryID.value
        s.nextDeliveryID.increment()
        d.id = id
        l.credit -= 1
        l.deliveryCountNumber.increment()
        d.sentAnyFrame = true
        if !d.locallySettled { s.unsettledOutgoing.insert(d, id: id) }
    }

    func writeSASLFrame(_ p: Performative) {
        trace("-> SASL \(p)")
        output.writeBeforeAMQP { Frame(kind: .sasl, channel: 0, p).encode(into: &$0) }
    }

    /// An empty frame (§2.4.5). It does not count as output for the idle timer, so heartbeats keep
    /// to half the peer's timeout however often the host ticks.
    func writeHeartbeat() {
        trace("-> (empty frame)")
        output.writeAMQPFrame { $0.append(contentsOf: [0, 0, 0, 8, 2, 0, 0, 0]) }
    }

    // MARK: connection

    func sendOpenIfReady() {
        guard !openSent, connection.localState != .uninitialized else { return }
        openSent = true
        let open = configuration.open
        let size = Frame(channel: 0, .open(open)).encoded.count
        if size > Int(remoteMaxFrameSize) {
            // Too big for the peer (before its open, 512 bytes, §2.7.1): a bare open goes instead,
            // so that the close explaining why is a valid one.
            writeFrame(channel: 0, .open(Open(containerID: open.containerID, hostname: open.hostname, maxFrameSize: open.maxFrameSize,
                                              channelMax: open.channelMax, idleTimeOut: open.idleTimeOut)))
            protocolFailure(ErrorCondition.frameSizeTooSmall, "our open frame of \(size) bytes exceeds the peer's max-frame-size \(remoteMaxFrameSize)")
            return
        }
        writeFrame(channel: 0, .open(open))
        // Sessions begun before the open go out now.
        for s in connection.sessions where s.localState != .uninitialized && !s.beginSent { sendBegin(s) }
    }

    func sendCloseFrame() {
        guard output.gate == .open || output.gate == .beforeAMQP else { return }
        sendOpenIfReady()
        // Nothing may follow close (§2.7.9): queued credit and dispositions go first.
        flushFlows()
        flushDispositions()
        var close = Close(error: connection.localError)
        let limit = Int(remoteMaxFrameSize)
        // An error too long for the peer's frames keeps its condition and loses its text.
        if Frame(channel: 0, .close(close)).encoded.count > limit, let e = close.error {
            close.error = AMQPError(condition: e.condition)
        }
        trace("-> [0] \(Performative.close(close))")
        output.writeClose { b in Frame.append(channel: 0, into: &b) { Performative.close(close).encode(into: &$0) } }
        idle.outputSinceTick = true
        if connection.remoteState == .closed || isTailClosed { finishOutput() }
    }

    // MARK: sessions

    func sendBegin(_ s: Session) {
        let c = connection
        if s.localChannel == nil {
            let used = Set(c.sessions.compactMap(\.localChannel))
            // Until the peer's open tells its channel-max only channel 0 is sure to exist (§2.7.1):
            // a second session waits for the open (handleOpen begins it).
            if c.remoteOpen == nil && used.contains(0) { return }
            // Both sides' channel-max bound us.
            let limit = min(configuration.channelMax, c.remoteOpen?.channelMax ?? 0)
            guard let channel = (0...limit).first(where: { !used.contains($0) }) else {
                s.localError = AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no free channel below channel-max \(limit)")
                s.localState = .closed
                post(.sessionLocalEnd(s))
                if s.remoteState != .active { c.forget(s) }
                return
            }
            s.localChannel = channel
        }
        // Before our open, the begin waits for it (sendOpenIfReady).
        guard openSent, let channel = s.localChannel, !s.beginSent else { return }
        s.written = .begin
        writeFrame(channel: channel, .begin(Begin(remoteChannel: s.remoteChannel, nextOutgoingID: s.nextOutgoingID.value,
                                                  incomingWindow: s.incomingWindowLeft, outgoingWindow: s.outgoingWindow,
                                                  handleMax: configuration.handleMax)))
        // Links attached (or attached and detached) before the begin go out now.
        for l in s.links where l.localState != .uninitialized && !l.attachSent {
            sendAttach(l)
            if l.localState == .closed { sendDetach(l, closed: l.detachCloses) }
        }
    }

    /// Sends end once, after what is queued for the session; the channel stays ours until the
    /// peer's end arrives too, so a late answer to our begin finds this session (§2.7.7).
    func sendEnd(_ s: Session) {
        let c = connection
        guard s.beginSent else {
            if s.remoteState != .active { c.forget(s) }
            return
        }
        guard !s.endSent, let ch = s.localChannel else { return }
        flushFlows()
        flushDispositions()
        s.written = .end
        writeFrame(channel: ch, .end(End(error: s.localError)))
        if s.remoteState == .closed { c.forget(s) }
    }

    // MARK: links

    func sendAttach(_ l: Link) {
        let s = l.session
        guard s.canSend, let ch = s.localChannel, !l.attachSent else { return }
        let used = Set(s.links.compactMap(\.localHandle))
        var h: UInt32 = 0
        while used.contains(h) { h += 1 }
        guard h <= s.remoteHandleMax else {
            failAttach(l, "no free handle below the peer's handle-max \(s.remoteHandleMax)")
            return
        }
        l.localHandle = h
        l.initialDeliveryCount = l.deliveryCountNumber
        let maxSize = l.maxMessageSize ?? (l.role == .receiver ? configuration.maxMessageSize : nil)
        let attach = Attach(
            name: l.name, handle: h, role: l.role, sndSettleMode: l.senderSettleMode, rcvSettleMode: l.receiverSettleMode,
            source: l.localSource, target: l.localTarget.map { .target($0) },
            initialDeliveryCount: l.role == .sender ? l.deliveryCount : nil, maxMessageSize: maxSize, properties: l.properties)
        if connection.remoteOpen == nil && output.gate != .closeHeld && output.gate != .closeWritten
            && Frame(channel: ch, .attach(attach)).encoded.count > Int(remoteMaxFrameSize) {
            // The peer's max-frame-size is 512 until its open says more (§2.7.1): a larger attach
            // waits for the open (handleOpen sends it) rather than failing.
            l.localHandle = nil
            return
        }
        guard writeFrame(channel: ch, .attach(attach)) else {
            l.localHandle = nil
            if output.gate == .open || output.gate == .beforeAMQP {
                failAttach(l, "attach of link \(l.name) exceeds the peer's max-frame-size \(remoteMaxFrameSize)", ErrorCondition.frameSizeTooSmall)
            }
            return
        }
        l.written = .attach
        if l.role == .receiver && l.credit > 0 { queueFlow(l) }
    }

    /// The link cannot be attached: it closes on our side without a frame.
    private func failAttach(_ l: Link, _ why: String, _ condition: Symbol = ErrorCondition.resourceLimitExceeded) {
        l.localError = AMQPError(condition: condition, description: why)
        l.localState = .closed
        post(.linkLocalClose(l))
    }

    func sendDetach(_ l: Link, closed: Bool) {
        let s = l.session
        guard l.attachSent, !l.detachSent else {
            if !l.attachSent && l.remoteState != .active { s.forget(l) }
            return
        }
        // What the application queued before the detach goes before it: an accept behind the
        // detach reaches a peer that has already forgotten the delivery, and it is redelivered.
        flushFlows()
        flushDispositions()
        l.written = .detach
        if s.canSend, let ch = s.localChannel, let h = l.localHandle {
            writeFrame(channel: ch, .detach(Detach(handle: h, closed: closed, error: l.localError)))
        }
        l.localHandle = nil
        if l.remoteState == .closed { s.forget(l) }
    }

    func sendFlow(_ s: Session, link: Link?) {
        guard s.canSend, let ch = s.localChannel else { return }
        var f = Flow(nextIncomingID: s.remoteChannel == nil ? nil : s.nextIncomingID.value, incomingWindow: s.incomingWindowLeft,
                     nextOutgoingID: s.nextOutgoingID.value, outgoingWindow: s.outgoingWindow)
        if let link {
            // Not attached yet: the attach carries it. Detached: nothing more for this link.
            guard let h = link.localHandle, !link.detachSent else { return }
            f.handle = h
            // §2.7.4: a receiver sets delivery-count only once the sender's attach has told it
            // the sender's initial count; before that, the sender counts from its own.
            if link.role == .sender || link.remoteAttach != nil { f.deliveryCount = link.deliveryCount }
            f.linkCredit = link.credit
            f.drain = link.drain
            if link.role == .sender { f.available = UInt32(clamping: link.outgoing.count) }
        }
        writeFrame(channel: ch, .flow(f))
    }

    // MARK: transfers

    /// Runs ``flushTransfers(_:)`` for every sender of the session.
    func flushSenders(_ s: Session) {
        for l in s.links where l.role == .sender { flushTransfers(l) }
    }

    /// Sends what credit and the session window allow of a sender's queue, and completes a drain
    /// when the queue is empty (§2.6.7: the unused credit is consumed and reported).
    func flushTransfers(_ l: Link) {
        let s = l.session
        guard l.role == .sender, l.localState == .active, l.remoteState == .active, s.canSend, let ch = s.localChannel,
              let handle = l.localHandle, s.remoteState == .active, output.gate == .open else { return }
        let maxFrame = Int(min(remoteMaxFrameSize, 1 << 30))
        while let d = l.outgoing.first {
            guard s.remoteIncomingWindow > 0 else { break }
            let first = !d.sentAnyFrame
            if d.abortRequested {
                l.outgoing.removeFirst()
                if first { d.isAborted = true; continue }
                writeAbort(d, channel: ch, handle: handle)
                continue
            }
            if first {
                if l.peerMaxMessageSize > 0, UInt64(d.payload.count) > l.peerMaxMessageSize {
                    l.outgoing.removeFirst()
                    refuseOversize(d, limit: l.peerMaxMessageSize)
                    continue
                }
                guard l.credit > 0 else { break }
                startDelivery(d, on: l, s)
            }
            // Split at the peer's max-frame-size: header, fields at their widest, then as much
            // payload as fits.
            let overhead = TransferCodec.maxOverhead + (first ? d.deliveryTag.count : 0)
            let n = min(max(1, maxFrame - overhead), d.payload.count)
            let chunk: ArraySlice<UInt8>
            if n == d.payload.count {
                chunk = d.payload
                d.payload = []
            } else {
                chunk = d.payload.prefix(n)
                d.payload = d.payload.dropFirst(n)
            }
            let more = !d.payload.isEmpty
            writeTransfer(channel: ch, handle: handle, first: first ? d : nil, more: more, payload: chunk)
            s.nextOutgoingID.increment()
            s.remoteIncomingWindow -= 1
            if !more { l.outgoing.removeFirst() }
        }
        if l.drain && l.outgoing.isEmpty && l.credit > 0 { queueDrain(l) }
    }

    // MARK: drains

    /// A drain with nothing queued is completed when the output is next read, not at once: the
    /// application first gets its turn (the flow's event, a container's onSendable) and what it
    /// sends then uses the credit. Only the rest is drained (§2.6.7).
    func queueDrain(_ l: Link) {
        guard !l.drainQueued else { return }
        l.drainQueued = true
        pendingDrains.append(l)
    }

    /// Completes the drains queued since the last output: the credit nothing used is consumed and
    /// reported. Not from inside an early write, which runs in the middle of the application's turn.
    func completeDrains() {
        guard !pendingDrains.isEmpty, !inEarlyWrite else { return }
        var links: [Link] = []
        swap(&links, &pendingDrains)
        for l in links {
            l.drainQueued = false
            let s = l.session
            guard l.drain, l.credit > 0, l.outgoing.isEmpty, l.role == .sender, l.localState == .active, l.remoteState == .active,
                  s.canSend, l.localHandle != nil, output.gate == .open else { continue }
            l.deliveryCountNumber.advance(by: l.credit)
            l.credit = 0
            sendFlow(s, link: l)
        }
        links.removeAll(keepingCapacity: true)
        if pendingDrains.isEmpty { pendingDrains = links }
    }

    /// The transfer that aborts a partly sent delivery (§2.6.14). It uses a slot of the session
    /// window like any transfer, so it waits in the queue for one.
    private func writeAbort(_ d: Delivery, channel: UInt16, handle: UInt32) {
        let s = d.link.session
        guard writeFrame(channel: channel, .transfer(Transfer(handle: handle, settled: true, aborted: true))) else { return }
        s.nextOutgoingID.increment()
        s.remoteIncomingWindow -= 1
        if let id = d.id { s.unsettledOutgoing.remove(id) }
        d.isAborted = true
    }

    /// A message larger than the receiver's max-message-size (§2.7.3) is not sent: the delivery
    /// fails on our side with `amqp:link:message-size-exceeded`.
    func refuseOversize(_ d: Delivery, limit: UInt64) {
        d.error = AMQPError(condition: ErrorCondition.messageSizeExceeded,
                            description: "message of \(d.payload.count) bytes exceeds the receiver's max-message-size \(limit)")
        d.locallySettled = true
        d.payload = []
        post(.delivery(d))
    }

    // MARK: batched credit and dispositions

    /// Receiver credit goes out once per batch of output, however often the application topped it up.
    func queueFlow(_ l: Link) {
        guard !l.flowQueued else { return }
        l.flowQueued = true
        pendingFlows.append(l)
    }

    func flushFlows() {
        guard !pendingFlows.isEmpty else { return }
        for l in pendingFlows {
            l.flowQueued = false
            sendFlow(l.session, link: l)
        }
        pendingFlows.removeAll(keepingCapacity: true)
    }

    func queueDisposition(_ d: Delivery) {
        guard !d.dispositionQueued else { return }
        d.dispositionQueued = true
        pendingDispositions.append(d)
    }

    /// Sends queued dispositions, merging runs of consecutive ids with the same outcome into one
    /// first/last range (§2.7.5). A delivery updated twice before a flush goes out once, with its
    /// latest state.
    /// Whether two states are equal, with the common cases decided without copying either.
    @inline(__always)
    static func sameState(_ a: DeliveryState?, _ b: DeliveryState?) -> Bool {
        switch (a, b) {
        case (.accepted?, .accepted?), (nil, nil), (.released?, .released?): return true
        case (.accepted?, _), (_, .accepted?), (nil, _), (_, nil): return false
        default: return a == b
        }
    }

    func flushDispositions() {
        guard !pendingDispositions.isEmpty else { return }
        // Swapped out rather than copied, so neither array is shared and both keep their storage.
        var pending = spareDispositions
        swap(&pending, &pendingDispositions)
        defer {
            pending.removeAll(keepingCapacity: true)
            spareDispositions = pending
        }
        var i = 0
        while i < pending.count {
            let d = pending[i]
            d.dispositionQueued = false
            let s = d.link.session
            guard let id = d.id, s.canSend, let ch = s.localChannel else { i += 1; continue }
            var last = id
            var j = i + 1
            // The same link (so the same session and role), settled alike, the same state: one
            // range. Compared without copying the references or the states out.
            while j < pending.count, let next = pending[j].id, next == last &+ 1, pending[j].link === d.link,
                  pending[j].locallySettled == d.locallySettled, Self.sameState(pending[j].localState, d.localState) {
                pending[j].dispositionQueued = false
                last = next
                j += 1
            }
            writeFrame(channel: ch, .disposition(Disposition(role: d.link.role, first: id, last: last == id ? nil : last,
                                                             settled: d.locallySettled, state: d.localState)))
            if d.locallySettled {
                for k in i..<j {
                    if let kid = pending[k].id {
                        if d.link.role == .receiver { s.unsettledIncoming.remove(kid) } else { s.unsettledOutgoing.remove(kid) }
                    }
                }
            }
            i = j
        }
    }
}

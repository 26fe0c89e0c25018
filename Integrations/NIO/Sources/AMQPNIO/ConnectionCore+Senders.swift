import AMQPCodec
import AMQPEngine

extension ConnectionCore {
    func openSender(address: String?, name: String?, settled: Bool, call: PendingCall<Void>) -> UInt64? {
        if let failure { call.complete(.failure(failure)); return nil }
        let id = makeLinkID()
        let link = session.sender(name: name ?? "\(driver.configuration.containerID)-sender-\(id)", target: address)
        if settled { link.senderSettleMode = .settled }
        let state = SenderState(id: id, link: link, settled: settled)
        state.attachCall = call
        senders[id] = state
        linkIDs[ObjectIdentifier(link)] = id
        link.attach()
        handler.scheduleTurn()
        return id
    }

    func send(_ message: Message, on id: UInt64, call: PendingCall<SendOutcome>) {
        guard let sender = senders[id] else {
            call.complete(.failure(failure ?? AMQPClientError(.linkDetached, "the sender is closed")))
            return
        }
        if let failure = sender.failure { call.complete(.failure(failure)); return }
        sender.queue.append(.init(message: message, call: call))
        pump(sender)
        handler.scheduleTurn()
    }

    /// Hands queued sends to the driver while the peer's credit and our output allow: the
    /// driver never holds more than the credit, and stops taking messages while the channel
    /// is not writable or its output is over the high-water mark.
    func pump(_ sender: SenderState) {
        let link = sender.link
        guard link.remoteState == .active, sender.attachCall == nil, sender.failure == nil else { return }
        while sender.hasQueued && Int(link.credit) > link.queued && handler.isWritable
                && driver.pendingOutput.count < outputHighWaterMark {
            let queued = sender.popQueued()
            let delivery = link.send(queued.message, settled: sender.settled)
            if let error = delivery.error {
                queued.call.complete(.failure(AMQPClientError(.sendFailed, "message not sent", remoteError: error)))
            } else if sender.settled {
                queued.call.complete(.success(.settled))
            } else {
                sender.awaiting[ObjectIdentifier(delivery)] = (delivery, queued.call)
            }
        }
    }

    /// The peer's disposition for a delivery we sent: the waiting `send` gets the outcome.
    func outcomeArrived(_ delivery: Delivery) {
        guard let id = linkIDs[ObjectIdentifier(delivery.link)], let sender = senders[id] else { return }
        let key = ObjectIdentifier(delivery)
        if let error = delivery.error, let entry = sender.awaiting.removeValue(forKey: key) {
            entry.call.complete(.failure(AMQPClientError(.sendFailed, "message not sent", remoteError: error)))
            return
        }
        guard delivery.remotelySettled || delivery.remoteState?.isOutcome == true else { return }
        if !delivery.locallySettled { delivery.settle() }
        // Not awaited: its send was cancelled after the transfer went out; settled all the same.
        guard let entry = sender.awaiting.removeValue(forKey: key) else { return }
        entry.call.complete(.success(SendOutcome(delivery.remoteState)))
    }

    /// A cancelled `send`: dropped if still queued here or in the driver (never sent); once its
    /// transfer is out it cannot be recalled, so its outcome will be settled and dropped.
    func cancelSend(on id: UInt64, call: PendingCall<SendOutcome>) {
        guard let sender = senders[id] else { return }
        if sender.removeQueued(call) {
            call.complete(.failure(.cancelled))
            return
        }
        guard let (key, entry) = sender.awaiting.first(where: { $0.value.call === call }) else { return }
        sender.awaiting[key] = nil
        _ = entry.delivery.abort()  // true: it was still in the driver's queue, so it never left
        call.complete(.failure(.cancelled))
        handler.scheduleTurn()
    }

    func closeSender(_ id: UInt64, call: PendingCall<Void>) {
        guard let sender = senders[id], sender.link.localState != .closed else { call.complete(.success(())); return }
        sender.detachCall = call
        sender.link.close()
        handler.scheduleTurn()
    }
}

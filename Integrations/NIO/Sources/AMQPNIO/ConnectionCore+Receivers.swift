import AMQPCodec
import AMQPEngine

extension ConnectionCore {
    func openReceiver(address: String?, name: String?, capacity: Int, call: PendingCall<Void>) -> UInt64? {
        if let failure { call.complete(.failure(failure)); return nil }
        let id = makeLinkID()
        let link = session.receiver(name: name ?? "\(driver.configuration.containerID)-receiver-\(id)", source: address)
        let state = ReceiverState(id: id, link: link, capacity: capacity)
        state.attachCall = call
        receivers[id] = state
        linkIDs[ObjectIdentifier(link)] = id
        link.attach()
        handler.scheduleTurn()
        return id
    }

    /// A transfer arrived. Once the delivery is whole it is decoded, kept unsettled for the
    /// application, and handed to the waiting `next()` or buffered. Credit is topped up after the
    /// whole batch (`afterEvents`), never here: the driver's `link.credit` already counts the
    /// transfers of this read whose events are still queued, so room computed now would be too much.
    func transferArrived(_ delivery: Delivery) {
        // One event per frame, and the driver may have read them all before the first event:
        // act once, when the delivery is whole and not yet ours.
        guard !delivery.isPartial, !delivery.locallySettled,
              let id = linkIDs[ObjectIdentifier(delivery.link)], let receiver = receivers[id],
              receiver.keyOf[ObjectIdentifier(delivery)] == nil else { return }
        if delivery.isAborted {
            delivery.settle()
            return
        }
        let message: Message
        do {
            message = try delivery.message()
        } catch {
            let why = AMQPError(condition: ErrorCondition.decodeError, description: "\(error)")
            delivery.update(.rejected(Rejected(error: why)), settle: true)
            logger.warning("rejected a message that does not decode", metadata: ["error": "\(error)"])
            return
        }
        let key = receiver.track(delivery)
        if let waiter = receiver.waiter {
            receiver.waiter = nil
            waiter.complete(.success(AMQPReceivedMessage(message: message, key: key, receiverID: id)))
        } else {
            receiver.buffer.append((key, message))
        }
    }

    /// `next()`: a buffered message at once, else wait; nil once the link ended cleanly.
    func receive(on id: UInt64, call: PendingCall<AMQPReceivedMessage?>) {
        guard let receiver = receivers[id] else {
            call.complete(failure.map { .failure($0) } ?? .success(nil))
            return
        }
        if receiver.buffered > 0 {
            let (key, message) = receiver.popBuffered()
            call.complete(.success(AMQPReceivedMessage(message: message, key: key, receiverID: id)))
            receiver.topUpCredit()
            handler.scheduleTurn()
        } else if let failure = receiver.failure {
            call.complete(.failure(failure))
        } else if receiver.waiter != nil {
            call.complete(.failure(AMQPClientError(.concurrentReceive, "another task is already receiving on link \(receiver.link.name)")))
        } else {
            receiver.waiter = call
        }
    }

    /// A cancelled `next()`: it stops waiting; nothing is lost, a later message stays buffered.
    func cancelReceive(on id: UInt64, call: PendingCall<AMQPReceivedMessage?>) {
        guard let receiver = receivers[id], receiver.waiter === call else { return }
        receiver.waiter = nil
        call.complete(.failure(.cancelled))
    }

    /// accept, reject, release or modify: sets the state, settles, and frees the credit's room.
    func settle(key: UInt64, on id: UInt64, state: DeliveryState) throws(AMQPClientError) {
        guard let receiver = receivers[id], let delivery = receiver.forget(key) else {
            throw failure ?? AMQPClientError(.alreadySettled, "the message was already settled, or its link is closed")
        }
        delivery.update(state, settle: true)
        handler.scheduleTurn()
    }

    /// Closes the link; messages buffered and not yet taken are released first, so the peer can
    /// deliver them elsewhere.
    func closeReceiver(_ id: UInt64, call: PendingCall<Void>) {
        guard let receiver = receivers[id], receiver.link.localState != .closed else { call.complete(.success(())); return }
        while receiver.buffered > 0 {
            let (key, _) = receiver.popBuffered()
            receiver.forget(key)?.update(.released, settle: true)
        }
        receiver.detachCall = call
        receiver.link.close()
        handler.scheduleTurn()
    }
}

import AMQPCodec
import AMQPEngine
import AMQPMessaging

// Producers: taking their messages into a queue, and granting credit only for room it promises.
extension BrokerConnection {
    func onRawMessage(_ c: MessagingConnection, _ delivery: Delivery, _ bytes: ArraySlice<UInt8>) {
        guard let id = linkIDs[ObjectIdentifier(delivery.link)], let p = producers[id] else { return }
        producers[id]?.outstanding -= 1
        defer { if let p = producers[id], p.outstanding < Int(broker.creditWindow / 2) { grantCredit(c, id) } }
        guard let queue = p.queue else { return relay(delivery, bytes, id) }
        guard let hungry = queue.push(Array(bytes), origin: self.id) else {
            // Its queue was deleted (a dynamic queue whose link closed): not taken, and the producer is told.
            return reject(delivery, ErrorCondition.resourceDeleted, "queue \(queue.name) was deleted")
        }
        wakeConsumers(hungry)
    }

    /// The anonymous relay: the message goes to the queue its `to` names, if it exists; if not,
    /// or if that queue is full, the message alone is rejected and the link stays.
    private func relay(_ delivery: Delivery, _ bytes: ArraySlice<UInt8>, _ id: UInt64) {
        guard let to = MessageHead.to(in: bytes) else {
            return reject(delivery, ErrorCondition.notFound, "the message has no to address, and its link no target address")
        }
        var queue = producers[id]?.lastRoute
        if queue?.name != to {
            queue = broker.existingQueue(to)
            producers[id]?.lastRoute = queue
        }
        guard let queue else { return reject(delivery, ErrorCondition.notFound, "no queue \(to)") }
        switch queue.pushRelayed(Array(bytes), origin: self.id) {
        case .taken(let hungry): wakeConsumers(hungry)
        case .full: reject(delivery, ErrorCondition.resourceLimitExceeded, "queue \(to) is full")
        case .deleted:
            producers[id]?.lastRoute = nil
            reject(delivery, ErrorCondition.notFound, "no queue \(to)")
        }
    }

    private func reject(_ delivery: Delivery, _ condition: Symbol, _ description: String) {
        delivery.update(.rejected(Rejected(error: AMQPError(condition: condition, description: description))), settle: true)
    }

    /// Tops a producer's credit up to the window, as far as its queue has room; with none, waits.
    /// The relay's credit is the window alone: its messages are taken only where there is room.
    func grantCredit(_ c: MessagingConnection, _ id: UInt64) {
        guard let p = producers[id], p.link.localState == .active else { return }
        // Credit only for room the queue promises, so it never holds more than its limit however
        // many producers feed it.
        let want = Int(broker.creditWindow) - p.outstanding
        guard want > 0 else { return }
        let granted = p.queue?.reserve(upTo: want, for: p.waiter) ?? want
        guard granted > 0 else { return }
        p.link.flow(credit: UInt32(granted))
        producers[id]?.outstanding += granted
    }

    /// Tells producers, each in its own connection's sequence, that their queue has room.
    func wakeProducers(_ waiters: [QueueWaiter]) {
        for w in waiters {
            w.workQueue.add { c in (c.handler as? BrokerConnection)?.grantCredit(c, w.id) }
        }
    }
}

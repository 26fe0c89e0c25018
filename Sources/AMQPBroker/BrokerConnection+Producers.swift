import AMQPCodec
import AMQPEngine
import AMQPMessaging

// Producers: taking their messages into a queue, and granting credit only for room it promises.
extension BrokerConnection {
    func onRawMessage(_ c: MessagingConnection, _ delivery: Delivery, _ bytes: ArraySlice<UInt8>) {
        guard let id = linkIDs[ObjectIdentifier(delivery.link)], let queue = producers[id]?.queue else { return }
        producers[id]?.outstanding -= 1
        guard let hungry = queue.push(Array(bytes)) else {
            // Its queue was deleted (the link is being closed): not taken, and the producer is told.
            delivery.update(.rejected(Rejected(error: AMQPError(condition: ErrorCondition.resourceDeleted,
                                                                description: "queue \(queue.name) was deleted"))), settle: true)
            return
        }
        wakeConsumers(hungry)
        if let p = producers[id], p.outstanding < Int(broker.creditWindow / 2) { grantCredit(c, id) }
    }

    /// Tops a producer's credit up to the window, as far as its queue has room; with none, waits.
    func grantCredit(_ c: MessagingConnection, _ id: UInt64) {
        guard let p = producers[id], p.link.localState == .active else { return }
        // Credit only for room the queue promises, so it never holds more than its limit however
        // many producers feed it.
        let want = Int(broker.creditWindow) - p.outstanding
        guard want > 0 else { return }
        let granted = p.queue.reserve(upTo: want, for: p.waiter)
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

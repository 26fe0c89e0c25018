import AMQPCodec
import AMQPEngine
import AMQPMessaging

// Consumers: sending what a queue has, and applying each outcome to the queue (AMQP 1.0 §3.4).
extension BrokerConnection {
    func onSendable(_ c: MessagingConnection, _ sender: Link) { sendAvailable(c, sender) }
    func onSenderDrain(_ c: MessagingConnection, _ sender: Link) { sendAvailable(c, sender) }

    private func sendAvailable(_ c: MessagingConnection, _ sender: Link) {
        if let id = linkIDs[ObjectIdentifier(sender)] { sendAvailable(c, id) }
    }

    /// Sends what the queue has, up to the consumer's credit; waits on the queue for the rest.
    func sendAvailable(_ c: MessagingConnection, _ id: UInt64) {
        guard let consumer = consumers[id], consumer.link.localState == .active, consumer.link.credit > 0 else { return }
        if consumer.browsing { return sendCopies(consumer) }
        let messages = consumer.queue.take(max: Int(consumer.link.credit), for: consumer.waiter, filter: consumer.filter)
        var refused: [UInt64] = [], presettled: [UInt64] = []
        for m in messages {
            let d = consumer.link.send(m.bytes)
            if d.error != nil { refused.append(m.sequence) }
            else if consumer.presettled { presettled.append(m.sequence) }
            else { consumers[id]?.unsettled[ObjectIdentifier(d)] = (d, m.sequence) }
        }
        if !presettled.isEmpty {
            // At most once: gone from the queue as it leaves.
            wakeProducers(consumer.queue.settle(presettled, .accepted, by: id).producers)
        }
        if !refused.isEmpty {
            // Larger than the consumer takes: someone else may take it.
            wakeConsumers(consumer.queue.settle(refused, .notSent(refuse: true), by: id).consumers)
        }
    }

    /// A browser's copies: pre-settled unless it asked for unsettled transfers (its outcomes
    /// would change nothing), and not tracked.
    private func sendCopies(_ browser: BrokerConsumer) {
        let settled = browser.link.remoteAttach?.sndSettleMode != .unsettled
        for m in browser.queue.browse(max: Int(browser.link.credit), for: browser.waiter, filter: browser.filter) {
            browser.link.send(m.bytes, settled: settled)
        }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) { settle(tracker, .accepted) }

    func onTrackerReject(_ c: MessagingConnection, _ tracker: Delivery) {
        // An error means the engine never sent it (handled where it was sent, or the link is gone).
        if tracker.error == nil { settle(tracker, .rejected) }
    }

    /// Released or modified.
    func onTrackerRelease(_ c: MessagingConnection, _ tracker: Delivery) {
        settle(tracker, tracker.remoteState.flatMap(DeliveryOutcome.init) ?? .released)
    }

    /// Settled by the consumer without an outcome (an outcome, when there is one, came first and
    /// already took the delivery): the source's default-outcome if it names one (§3.5.3), else
    /// accepted, as the consumer is done with it.
    func onTrackerSettle(_ c: MessagingConnection, _ tracker: Delivery) {
        settle(tracker, tracker.link.localSource?.defaultOutcome.flatMap(DeliveryOutcome.init) ?? .accepted)
    }

    private func settle(_ tracker: Delivery, _ outcome: DeliveryOutcome) {
        guard let id = linkIDs[ObjectIdentifier(tracker.link)],
              let entry = consumers[id]?.unsettled.removeValue(forKey: ObjectIdentifier(tracker)),
              let queue = consumers[id]?.queue else { return }
        let (producers, consumers) = queue.settle([entry.sequence], outcome, by: id)
        wakeProducers(producers)
        wakeConsumers(consumers)
    }

    /// The consumer is gone: every message it held unsettled goes back to the queue, by sequence,
    /// so in the order it was sent, ahead of every message never delivered. Those that went out
    /// count a failed attempt; those still waiting for the session window never reached it.
    func returnUnsettled(of consumer: BrokerConsumer) {
        let held = consumer.unsettled.values
        let sent = held.filter { $0.delivery.hasBeenSent }.map(\.sequence)
        let unsent = held.filter { !$0.delivery.hasBeenSent }.map(\.sequence)
        let id = consumer.waiter.id
        if !sent.isEmpty { wakeConsumers(consumer.queue.settle(sent, .consumerGone, by: id).consumers) }
        if !unsent.isEmpty { wakeConsumers(consumer.queue.settle(unsent, .notSent(refuse: false), by: id).consumers) }
    }

    /// Tells consumers, each in its own connection's sequence, that their queue has messages.
    func wakeConsumers(_ waiters: [QueueWaiter]) {
        for w in waiters {
            w.workQueue.add { c in (c.handler as? BrokerConnection)?.sendAvailable(c, w.id) }
        }
    }
}

import AMQPCodec
import AMQPEngine
import AMQPMessaging

/// One connection of a ``Broker``: its producers (links the peer sends on, our receivers) feed
/// queues, its consumers (our senders) drain them. Called in the connection's sequence only.
final class BrokerConnection: MessagingHandler {
    let broker: Broker
    private var producers: [ObjectIdentifier: Producer] = [:]
    private var consumers: [ObjectIdentifier: (link: Link, queue: BrokerQueue)] = [:]

    /// A link the peer sends on. `outstanding` is credit granted and not yet used by a message this
    /// handler has seen: the engine counts a transfer against credit as soon as it reads the frame,
    /// before its delivery event reaches us, so its own count runs ahead of the queue's.
    private struct Producer {
        let link: Link
        let queue: BrokerQueue
        var outstanding = 0
    }

    init(broker: Broker) { self.broker = broker }

    func onConnectionOpen(_ c: MessagingConnection) {
        var options = ReceiverOptions()
        options.creditWindow = 0   // granted by hand, as the queue has room
        options.rawMessages = true
        c.incomingReceiverOptions = options
    }

    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
        guard let address = receiver.remoteAttach?.target?.target?.address else {
            receiver.close(AMQPError(condition: ErrorCondition.invalidField, description: "a producer must name a target address"))
            return
        }
        let queue = broker.queue(address)
        producers[ObjectIdentifier(receiver)] = Producer(link: receiver, queue: queue)
        grantCredit(c, ObjectIdentifier(receiver))
    }

    /// A consumer asking for a dynamic node (a reply-to queue) gets a fresh queue, named in our attach.
    func onLinkAttaching(_ c: MessagingConnection, _ link: Link) {
        if link.role == .sender, link.remoteAttach?.source?.dynamic == true {
            link.localSource?.address = broker.dynamicName()
        }
    }

    func onSenderOpen(_ c: MessagingConnection, _ sender: Link) {
        guard let address = sender.localSource?.address else {
            sender.close(AMQPError(condition: ErrorCondition.invalidField, description: "a consumer must name a source address"))
            return
        }
        consumers[ObjectIdentifier(sender)] = (sender, broker.queue(address))
    }

    func onSendable(_ c: MessagingConnection, _ sender: Link) { sendAvailable(c, ObjectIdentifier(sender)) }

    func onRawMessage(_ c: MessagingConnection, _ delivery: Delivery, _ bytes: ArraySlice<UInt8>) {
        let key = ObjectIdentifier(delivery.link)
        guard let queue = producers[key]?.queue else { return }
        producers[key]?.outstanding -= 1
        for consumer in queue.push(Array(bytes)) {
            consumer.workQueue.add { c in (c.handler as? BrokerConnection)?.sendAvailable(c, consumer.link) }
        }
        if let p = producers[key], p.outstanding < Int(broker.creditWindow / 2) { grantCredit(c, key) }
    }

    /// Sends what the queue has, up to the consumer's credit; waits on the queue for the rest.
    func sendAvailable(_ c: MessagingConnection, _ key: ObjectIdentifier) {
        guard let (sender, queue) = consumers[key], sender.localState == .active, sender.credit > 0 else { return }
        let (messages, producers) = queue.pop(max: Int(sender.credit), orWait: QueueWaiter(workQueue: c.workQueue, link: key))
        for m in messages { sender.send(m) }
        for p in producers {
            p.workQueue.add { c in (c.handler as? BrokerConnection)?.grantCredit(c, p.link) }
        }
    }

    /// Tops a producer's credit up to the window, as far as its queue has room; with none, waits.
    func grantCredit(_ c: MessagingConnection, _ key: ObjectIdentifier) {
        guard let p = producers[key], p.link.localState == .active else { return }
        // Credit only for room the queue promises, so it never holds more than its limit however
        // many producers feed it.
        let want = Int(broker.creditWindow) - p.outstanding
        guard want > 0 else { return }
        let granted = p.queue.reserve(upTo: want, for: QueueWaiter(workQueue: c.workQueue, link: key))
        guard granted > 0 else { return }
        p.link.flow(credit: UInt32(granted))
        producers[key]?.outstanding += granted
    }

    func onSenderClose(_ c: MessagingConnection, _ sender: Link) { forget(c, sender) }
    func onReceiverClose(_ c: MessagingConnection, _ receiver: Link) { forget(c, receiver) }

    func onTransportClose(_ c: MessagingConnection) {
        for (key, entry) in producers {
            entry.queue.forget(key, of: c.workQueue)
            entry.queue.unreserve(entry.outstanding)
        }
        for (key, entry) in consumers { entry.queue.forget(key, of: c.workQueue) }
        producers = [:]
        consumers = [:]
    }

    private func forget(_ c: MessagingConnection, _ link: Link) {
        let key = ObjectIdentifier(link)
        if let e = producers.removeValue(forKey: key) {
            e.queue.forget(key, of: c.workQueue)
            e.queue.unreserve(e.outstanding)
        }
        if let e = consumers.removeValue(forKey: key) { e.queue.forget(key, of: c.workQueue) }
    }
}

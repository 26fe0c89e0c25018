import AMQPCodec
import AMQPEngine
import AMQPMessaging
import Logging

/// One connection of a ``Broker``: its producers (links the peer sends on, our receivers) feed
/// queues, its consumers (our senders) drain them. Called in the connection's sequence only.
///
/// This file holds the links' lifecycle: attach, and the three ways a link goes (its detach, its
/// session's end, the connection's loss), which all give its unsettled messages back to the
/// queue. `+Consumers` sends and settles; `+Producers` receives and grants credit.
final class BrokerConnection: MessagingHandler {
    let broker: Broker
    var producers: [UInt64: BrokerProducer] = [:]
    var consumers: [UInt64: BrokerConsumer] = [:]
    /// The broker's id of each of our links that is a producer or a consumer.
    var linkIDs: [ObjectIdentifier: UInt64] = [:]
    /// Dynamic queues made for links the peer attached and we have not answered yet.
    private var madeQueues: [ObjectIdentifier: BrokerQueue] = [:]

    init(broker: Broker) { self.broker = broker }

    /// Logs who connected (at `.info`: `amqp.identity`, `amqp.sasl.mechanism`, and the TLS client
    /// certificate's `amqp.tls.subject`), never a password.
    func onConnectionOpen(_ c: MessagingConnection) {
        var metadata: Logger.Metadata = ["amqp.identity": "\(c.authenticatedIdentity ?? "none")",
                                         "amqp.sasl.mechanism": "\(c.saslMechanism ?? "none")",
                                         "amqp.tls": "\(c.isSecure)"]
        if let subject = c.peerCertificateSubject { metadata["amqp.tls.subject"] = "\(subject)" }
        c.logger.info("client connected", metadata: metadata)
        var options = ReceiverOptions()
        options.creditWindow = 0   // granted by hand, as the queue has room
        options.rawMessages = true
        c.incomingReceiverOptions = options
    }

    /// Before our attach answers the peer's: a consumer that asks for pre-settled transfers gets
    /// them, one that asks for a dynamic node gets a fresh queue named in our attach, and a
    /// producer learns the largest message it may send. Our source says what a consumer really
    /// gets (§3.5.3): no filter, and `move`, whatever it asked for.
    func onLinkAttaching(_ c: MessagingConnection, _ link: Link) {
        if link.role == .sender {
            if link.remoteAttach?.sndSettleMode == .settled { link.senderSettleMode = .settled }
            link.localSource?.filter = nil
            if link.localSource?.distributionMode != nil { link.localSource?.distributionMode = StandardSymbols.move }
            if link.remoteAttach?.source?.dynamic == true {
                let queue = broker.makeDynamicQueue()
                madeQueues[ObjectIdentifier(link)] = queue
                link.localSource?.address = queue.name
            }
        } else if let max = broker.maxMessageSize {
            link.maxMessageSize = max
        }
    }

    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
        guard let address = receiver.remoteAttach?.target?.target?.address else {
            return receiver.close(AMQPError(condition: ErrorCondition.invalidField, description: "a producer must name a target address"))
        }
        guard let (queue, waiter) = attach(c, receiver, to: broker.queue(address), address) else { return }
        producers[waiter.id] = BrokerProducer(link: receiver, queue: queue, waiter: waiter)
        grantCredit(c, waiter.id)
    }

    func onSenderOpen(_ c: MessagingConnection, _ sender: Link) {
        let made = madeQueues.removeValue(forKey: ObjectIdentifier(sender))
        guard let address = sender.localSource?.address else {
            return sender.close(AMQPError(condition: ErrorCondition.invalidField, description: "a consumer must name a source address"))
        }
        guard let (queue, waiter) = attach(c, sender, to: made ?? broker.queue(address), address) else { return }
        consumers[waiter.id] = BrokerConsumer(link: sender, queue: queue, waiter: waiter,
                                              presettled: sender.senderSettleMode == .settled, ownsQueue: made != nil)
        sendAvailable(c, waiter.id)
    }

    /// Gives `link` an id and records it on `queue`; closes it with `amqp:not-found` when there is
    /// no such queue (a dynamic queue's name, not or no longer there).
    private func attach(_ c: MessagingConnection, _ link: Link, to queue: BrokerQueue?, _ address: String) -> (BrokerQueue, QueueWaiter)? {
        let waiter = QueueWaiter(workQueue: c.workQueue, id: broker.nextLinkID())
        guard let queue, queue.attach(waiter) else {
            link.close(AMQPError(condition: ErrorCondition.notFound, description: "no queue \(address)"))
            return nil
        }
        linkIDs[ObjectIdentifier(link)] = waiter.id
        return (queue, waiter)
    }

    func onSenderClose(_ c: MessagingConnection, _ sender: Link) { forget(sender) }
    func onReceiverClose(_ c: MessagingConnection, _ receiver: Link) { forget(receiver) }

    /// The peer's end detaches the session's links without a detach event for each (§2.5.5).
    func onSessionClose(_ c: MessagingConnection, _ session: Session) {
        let gone = producers.values.map(\.link).filter { $0.session === session }
            + consumers.values.map(\.link).filter { $0.session === session }
        for link in gone { forget(link) }
    }

    func onTransportClose(_ c: MessagingConnection) {
        for link in producers.values.map(\.link) + consumers.values.map(\.link) { forget(link) }
    }

    /// Closes one of our links from the broker's side (its queue was deleted).
    func closeLink(_ id: UInt64, _ error: AMQPError) {
        guard let link = producers[id]?.link ?? consumers[id]?.link else { return }
        link.close(error)
        forget(link)
    }

    /// A link is gone: a producer's unused credit is given back; a consumer's unsettled messages
    /// go back to the queue, and the queue it made is deleted.
    private func forget(_ link: Link) {
        guard let id = linkIDs.removeValue(forKey: ObjectIdentifier(link)) else { return }
        if let p = producers.removeValue(forKey: id) {
            p.queue.detach(id)
            wakeProducers(p.queue.unreserve(p.outstanding))
        }
        if let consumer = consumers.removeValue(forKey: id) {
            consumer.queue.detach(id)
            returnUnsettled(of: consumer)
            if consumer.ownsQueue {
                let error = AMQPError(condition: ErrorCondition.resourceDeleted,
                                      description: "queue \(consumer.queue.name) was deleted: the link that made it closed")
                for w in broker.delete(consumer.queue) {
                    w.workQueue.add { c in (c.handler as? BrokerConnection)?.closeLink(w.id, error) }
                }
            }
        }
    }
}

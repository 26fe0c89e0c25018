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
    /// This connection's id in the broker (from the links' counter): the origin of what it
    /// publishes, which its no-local consumers skip.
    let id: UInt64
    var producers: [UInt64: BrokerProducer] = [:]
    var consumers: [UInt64: BrokerConsumer] = [:]
    /// The broker's id of each of our links that is a producer or a consumer.
    var linkIDs: [ObjectIdentifier: UInt64] = [:]
    /// What was settled for a link the peer attached, from our attach to its open: the dynamic
    /// queue made for it, a consumer's filter.
    private struct Pending {
        var queue: BrokerQueue?
        var filter: ConsumerFilter?
    }
    private var pending: [ObjectIdentifier: Pending] = [:]

    init(broker: Broker) {
        self.broker = broker
        id = broker.nextLinkID()
    }

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

    /// Before our attach answers the peer's, our terminus says what the link really gets
    /// (§3.5.3). A consumer that asks for pre-settled transfers gets them; its filters are
    /// applied and echoed (a selector, no-local; others are left out), and a selector that does
    /// not compile refuses the link with `amqp:invalid-field`; `copy` makes it a browser, any
    /// other distribution mode is answered `move`. A link that asks for a dynamic node (a
    /// consumer's source, a producer's target) gets a fresh queue named in our attach. A producer
    /// learns the largest message it may send.
    func onLinkAttaching(_ c: MessagingConnection, _ link: Link) {
        if link.role == .sender {
            let asked = link.remoteAttach?.source
            let parsed: ConsumerFilter.Parsed
            do { parsed = try ConsumerFilter.parse(asked?.filter, connection: id) } catch { return link.refuse(error.error) }
            if link.remoteAttach?.sndSettleMode == .settled { link.senderSettleMode = .settled }
            link.localSource?.filter = parsed.applied
            if asked?.distributionMode == StandardSymbols.copy {
                link.localSource?.distributionMode = StandardSymbols.copy
            } else if asked?.distributionMode != nil {
                link.localSource?.distributionMode = StandardSymbols.move
            }
            var p = Pending(filter: parsed.filter)
            if asked?.dynamic == true {
                p.queue = broker.makeDynamicQueue()
                link.localSource?.address = p.queue?.name
            }
            pending[ObjectIdentifier(link)] = p
        } else {
            if let max = broker.maxMessageSize { link.maxMessageSize = max }
            // A producer with no target at all is the relay too: our attach must still name a
            // target, or it would refuse the link (§2.6.3).
            if link.remoteAttach?.target == nil { link.localTarget = Target() }
            if case .target(let target)? = link.remoteAttach?.target, target.dynamic {
                let queue = broker.makeDynamicQueue()
                pending[ObjectIdentifier(link)] = Pending(queue: queue)
                link.localTarget?.address = queue.name
            }
        }
    }

    /// A producer: to its target's queue (made on first use), to the dynamic queue made for it, or,
    /// with no target address, the anonymous relay.
    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
        let made = pending.removeValue(forKey: ObjectIdentifier(receiver))?.queue
        guard receiver.localState == .active else { return }
        if case .coordinator? = receiver.remoteAttach?.target {
            return receiver.close(AMQPError(condition: ErrorCondition.notImplemented, description: "the broker has no transaction coordinator"))
        }
        guard let address = made?.name ?? receiver.remoteAttach?.target?.target?.address else {
            let waiter = QueueWaiter(workQueue: c.workQueue, id: broker.nextLinkID())
            linkIDs[ObjectIdentifier(receiver)] = waiter.id
            producers[waiter.id] = BrokerProducer(link: receiver, queue: nil, waiter: waiter, ownsQueue: false)
            return grantCredit(c, waiter.id)
        }
        guard let (queue, waiter) = attach(c, receiver, to: made ?? broker.queue(address), address) else { return }
        producers[waiter.id] = BrokerProducer(link: receiver, queue: queue, waiter: waiter, ownsQueue: made != nil)
        grantCredit(c, waiter.id)
    }

    func onSenderOpen(_ c: MessagingConnection, _ sender: Link) {
        let p = pending.removeValue(forKey: ObjectIdentifier(sender))
        guard sender.localState == .active else { return }   // refused in onLinkAttaching
        guard let address = sender.localSource?.address else {
            return sender.close(AMQPError(condition: ErrorCondition.invalidField, description: "a consumer must name a source address"))
        }
        guard let (queue, waiter) = attach(c, sender, to: p?.queue ?? broker.queue(address), address) else { return }
        consumers[waiter.id] = BrokerConsumer(link: sender, queue: queue, waiter: waiter,
                                              presettled: sender.senderSettleMode == .settled, ownsQueue: p?.queue != nil,
                                              filter: p?.filter, browsing: sender.localSource?.distributionMode == StandardSymbols.copy)
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

    /// The queue of one of our links was deleted (a dynamic queue whose link closed). A consumer
    /// is detached with `error`, as nothing will ever come. A producer stays: each message it
    /// sends is rejected with `amqp:resource-deleted`, and it is given credit for them (a
    /// responder that keeps a sender per reply address, as Proton's server.cpp does, goes on
    /// serving other clients).
    func queueDeleted(_ c: MessagingConnection, _ id: UInt64, _ error: AMQPError) {
        if let link = consumers[id]?.link {
            link.close(error)
            forget(link)
        } else {
            grantCredit(c, id)
        }
    }

    /// A link is gone: a producer's unused credit is given back; a consumer's unsettled messages
    /// go back to the queue; the queue it made is deleted.
    private func forget(_ link: Link) {
        guard let id = linkIDs.removeValue(forKey: ObjectIdentifier(link)) else { return }
        if let p = producers.removeValue(forKey: id), let queue = p.queue {
            queue.detach(id)
            wakeProducers(queue.unreserve(p.outstanding))
            if p.ownsQueue { delete(queue) }
        }
        if let consumer = consumers.removeValue(forKey: id) {
            consumer.queue.detach(id)
            returnUnsettled(of: consumer)
            if consumer.ownsQueue { delete(consumer.queue) }
        }
    }

    /// Deletes a dynamic queue whose link closed, and tells the links still attached to it.
    private func delete(_ queue: BrokerQueue) {
        let error = AMQPError(condition: ErrorCondition.resourceDeleted,
                              description: "queue \(queue.name) was deleted: the link that made it closed")
        for w in broker.delete(queue) {
            w.workQueue.add { c in (c.handler as? BrokerConnection)?.queueDeleted(c, w.id, error) }
        }
    }
}

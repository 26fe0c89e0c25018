import AMQPCodec
import AMQPEngine

/// What an application does when things happen on its connections (Proton C++'s
/// `messaging_handler`). Every method has an empty default; implement the ones you need.
///
/// Calls for one connection come **in sequence**, never two at once, each on whichever container
/// thread holds that connection's events at the time, so a handler used by one connection needs no
/// locks: one handler per connection is the recommended pattern. A handler shared by several
/// connections is called concurrently for different connections and must guard what they share.
///
/// The engine objects passed in (connection, links, deliveries) belong to the connection: use
/// them only inside these calls or in work added to the connection's ``WorkQueue``.
public protocol MessagingHandler: AnyObject {
    /// The container's ``Container/run(threads:)`` began (container handler only).
    func onContainerStart(_ container: Container)
    /// ``Container/run(threads:)`` is about to return (container handler only).
    func onContainerStop(_ container: Container)

    /// The transport is up: the connection has a socket (client) or was accepted (server).
    func onTransportOpen(_ connection: MessagingConnection)
    /// The transport failed: a connect or IO error, or a protocol violation.
    func onTransportError(_ connection: MessagingConnection, _ error: AMQPError)
    /// The transport closed; nothing more happens on this connection (with reconnect: only once
    /// the container gives up or the application closed it; each drop before is a transport error).
    func onTransportClose(_ connection: MessagingConnection)
    /// Reconnect gave up for good (see ``ReconnectOptions``); ``onTransportClose(_:)`` follows.
    /// `error` says why: a refusal that retrying cannot fix, as the peer or the SASL exchange
    /// gave it (`amqp:unauthorized-access`, `amqp:not-found`), or, with the last drop's condition,
    /// a description that starts "gave up after N reconnect attempts" (``ReconnectOptions/maxAttempts``
    /// or ``ReconnectOptions/timeout``). Not called when the application closed the connection or
    /// the container stopped.
    func onReconnectStopped(_ connection: MessagingConnection, _ error: AMQPError)

    /// The peer's open arrived (in answer to ours, or first, on a server).
    func onConnectionOpen(_ connection: MessagingConnection)
    /// The peer closed the connection with an error (before ``onConnectionClose(_:)``).
    func onConnectionError(_ connection: MessagingConnection, _ error: AMQPError)
    /// The peer closed the connection.
    func onConnectionClose(_ connection: MessagingConnection)
    /// ``WorkQueue/wake()`` was called for this connection.
    func onConnectionWake(_ connection: MessagingConnection)

    /// The peer began a session.
    func onSessionOpen(_ connection: MessagingConnection, _ session: Session)
    /// The peer ended a session with an error (before ``onSessionClose(_:_:)``).
    func onSessionError(_ connection: MessagingConnection, _ session: Session, _ error: AMQPError)
    /// The peer ended a session.
    func onSessionClose(_ connection: MessagingConnection, _ session: Session)

    /// The peer attached a link we have not answered yet: its terminus is copied into ours, and
    /// this is the moment to change it (give a dynamic node its address) before the container
    /// answers with our attach.
    func onLinkAttaching(_ connection: MessagingConnection, _ link: Link)
    /// The peer attached a sending link of ours (answering ours, or one it opened to us).
    func onSenderOpen(_ connection: MessagingConnection, _ sender: Link)
    /// The peer detached a sender with an error (before ``onSenderClose(_:_:)``).
    func onSenderError(_ connection: MessagingConnection, _ sender: Link, _ error: AMQPError)
    /// The peer detached a sender.
    func onSenderClose(_ connection: MessagingConnection, _ sender: Link)
    /// The peer attached a receiving link of ours.
    func onReceiverOpen(_ connection: MessagingConnection, _ receiver: Link)
    /// The peer detached a receiver with an error (before ``onReceiverClose(_:_:)``).
    func onReceiverError(_ connection: MessagingConnection, _ receiver: Link, _ error: AMQPError)
    /// The peer detached a receiver.
    func onReceiverClose(_ connection: MessagingConnection, _ receiver: Link)

    /// A sender has credit: send while `sender.credit > 0`.
    func onSendable(_ connection: MessagingConnection, _ sender: Link)
    /// The receiver asked a sender to drain: send what is ready; the rest of the credit is
    /// given back once nothing is queued.
    func onSenderDrain(_ connection: MessagingConnection, _ sender: Link)

    /// A whole message arrived. With auto-accept (the default) it is accepted when this returns,
    /// unless the handler settled it itself; otherwise accept, reject or release it with
    /// ``Delivery/accept()`` or ``Delivery/update(_:settle:)``, now or later.
    func onMessage(_ connection: MessagingConnection, _ delivery: Delivery, _ message: Message)
    /// A whole message arrived on a receiver with ``ReceiverOptions/rawMessages``: its encoded
    /// bytes, not decoded (a broker forwards them as they are). Settled as ``onMessage(_:_:_:)`` is.
    func onRawMessage(_ connection: MessagingConnection, _ delivery: Delivery, _ bytes: ArraySlice<UInt8>)
    /// The peer settled a delivery we received.
    func onDeliverySettle(_ connection: MessagingConnection, _ delivery: Delivery)

    /// The peer accepted a message we sent (the delivery is its tracker).
    func onTrackerAccept(_ connection: MessagingConnection, _ tracker: Delivery)
    /// The peer rejected a message we sent (`tracker.remoteState` has its error), or the message
    /// could not be sent at all (`tracker.error`: larger than the peer accepts, or the link was gone).
    func onTrackerReject(_ connection: MessagingConnection, _ tracker: Delivery)
    /// The peer released or modified a message we sent: it was not processed.
    func onTrackerRelease(_ connection: MessagingConnection, _ tracker: Delivery)
    /// The peer settled a message we sent.
    func onTrackerSettle(_ connection: MessagingConnection, _ tracker: Delivery)
    /// The connection dropped before the peer settled a message we sent: it may or may not have
    /// arrived (certainly not if `!tracker.hasBeenSent`). Resend it if it must arrive; the
    /// message is the one the application sent (the tracker's payload is gone).
    func onTrackerFail(_ connection: MessagingConnection, _ tracker: Delivery, _ error: AMQPError)
}

extension MessagingHandler {
    public func onContainerStart(_ container: Container) {}
    public func onContainerStop(_ container: Container) {}
    public func onTransportOpen(_ connection: MessagingConnection) {}
    public func onTransportError(_ connection: MessagingConnection, _ error: AMQPError) {}
    public func onTransportClose(_ connection: MessagingConnection) {}
    public func onReconnectStopped(_ connection: MessagingConnection, _ error: AMQPError) {}
    public func onConnectionOpen(_ connection: MessagingConnection) {}
    public func onConnectionError(_ connection: MessagingConnection, _ error: AMQPError) {}
    public func onConnectionClose(_ connection: MessagingConnection) {}
    public func onConnectionWake(_ connection: MessagingConnection) {}
    public func onSessionOpen(_ connection: MessagingConnection, _ session: Session) {}
    public func onSessionError(_ connection: MessagingConnection, _ session: Session, _ error: AMQPError) {}
    public func onSessionClose(_ connection: MessagingConnection, _ session: Session) {}
    public func onLinkAttaching(_ connection: MessagingConnection, _ link: Link) {}
    public func onSenderOpen(_ connection: MessagingConnection, _ sender: Link) {}
    public func onSenderError(_ connection: MessagingConnection, _ sender: Link, _ error: AMQPError) {}
    public func onSenderClose(_ connection: MessagingConnection, _ sender: Link) {}
    public func onReceiverOpen(_ connection: MessagingConnection, _ receiver: Link) {}
    public func onReceiverError(_ connection: MessagingConnection, _ receiver: Link, _ error: AMQPError) {}
    public func onReceiverClose(_ connection: MessagingConnection, _ receiver: Link) {}
    public func onSendable(_ connection: MessagingConnection, _ sender: Link) {}
    public func onSenderDrain(_ connection: MessagingConnection, _ sender: Link) {}
    public func onMessage(_ connection: MessagingConnection, _ delivery: Delivery, _ message: Message) {}
    public func onRawMessage(_ connection: MessagingConnection, _ delivery: Delivery, _ bytes: ArraySlice<UInt8>) {}
    public func onDeliverySettle(_ connection: MessagingConnection, _ delivery: Delivery) {}
    public func onTrackerAccept(_ connection: MessagingConnection, _ tracker: Delivery) {}
    public func onTrackerReject(_ connection: MessagingConnection, _ tracker: Delivery) {}
    public func onTrackerRelease(_ connection: MessagingConnection, _ tracker: Delivery) {}
    public func onTrackerSettle(_ connection: MessagingConnection, _ tracker: Delivery) {}
    public func onTrackerFail(_ connection: MessagingConnection, _ tracker: Delivery, _ error: AMQPError) {}
}

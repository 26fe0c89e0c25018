import AMQPCodec

/// What happened on a connection, in the order it happened (Proton's `pn_event_type_t`).
///
/// `local` events follow a call made on this side; `remote` events follow a frame from the peer.
///
/// Threading: carries the connection's objects, so it stays on the connection's thread.
public enum AMQPEvent {
    /// The driver made its connection (first event).
    case connectionInit(Connection)
    /// The connection is bound to its transport: the driver (second event).
    case connectionBound(Connection)
    /// We opened the connection (§2.4.1, ``Connection/open()``).
    case connectionLocalOpen(Connection)
    /// The peer's open arrived (§2.7.1); answer with ``Connection/open()``.
    case connectionRemoteOpen(Connection)
    /// We closed the connection (§2.4.3).
    case connectionLocalClose(Connection)
    /// The peer's close arrived (§2.7.9); answer with ``Connection/close(_:)``.
    case connectionRemoteClose(Connection)
    /// We began a session (§2.5.1).
    case sessionLocalBegin(Session)
    /// The peer's begin arrived (§2.7.2): a new session, or the answer to ours.
    case sessionRemoteBegin(Session)
    /// We ended a session (§2.5.4).
    case sessionLocalEnd(Session)
    /// The peer's end arrived (§2.7.7); its links are over too. Answer with ``Session/end(_:)``.
    case sessionRemoteEnd(Session)
    /// We attached a link (§2.6.3).
    case linkLocalOpen(Link)
    /// The peer's attach arrived (§2.7.3): a new link, or the answer to ours.
    case linkRemoteOpen(Link)
    /// We detached a link without closing it (§2.6.5).
    case linkLocalDetach(Link)
    /// The peer detached a link without closing it (§2.7.6, closed=false).
    case linkRemoteDetach(Link)
    /// We closed a link (§2.6.6).
    case linkLocalClose(Link)
    /// The peer closed a link (§2.7.6, closed=true); answer with ``Link/close(_:)``.
    case linkRemoteClose(Link)
    /// Credit or drain changed on a link (§2.6.7, §2.7.4).
    case linkFlow(Link)
    /// A delivery arrived, grew, was aborted, or its remote state or settlement changed
    /// (§2.6.12, §2.7.5, §2.7.6); or, for a sender, it could not be sent (``Delivery/error``).
    case delivery(Delivery)
    /// The transport failed: a protocol violation, a bad frame, or a timeout. The connection
    /// closes with it (§2.8.15 conditions).
    // Boxed, so that every case is one reference and moving events costs no per-field copies.
    indirect case transportError(AMQPError)
    /// No more input will be read.
    case transportTailClosed
    /// No more output will be written.
    case transportHeadClosed
    /// Both directions are closed; the driver is finished.
    case transportClosed
    /// A backend woke this connection from another thread (``ConnectionDriver/wake()``).
    case connectionWake(Connection)
}

@available(*, unavailable)
extension AMQPEvent: Sendable {}

import AMQPCodec

/// What happened on a connection, in the order it happened (Proton's `pn_event_type_t`).
///
/// `local` events follow a call made on this side; `remote` events follow a frame from the peer.
///
/// Threading: carries the connection's objects, so it stays on the connection's thread.
public enum AMQPEvent {
    case connectionInit(Connection)
    case connectionBound(Connection)
    case connectionLocalOpen(Connection)
    case connectionRemoteOpen(Connection)
    case connectionLocalClose(Connection)
    case connectionRemoteClose(Connection)
    case sessionLocalBegin(Session)
    case sessionRemoteBegin(Session)
    case sessionLocalEnd(Session)
    case sessionRemoteEnd(Session)
    case linkLocalOpen(Link)
    case linkRemoteOpen(Link)
    case linkLocalDetach(Link)
    case linkRemoteDetach(Link)
    case linkLocalClose(Link)
    case linkRemoteClose(Link)
    /// Credit or drain changed on a link.
    case linkFlow(Link)
    /// A delivery arrived, grew, was aborted, or its remote state or settlement changed.
    case delivery(Delivery)
    /// The transport failed: a protocol violation, a bad frame, or a timeout.
    // Boxed, so that every case is one reference and moving events costs no per-field copies.
    indirect case transportError(AMQPError)
    /// No more input will be read.
    case transportTailClosed
    /// No more output will be written.
    case transportHeadClosed
    /// Both directions are closed; the driver is finished.
    case transportClosed
    /// A backend woke this connection from another thread.
    case connectionWake(Connection)
}

@available(*, unavailable)
extension AMQPEvent: Sendable {}

import AMQPEngine

/// Plays the cooperative peer application: it answers whatever the other side opens or closes in
/// kind, so a test or a benchmark only writes the part it is about.
///
/// - connection, session and link opens are answered with an open, a begin, or an attach whose
///   termini mirror the peer's;
/// - a receiving link gets ``initialCredit``;
/// - detaches, ends and closes are answered with the same.
///
/// Threading: a plain value type, `Sendable`; it acts on the driver it is given, on that driver's
/// thread.
public struct Responder: Sendable {
    /// Credit granted to each link the peer attaches as a sender (we receive); 0 grants none.
    public var initialCredit: UInt32

    /// A responder granting `initialCredit` to each link the peer attaches as a sender.
    public init(initialCredit: UInt32 = 0) { self.initialCredit = initialCredit }

    /// Answers `event` if it is an open or close of the peer's; returns whether it was one.
    @discardableResult
    public func respond(to event: AMQPEvent) -> Bool {
        switch event {
        case .connectionRemoteOpen(let c):
            c.open()
        case .connectionRemoteClose(let c):
            c.close()
        case .sessionRemoteBegin(let s):
            s.begin()
        case .sessionRemoteEnd(let s):
            s.end()
        case .linkRemoteOpen(let l):
            guard l.localState == .uninitialized else { return true }
            l.localSource = l.remoteAttach?.source
            l.localTarget = l.remoteAttach?.target?.target
            l.attach()
            if l.role == .receiver && initialCredit > 0 { l.flow(credit: initialCredit) }
        case .linkRemoteClose(let l):
            l.close()
        case .linkRemoteDetach(let l):
            l.detach()
        default:
            return false
        }
        return true
    }
}

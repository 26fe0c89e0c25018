import AMQPCodec
import AMQPEngine
import Logging

/// One connection of a container, as its handler sees it: the engine's connection, its work
/// queue, and the calls that open senders and receivers with messaging options.
///
/// Threading: not `Sendable`. It belongs to the connection's sequence: use it in handler calls
/// and in work from its ``workQueue``. Its stored properties are `@exclusivity(unchecked)`, as the
/// engine's are (see Connection.swift): only the thread holding the connection's batch touches
/// them, and no call into the handler happens while one of them is being modified.
public final class MessagingConnection {
    /// The container running this connection.
    public let container: Container
    /// The engine's connection; a new one after each reconnect.
    @exclusivity(unchecked) public private(set) var connection: Connection
    /// The URL this connection was opened with (client connections); nil for accepted ones.
    public let url: MessagingURL?
    /// Work for this connection from any thread.
    public let workQueue: WorkQueue
    /// The handler of this connection.
    public let handler: any MessagingHandler
    /// The container's logger with this connection's id and peer in its metadata.
    public let logger: Logger

    /// Options for receivers the peer opens to us (it attaches a sender): set them before it does,
    /// in ``MessagingHandler/onConnectionOpen(_:)`` at the latest.
    @exclusivity(unchecked) public var incomingReceiverOptions = ReceiverOptions()
    /// Options for senders the peer opens from us (it attaches a receiver).
    @exclusivity(unchecked) public var incomingSenderOptions = SenderOptions()

    @exclusivity(unchecked) var senderOptions: [ObjectIdentifier: SenderOptions] = [:] { didSet { lastSender = nil; lastAutoSettle = nil } }
    @exclusivity(unchecked) var receiverOptions: [ObjectIdentifier: ReceiverOptions] = [:] { didSet { lastReceiver = nil; lastHandling = nil } }
    // The last look-up of each: deliveries come in runs on one link, and hashing per delivery shows.
    @exclusivity(unchecked) private var lastSender: (ObjectIdentifier, SenderOptions)?
    @exclusivity(unchecked) private var lastReceiver: (ObjectIdentifier, ReceiverOptions)?
    @exclusivity(unchecked) private var lastHandling: (ObjectIdentifier, ReceiverHandling)?
    @exclusivity(unchecked) private var lastAutoSettle: (ObjectIdentifier, Bool)?

    /// Whether the container settles a sender's deliveries once their outcome is in; looked up
    /// per disposition, so cached as a plain value.
    func autoSettles(_ sender: Link) -> Bool {
        let key = ObjectIdentifier(sender)
        if let (k, b) = lastAutoSettle, k == key { return b }
        let b = senderOptions[key]?.autoSettle ?? true
        lastAutoSettle = (key, b)
        return b
    }

    func options(ofSender link: Link) -> SenderOptions? {
        let key = ObjectIdentifier(link)
        if let (k, o) = lastSender, k == key { return o }
        guard let o = senderOptions[key] else { return nil }
        lastSender = (key, o)
        return o
    }

    /// What the container does with each delivery of a receiver, without copying its options
    /// (their maps and strings) per message.
    func handling(ofReceiver link: Link) -> ReceiverHandling {
        let key = ObjectIdentifier(link)
        if let (k, h) = lastHandling, k == key { return h }
        let h = ReceiverHandling(receiverOptions[key] ?? ReceiverOptions())
        lastHandling = (key, h)
        return h
    }

    func options(ofReceiver link: Link) -> ReceiverOptions? {
        let key = ObjectIdentifier(link)
        if let (k, o) = lastReceiver, k == key { return o }
        guard let o = receiverOptions[key] else { return nil }
        lastReceiver = (key, o)
        return o
    }
    // Senders' deliveries whose outcome was reported and that are not settled yet.
    @exclusivity(unchecked) var reportedOutcomes: Set<ObjectIdentifier> = []
    // Set by the open timeout's work; the batch then fails the transport if the peer is still silent.
    @exclusivity(unchecked) var openTimedOut = false
    @exclusivity(unchecked) private var defaultSession: Session?
    @exclusivity(unchecked) private var linkCount = 0
    /// Senders of this connection, for reporting their unsettled deliveries when it drops.
    @exclusivity(unchecked) var senders: [Link] = []
    /// The application closed the connection: it is not reconnected.
    @exclusivity(unchecked) var closedByApplication = false

    /// True when ``connection`` is a reconnection: it replaced one that dropped (Proton C++'s
    /// `connection::reconnected()`). Read it in ``MessagingHandler/onConnectionOpen(_:)`` to tell a
    /// first open from a reopen (links to restore, state to resynchronise); it stays true for every
    /// later connection of this ``MessagingConnection``.
    @exclusivity(unchecked) public private(set) var isReconnect = false

    /// True once the transport of ``connection`` has closed: nothing done on it reaches the peer
    /// any more. Work run when the connection closes for good (see ``WorkQueue/add(_:)``) finds it
    /// true; a reconnect's next connection sets it back to false.
    @exclusivity(unchecked) public internal(set) var isTransportClosed = false

    /// Who the peer authenticated as with SASL, on connections a listener accepted: the username
    /// for SCRAM and PLAIN, the TLS client certificate's subject (or what the credential store
    /// maps it to) for EXTERNAL, `"anonymous"` (``AMQPSASL/SASLServerOptions/anonymousIdentity``)
    /// for ANONYMOUS; nil when the client skipped SASL (allowed only with ANONYMOUS), and on
    /// client connections. Known from ``MessagingHandler/onConnectionOpen(_:)`` on (a client
    /// opens only after SASL succeeds), so a handler can authorize there and in every later call.
    @exclusivity(unchecked) public internal(set) var authenticatedIdentity: String?

    /// The SASL mechanism used (`SCRAM-SHA-512`, `PLAIN`, `EXTERNAL`, `ANONYMOUS`…), on either
    /// side; nil without SASL. Known from ``MessagingHandler/onConnectionOpen(_:)`` on.
    @exclusivity(unchecked) public internal(set) var saslMechanism: String?

    /// On connections a TLS listener accepted: the subject of the client's verified certificate,
    /// as an RFC 4514 string with the most specific attribute first (`CN=client,O=Example`), the
    /// identity SASL EXTERNAL uses; nil without a client certificate. Known from
    /// ``MessagingHandler/onConnectionOpen(_:)`` on.
    @exclusivity(unchecked) public internal(set) var peerCertificateSubject: String?

    /// Whether the connection runs over TLS (an `amqps://` URL or listener). Known from
    /// ``MessagingHandler/onTransportOpen(_:)`` on.
    @exclusivity(unchecked) public internal(set) var isSecure = false

    /// What the container saw of this connection, to tell what its end means (reconnect).
    @exclusivity(unchecked) var facts = ConnectionFacts()

    // Messages each sender had sent when last counted (amqp_messages_sent).
    @exclusivity(unchecked) var sentCounted: [ObjectIdentifier: UInt32] = [:]

    init(container: Container, connection: Connection, url: MessagingURL?, workQueue: WorkQueue, handler: any MessagingHandler,
         logger: Logger) {
        self.logger = logger
        self.container = container
        self.connection = connection
        self.url = url
        self.workQueue = workQueue
        self.handler = handler
    }

    /// The session senders and receivers open on unless given one: begun on first use.
    public var session: Session {
        if let s = defaultSession, !s.isReleased, s.localState != .closed { return s }
        let s = connection.session()
        s.begin()
        defaultSession = s
        return s
    }

    /// Opens a sender to `address` (nil: the URL's address).
    @discardableResult
    public func openSender(_ address: String? = nil, options: SenderOptions = SenderOptions(), on session: Session? = nil) -> Link {
        let link = (session ?? self.session).sender(name: options.name ?? nextName("sender"), target: address ?? url?.address)
        link.senderSettleMode = options.deliveryMode == .atMostOnce ? .settled : .unsettled
        if let caps = options.targetCapabilities { link.localTarget?.capabilities = caps }
        link.localTarget?.durable = options.durable
        link.localTarget?.expiryPolicy = options.expiryPolicy
        senderOptions[ObjectIdentifier(link)] = options
        senders.append(link)
        link.attach()
        return link
    }

    /// Opens a receiver from `address` (nil: the URL's address), granting its credit window.
    @discardableResult
    public func openReceiver(_ address: String? = nil, options: ReceiverOptions = ReceiverOptions(), on session: Session? = nil) -> Link {
        let link = (session ?? self.session).receiver(name: options.name ?? nextName("receiver"), source: options.dynamic ? nil : (address ?? url?.address))
        if options.dynamic { link.localSource?.dynamic = true }
        if let filter = options.filter { link.localSource?.filter = filter }
        link.localSource?.durable = options.durable
        link.localSource?.expiryPolicy = options.expiryPolicy
        if let mode = options.distributionMode { link.localSource?.distributionMode = mode }
        link.senderSettleMode = options.deliveryMode == .atMostOnce ? .settled : .unsettled
        receiverOptions[ObjectIdentifier(link)] = options
        link.attach()
        if options.creditWindow > 0 { link.flow(credit: options.creditWindow) }
        return link
    }

    /// Closes the connection, with an error for the peer if given. Called from a handler, the
    /// close goes out when the handler returns, after what the container does then (the
    /// auto-accept of the message being handled), so closing after the last message loses nothing.
    public func close(_ error: AMQPError? = nil) {
        closedByApplication = true
        if inHandler { pendingClose = .some(error) } else { connection.close(error) }
    }

    // Set while the container calls into the handler or runs work.
    @exclusivity(unchecked) var inHandler = false
    @exclusivity(unchecked) var pendingClose: AMQPError??

    /// Applies a close asked for during the last handler call.
    func closeIfAsked() {
        guard let error = pendingClose else { return }
        pendingClose = nil
        connection.close(error)
    }

    /// After a reconnect: the new engine connection, and nothing of the old one's links.
    func rebind(to connection: Connection) {
        self.connection = connection
        defaultSession = nil
        senders = []
        sentCounted = [:]
        senderOptions = [:]
        receiverOptions = [:]
        reportedOutcomes = []
        openTimedOut = false
        facts = ConnectionFacts()
        authenticatedIdentity = nil
        saslMechanism = nil
        peerCertificateSubject = nil
        isTransportClosed = false
        isReconnect = true
    }

    /// Reports every delivery of its senders that the peer had not settled as failed.
    func failUnsettled(_ error: AMQPError) {
        for sender in senders {
            for tracker in sender.unsettledDeliveries { handler.onTrackerFail(self, tracker, error) }
        }
    }

    /// Messages sent since the last call (transfers begun on every sender).
    func newlySent() -> Int {
        var n = 0
        for s in senders {
            let key = ObjectIdentifier(s)
            let last = sentCounted[key] ?? 0
            n += Int(s.deliveryCount &- last)
            sentCounted[key] = s.deliveryCount
        }
        return n
    }

    private func nextName(_ kind: String) -> String {
        linkCount += 1
        return "\(container.id)-\(kind)-\(linkCount)"
    }
}

@available(*, unavailable)
extension MessagingConnection: Sendable {}

/// The part of ``ReceiverOptions`` the container reads per delivery: plain values.
struct ReceiverHandling {
    let creditWindow: UInt32
    let autoAccept: Bool
    let rawMessages: Bool

    init(_ o: ReceiverOptions) {
        creditWindow = o.creditWindow
        autoAccept = o.autoAccept
        rawMessages = o.rawMessages
    }
}

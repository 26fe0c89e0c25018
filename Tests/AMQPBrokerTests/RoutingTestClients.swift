import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem

/// A message for ``ScriptedProducer``: its `id` (an application property, as ``Received`` reads
/// it), more application properties, and a `to` for the anonymous relay.
struct ScriptedMessage: Sendable {
    var id: String
    var properties: [String: AMQPValue] = [:]
    var to: String?

    var message: Message {
        var m = Message(value: .string("body of \(id)"))
        var map: AMQPMap = ["id": .string(id)]
        for (k, v) in properties.sorted(by: { $0.key < $1.key }) { map[.string(k)] = v }
        m.applicationProperties = map
        if let to { m.properties = Properties(to: to) }
        return m
    }
}

/// Sends a list of messages on one sender and records each one's outcome in order:
/// `accepted`, or `rejected <condition>: <description>`. The target is an address, none (the
/// anonymous relay) or a dynamic node; the link stays attached until ``closeLink`` is called.
final class ScriptedProducer: MessagingHandler {
    enum Target: Sendable { case address(String), relay, dynamic }

    let target: Target
    let messages: [ScriptedMessage]
    /// Each message's outcome, in message order (nil until it is settled).
    let outcomes: LockedValue<[String?]>
    /// Errors the broker detached the sender with.
    let errors = LockedValue<[AMQPError]>([])
    /// The target of the broker's attach (a dynamic node's address).
    let remoteTarget = LockedValue<AMQPCodec.Target?>(nil)
    /// The capabilities the broker's open offered.
    let offered = LockedValue<[Symbol]?>(nil)
    private var next = 0
    private var sent: [ObjectIdentifier: Int] = [:]
    private var sender: Link?

    init(_ target: Target, _ messages: [ScriptedMessage]) {
        self.target = target
        self.messages = messages
        self.outcomes = LockedValue(Array(repeating: nil, count: messages.count))
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        offered.withLock { $0 = c.connection.remoteOpen?.offeredCapabilities }
        switch target {
        case .address(let a): sender = c.openSender(a)
        case .relay: sender = c.openSender(nil)
        case .dynamic:
            let link = c.session.sender(name: "dynamic-sender", target: nil)
            link.localTarget?.dynamic = true
            link.senderSettleMode = .unsettled
            link.attach()
            sender = link
        }
    }

    func onSenderOpen(_ c: MessagingConnection, _ sender: Link) {
        remoteTarget.withLock { $0 = sender.remoteAttach?.target?.target }
    }

    /// Set before connecting: the messages wait until ``release()``.
    var held = false

    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        while !held && sender.credit > 0 && next < messages.count {
            sent[ObjectIdentifier(sender.send(messages[next].message))] = next
            next += 1
        }
    }

    /// Sends the messages held (run in the connection's sequence, from its work queue).
    func release(_ c: MessagingConnection) {
        held = false
        if let sender { onSendable(c, sender) }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) { record(tracker, "accepted") }

    func onTrackerReject(_ c: MessagingConnection, _ tracker: Delivery) {
        var error = tracker.error
        if error == nil, case .rejected(let r)? = tracker.remoteState { error = r.error }
        record(tracker, "rejected \(error?.condition.rawValue ?? "-"): \(error?.description ?? "-")")
    }

    func onTrackerRelease(_ c: MessagingConnection, _ tracker: Delivery) { record(tracker, "released") }

    func onSenderError(_ c: MessagingConnection, _ sender: Link, _ error: AMQPError) { errors.withLock { $0.append(error) } }

    private func record(_ tracker: Delivery, _ outcome: String) {
        guard let i = sent.removeValue(forKey: ObjectIdentifier(tracker)) else { return }
        outcomes.withLock { $0[i] = outcome }
    }

    /// Closes the sender (run in the connection's sequence, from its work queue).
    func closeLink() { sender?.close() }
}

/// One connection that consumes from `address` with the no-local filter and publishes `own`
/// there: it must receive only what other connections publish.
final class NoLocalClient: MessagingHandler {
    let address: String
    let own: [ScriptedMessage]
    let seen: LockedValue<[Received]>
    let accepted = LockedValue(0)
    let remoteSource = LockedValue<Source?>(nil)
    private var next = 0

    init(address: String, own: [ScriptedMessage], seen: LockedValue<[Received]>) {
        self.address = address
        self.own = own
        self.seen = seen
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        var options = ReceiverOptions()
        options.filter = [.symbol("no-local"): .described(descriptor: .symbol("apache.org:no-local-filter:list"), value: .list([]))]
        c.openReceiver(address, options: options)
        c.openSender(address)
    }

    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) { remoteSource.withLock { $0 = receiver.remoteAttach?.source } }

    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        while sender.credit > 0 && next < own.count {
            sender.send(own[next].message)
            next += 1
        }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) { accepted.withLock { $0 += 1 } }

    func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
        seen.withLock { $0.append(Received(message)) }
    }
}

/// The selector filter entry a consumer asks for, keyed as Proton's `Selector` option keys it.
func selectorFilter(_ text: String) -> AMQPMap {
    [.symbol("selector"): .described(descriptor: .symbol("apache.org:selector-filter:string"), value: .string(text))]
}

/// `count` messages m-0, m-1, …: even ones `colour` green, odd ones red, each with `n` = its index.
func colouredMessages(_ count: Int, prefix: String = "m") -> [ScriptedMessage] {
    (0..<count).map { i in
        ScriptedMessage(id: "\(prefix)-\(i)", properties: ["colour": .string(i % 2 == 0 ? "green" : "red"), "n": .long(Int64(i))])
    }
}

import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem

/// What a test consumer saw of one message: its id and the redelivery marks of its header.
struct Received: Sendable, Equatable, CustomStringConvertible {
    let id: String
    let deliveryCount: UInt32
    let firstAcquirer: Bool
    var description: String { "\(id)#\(deliveryCount)\(firstAcquirer ? "F" : "")" }

    init(id: String, deliveryCount: UInt32 = 0, firstAcquirer: Bool = false) {
        self.id = id
        self.deliveryCount = deliveryCount
        self.firstAcquirer = firstAcquirer
    }

    init(_ message: Message) {
        if case .string(let s)? = message.applicationProperties?[string: "id"] { id = s } else { id = "?" }
        deliveryCount = message.header?.deliveryCount ?? 0
        firstAcquirer = message.header?.firstAcquirer ?? false
    }
}

/// Sends messages whose application property `id` is `"\(prefix)-\(i)"`, for i in 0..<count, then
/// closes its connection once all are accepted.
final class TestProducer: MessagingHandler {
    let address: String
    let ids: [String]
    let accepted: LockedValue<[String]>
    /// Errors the broker detached the sender with, and why messages were rejected or not sent.
    let errors = LockedValue<[AMQPError]>([])
    private var next = 0
    private var inFlight: [ObjectIdentifier: String] = [:]

    /// Bytes of padding in each body.
    let bodySize: Int

    init(address: String, prefix: String, count: Int, accepted: LockedValue<[String]>, bodySize: Int = 0) {
        self.address = address
        self.ids = (0..<count).map { "\(prefix)-\($0)" }
        self.accepted = accepted
        self.bodySize = bodySize
    }

    /// Set once the broker answered the sender's attach.
    let opened = LockedValue(false)

    func onConnectionOpen(_ c: MessagingConnection) { c.openSender(address) }

    func onSenderOpen(_ c: MessagingConnection, _ sender: Link) { opened.withLock { $0 = true } }

    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        while sender.credit > 0 && next < ids.count {
            var m = bodySize > 0 ? Message(data: Binary([UInt8](repeating: 0x2a, count: bodySize))) : Message(value: .string("body of \(ids[next])"))
            m.applicationProperties = ["id": .string(ids[next])]
            inFlight[ObjectIdentifier(sender.send(m))] = ids[next]
            next += 1
        }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) {
        guard let id = inFlight.removeValue(forKey: ObjectIdentifier(tracker)) else { return }
        let all = accepted.withLock { a in a.append(id); return a.count }
        if all == ids.count { c.close() }
    }

    func onSenderError(_ c: MessagingConnection, _ sender: Link, _ error: AMQPError) { errors.withLock { $0.append(error) } }

    func onTrackerReject(_ c: MessagingConnection, _ tracker: Delivery) {
        var error = tracker.error
        if error == nil, case .rejected(let r)? = tracker.remoteState { error = r.error }
        errors.withLock { $0.append(error ?? AMQPError(condition: "rejected without an error")) }
    }
}

/// A consumer of one address that settles each message as `outcome` says (nil leaves it
/// unsettled) and, once it has `finishAfter` messages, closes its connection, its link or its
/// session, or goes on.
final class TestConsumer: MessagingHandler {
    enum Finish: Sendable { case goOn, closeConnection, closeLink, endSession }

    let address: String
    let credit: UInt32?
    let outcome: @Sendable (Received) -> DeliveryState?
    let finishAfter: Int
    let finish: Finish
    let seen: LockedValue<[Received]>
    /// Every message whole, when a test wants more than ``Received``.
    var messages: LockedValue<[Message]>?
    /// The receiver's options beyond credit and settling (at-most-once, a dynamic source).
    var options = ReceiverOptions()
    /// The source of the broker's attach: what it gives (a dynamic node's address, the filter and
    /// distribution mode in force).
    let remoteSource = LockedValue<Source?>(nil)
    /// Settle each message with no outcome at all (the broker then applies the source's default).
    var settleWithoutOutcome = false
    private var count = 0

    /// - Parameter credit: granted once, by hand; nil keeps a window of 10 open.
    init(address: String, credit: UInt32? = nil, finishAfter: Int = .max, finish: Finish = .goOn,
         seen: LockedValue<[Received]>, outcome: @escaping @Sendable (Received) -> DeliveryState? = { _ in .accepted }) {
        self.address = address
        self.credit = credit
        self.finishAfter = finishAfter
        self.finish = finish
        self.seen = seen
        self.outcome = outcome
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        var options = self.options
        options.autoAccept = false
        if let credit { options.creditWindow = 0; c.openReceiver(address, options: options).flow(credit: credit) }
        else { c.openReceiver(address, options: options) }
    }

    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
        remoteSource.withLock { $0 = receiver.remoteAttach?.source }
    }

    /// Errors the broker detached the receiver with.
    let errors = LockedValue<[AMQPError]>([])
    func onReceiverError(_ c: MessagingConnection, _ receiver: Link, _ error: AMQPError) { errors.withLock { $0.append(error) } }

    func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
        let r = Received(message)
        seen.withLock { $0.append(r) }
        messages?.withLock { $0.append(message) }
        if settleWithoutOutcome { delivery.settle() }
        else if let state = outcome(r) { delivery.update(state, settle: true) }
        count += 1
        guard count == finishAfter else { return }
        switch finish {
        case .goOn: break
        case .closeConnection: c.close()
        case .closeLink: delivery.link.close()
        case .endSession: delivery.link.session.end()
        }
    }
}

import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem

/// The chaos test's producer on our container: sends `prefix-0`, `prefix-1`, ... (up to 10 every
/// 10 ms) until `stopAt`, through a connection that reconnects when the proxy cuts it. What was
/// not settled at a cut is sent again (noted in the ledger when it may have arrived); once every
/// message is accepted after `stopAt`, it closes and sets `done`.
final class ChaosProducer: MessagingHandler {
    let address: String
    let prefix: String
    let ledger: ChaosLedger
    let stopAt: ContinuousClock.Instant
    let done = LockedValue(false)
    private var sender: Link?
    private var next = 0
    /// Ids to send again, first.
    private var again: [String] = []
    /// Holding the tracker keeps its `ObjectIdentifier` from being reused while it is a key.
    private var inFlight: [ObjectIdentifier: (tracker: Delivery, id: String)] = [:]
    private var ticking = false

    init(address: String, prefix: String, ledger: ChaosLedger, stopAt: ContinuousClock.Instant) {
        self.address = address
        self.prefix = prefix
        self.ledger = ledger
        self.stopAt = stopAt
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        sender = c.openSender(address)
        if !ticking {
            ticking = true
            tick(c)
        }
    }

    func tick(_ c: MessagingConnection) {
        let sending = ContinuousClock.now < stopAt
        if let s = sender, s.localState == .active {
            var budget = 10
            while s.credit > 0 && budget > 0 && (!again.isEmpty || sending) {
                let id: String
                if again.isEmpty {
                    id = "\(prefix)-\(next)"
                    next += 1
                    ledger.sent()
                } else {
                    id = again.removeFirst()
                }
                var m = Message(value: .string("body of \(id)"))
                m.applicationProperties = ["id": .string(id)]
                let t = s.send(m)
                inFlight[ObjectIdentifier(t)] = (t, id)
                budget -= 1
            }
        }
        if !sending && again.isEmpty && inFlight.isEmpty {
            done.withLock { $0 = true }
            c.close()
            return
        }
        c.workQueue.schedule(after: .milliseconds(10)) { c in (c.handler as? ChaosProducer)?.tick(c) }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) {
        guard let (_, id) = inFlight.removeValue(forKey: ObjectIdentifier(t)) else { return }
        ledger.accepted(id)
    }

    func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) { sendAgain(t) }
    func onTrackerRelease(_ c: MessagingConnection, _ t: Delivery) { sendAgain(t) }

    /// The connection dropped before the outcome: the message may have reached the broker.
    func onTrackerFail(_ c: MessagingConnection, _ t: Delivery, _ error: AMQPError) {
        guard let (_, id) = inFlight[ObjectIdentifier(t)] else { return }
        if t.hasBeenSent { ledger.resent(id) }
        sendAgain(t)
    }

    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { sender = nil }

    private func sendAgain(_ t: Delivery) {
        guard let (_, id) = inFlight.removeValue(forKey: ObjectIdentifier(t)) else { return }
        again.append(id)
    }
}

import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import XCTest

/// Outcomes, settlement modes, manual credit and terminus options, between a container's client
/// connection and its own listener (API semantics; interop is in ContainerInteropTests).
final class DeliverySemanticsTests: XCTestCase {
    struct Record: Sendable {
        var outcomes: [String] = []          // client: tracker events in order
        var serverSaw: [String] = []         // server: body and whether it arrived settled
        var targetDurable: TerminusDurability?
        var targetExpiry: TerminusExpiryPolicy?
        var sourceDistribution: Symbol?
        var manual: [String] = []            // client: messages on the manual-credit receiver
        var countAtSecond: UInt32?           // client: deliveries the receiver had when the second arrived
        var countAtEnd: UInt32?
        var errors: [String] = []
    }

    /// Settles each message as its body says; feeds the "manual" receiver 5 messages.
    final class Server: MessagingHandler {
        let record: LockedValue<Record>
        private var fed = 0
        init(_ record: LockedValue<Record>) { self.record = record }
        func onConnectionOpen(_ c: MessagingConnection) {
            var options = ReceiverOptions()
            options.autoAccept = false
            c.incomingReceiverOptions = options
        }
        func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
            guard let target = receiver.remoteAttach?.target?.target, target.address == "outcomes" else { return }
            record.withLock { $0.targetDurable = target.durable; $0.targetExpiry = target.expiryPolicy }
        }
        func onSenderOpen(_ c: MessagingConnection, _ sender: Link) {
            record.withLock { $0.sourceDistribution = sender.remoteAttach?.source?.distributionMode }
        }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            while sender.credit > 0 && fed < 5 {
                sender.send(Message(value: .string("manual \(fed)")))
                fed += 1
            }
        }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            guard case .value(.string(let body))? = m.body else { return }
            record.withLock { $0.serverSaw.append("\(body)\(d.remotelySettled ? " settled" : "")") }
            switch body {
            case "accept": d.accept()
            case "reject": d.update(.rejected(Rejected(error: AMQPError(condition: "test:no", description: "not this one"))), settle: true)
            case "release": d.update(.released, settle: true)
            default: if !d.remotelySettled { d.accept() }
            }
        }
    }

    final class Client: MessagingHandler {
        let record: LockedValue<Record>
        private var manual: Link?
        private var sentOutcomes = false
        init(_ record: LockedValue<Record>) { self.record = record }
        func onConnectionOpen(_ c: MessagingConnection) {
            var durable = SenderOptions()
            durable.durable = .configuration
            durable.expiryPolicy = .never
            c.openSender("outcomes", options: durable)
            var fire = SenderOptions()
            fire.deliveryMode = .atMostOnce
            c.openSender("fire", options: fire)
            var options = ReceiverOptions()
            options.creditWindow = 0
            options.distributionMode = "copy"
            manual = c.openReceiver("manual", options: options)
            manual?.flow(credit: 2)
        }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            if sender.localTarget?.address == "outcomes" && !sentOutcomes {
                sentOutcomes = true
                for body in ["accept", "reject", "release"] { sender.send(Message(value: .string(body))) }
            } else if sender.localTarget?.address == "fire" && sender.deliveryCount == 0 {
                let d = sender.send(Message(value: .string("fire")))
                record.withLock { $0.outcomes.append("fire settled at once: \(d.locallySettled)") }
            }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) { record.withLock { $0.outcomes.append("accepted") } }
        func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) {
            guard case .rejected(let r)? = t.remoteState else { return }
            record.withLock { $0.outcomes.append("rejected \(r.error?.condition.rawValue ?? "")") }
        }
        func onTrackerRelease(_ c: MessagingConnection, _ t: Delivery) { record.withLock { $0.outcomes.append("released") } }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            guard case .value(.string(let body))? = m.body else { return }
            let n = record.withLock { r in r.manual.append(body); return r.manual.count }
            if n == 2 { record.withLock { $0.countAtSecond = d.link.deliveryCount } }
            if n == 5 { record.withLock { $0.countAtEnd = d.link.deliveryCount } }
            // Manual credit: two first, then the other three once both arrived.
            if n == 2 { d.link.flow(credit: 3) }
            if n == 5 { c.close() }
        }
        func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { record.withLock { $0.errors.append(error.condition.rawValue) } }
        func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    }

    func testOutcomesModesCreditAndTerminusOptions() throws {
        let record = LockedValue(Record())
        let container = try Container(id: "semantics")
        let listener = try container.listen("amqp://127.0.0.1:0") { Server(record) }
        try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))", handler: Client(record))
        container.schedule(after: .seconds(30)) { container.stop() }
        try container.run(threads: 2)
        let r = record.withLock { $0 }
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.outcomes.filter { !$0.hasPrefix("fire") }, ["accepted", "rejected test:no", "released"])
        XCTAssertEqual(r.outcomes.filter { $0.hasPrefix("fire") }, ["fire settled at once: true"])
        XCTAssertEqual(r.serverSaw.sorted(), ["accept", "fire settled", "reject", "release"])
        XCTAssertEqual(r.manual, (0..<5).map { "manual \($0)" })
        XCTAssertEqual(r.countAtSecond, 2, "no more arrived than the 2 granted by hand")
        XCTAssertEqual(r.countAtEnd, 5, "then the 3 granted next")
        XCTAssertEqual(r.targetDurable, .configuration)
        XCTAssertEqual(r.targetExpiry, .never)
        XCTAssertEqual(r.sourceDistribution, "copy")
    }
}

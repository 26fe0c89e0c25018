import AMQPCodec
import AMQPEngine
import AMQPMessaging

/// The chaos test's consumer on our container: accepts everything, through a connection that
/// reconnects when the proxy cuts it. Each connection is an incarnation, named in the ledger with
/// every message it got; a cut one is noted as killed (what it had not settled goes back).
final class ChaosConsumer: MessagingHandler {
    let name: String
    let address: String
    let ledger: ChaosLedger
    private var incarnation = 0

    init(name: String, address: String, ledger: ChaosLedger) {
        self.name = name
        self.address = address
        self.ledger = ledger
    }

    private var current: String { "\(name)#\(incarnation)" }

    func onConnectionOpen(_ c: MessagingConnection) {
        incarnation += 1
        var options = ReceiverOptions()
        options.creditWindow = 20
        c.openReceiver(address, options: options)
    }

    func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
        let r = Received(message)
        ledger.delivered(ChaosLedger.Delivery(id: r.id, deliveryCount: r.deliveryCount, incarnation: current))
    }

    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { ledger.killed(current) }
}

// Sends COUNT messages to the address in URL and waits until every one is accepted.
// Docs/Examples.md explains it.
//
// Usage: example-send URL [COUNT]   e.g. example-send amqp://127.0.0.1:5672/examples 100
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

final class SendHandler: MessagingHandler {
    let total: Int
    let result: LockedValue<(accepted: Int, failure: String?)>
    private var sent = 0, accepted = 0

    init(total: Int, result: LockedValue<(accepted: Int, failure: String?)>) {
        self.total = total
        self.result = result
    }

    func onConnectionOpen(_ c: MessagingConnection) { c.openSender() }

    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        while sender.credit > 0 && sent < total {
            var m = Message(value: .string("message \(sent)"))
            m.properties = Properties(messageID: .ulong(UInt64(sent)))
            sender.send(m)
            sent += 1
        }
    }

    func onTrackerAccept(_ c: MessagingConnection, _ tracker: Delivery) {
        accepted += 1
        result.withLock { $0.accepted = accepted }
        if accepted == total { c.close() }
    }

    func onTrackerReject(_ c: MessagingConnection, _ tracker: Delivery) { fail(c, "a message was rejected: \(String(describing: tracker.remoteState ?? nil))") }
    func onTrackerRelease(_ c: MessagingConnection, _ tracker: Delivery) { fail(c, "a message was released") }
    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { fail(c, "\(describe(error))") }
    func onTransportClose(_ c: MessagingConnection) { c.container.stop() }

    private func fail(_ c: MessagingConnection, _ why: String) {
        result.withLock { if $0.failure == nil { $0.failure = why } }
        c.close()
    }
}

let args = CommandLine.arguments
guard args.count > 1 else { printError("usage: example-send URL [COUNT]"); exit(2) }
let total = args.count > 2 ? Int(args[2]) ?? 1 : 1
let result = LockedValue<(accepted: Int, failure: String?)>((0, nil))
do {
    let container = try Container(id: "example-send")
    try container.connect(args[1], handler: SendHandler(total: total, result: result))
    try container.run()
} catch {
    printError("example-send: \(describe(error))")
    exit(1)
}
let (accepted, failure) = result.withLock { $0 }
if let failure { printError("example-send: \(failure)"); exit(1) }
guard accepted == total else { printError("example-send: only \(accepted) of \(total) accepted"); exit(1) }
print("\(total) messages sent and accepted")

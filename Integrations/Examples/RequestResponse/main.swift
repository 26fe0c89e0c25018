// Request/response through a broker (example-broker): the server takes requests from an address
// and answers each to its reply-to address with the same correlation-id; the client receives on a
// dynamic address the broker makes for it, sends its requests with that reply-to, and matches the
// answers. Docs/Examples.md explains it.
//
// Usage: example-request-response server URL [COUNT]   (answers COUNT requests, then exits)
//        example-request-response client URL [COUNT]   (sends COUNT requests, prints each answer)
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

/// Answers each request with its text in upper case.
final class Server: MessagingHandler {
    let total: Int
    private var answered = 0, settled = 0
    // One sender per reply-to address: the broker routes by a link's target.
    private var senders: [String: Link] = [:]
    init(total: Int) { self.total = total }
    func onConnectionOpen(_ c: MessagingConnection) { c.openReceiver() }
    func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
        guard let replyTo = m.properties?.replyTo, case .value(.string(let text))? = m.body else { return }
        let sender = senders[replyTo] ?? c.openSender(replyTo)
        senders[replyTo] = sender
        var answer = Message(value: .string(text.uppercased()))
        answer.properties = Properties(correlationID: m.properties?.messageID)
        sender.send(answer)
        answered += 1
    }
    func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) {
        settled += 1
        if settled == total { c.close() }
    }
    func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { printError("server: \(describe(error))") }
}

/// Sends requests once its dynamic reply-to address is known; prints the answers.
final class Client: MessagingHandler {
    let total: Int
    let answers: LockedValue<[String]>
    private var sender: Link?
    private var replyTo: String?
    private var sent = 0
    init(total: Int, answers: LockedValue<[String]>) { self.total = total; self.answers = answers }
    func onConnectionOpen(_ c: MessagingConnection) {
        sender = c.openSender()
        var options = ReceiverOptions()
        options.dynamic = true
        c.openReceiver(options: options)
    }
    func onReceiverOpen(_ c: MessagingConnection, _ receiver: Link) {
        replyTo = receiver.remoteAttach?.source?.address
        if let s = sender { onSendable(c, s) }
    }
    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        guard let replyTo else { return }
        while sender.credit > 0 && sent < total {
            var m = Message(value: .string("request \(sent)"))
            m.properties = Properties(messageID: .ulong(UInt64(sent)), replyTo: replyTo)
            sender.send(m)
            sent += 1
        }
    }
    func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
        guard case .value(.string(let text))? = m.body, case .ulong(let id)? = m.properties?.correlationID else { return }
        let n = answers.withLock { $0.append("\(id): \(text)"); return $0.count }
        print("\(id): \(text)")
        if n == total { c.close() }
    }
    func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { printError("client: \(describe(error))") }
}

let args = CommandLine.arguments
guard args.count > 2, args[1] == "server" || args[1] == "client" else {
    printError("usage: example-request-response server|client URL [COUNT]")
    exit(2)
}
let total = args.count > 3 ? Int(args[3]) ?? 5 : 5
let answers = LockedValue<[String]>([])
do {
    let container = try Container(id: "example-\(args[1])")
    if args[1] == "server" {
        try container.connect(args[2], handler: Server(total: total))
    } else {
        try container.connect(args[2], handler: Client(total: total, answers: answers))
    }
    try container.run()
} catch {
    printError("example-request-response: \(describe(error))")
    exit(1)
}
if args[1] == "client" {
    let n = answers.withLock { $0.count }
    guard n == total else { printError("only \(n) of \(total) answers"); exit(1) }
    print("\(total) requests answered")
}

// Receives COUNT messages from the address in URL, accepting each, and prints them. With --listen
// it is the listening peer instead (a direct receiver: senders connect to it, no broker between).
// Docs/Examples.md explains it.
//
// Usage: example-receive URL [COUNT] [--listen]
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

final class ReceiveHandler: MessagingHandler {
    let total: Int
    let listening: Bool
    let received: LockedValue<Int>
    private var count = 0

    init(total: Int, listening: Bool, received: LockedValue<Int>) {
        self.total = total
        self.listening = listening
        self.received = received
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        if !listening { c.openReceiver() }
    }

    func onMessage(_ c: MessagingConnection, _ delivery: Delivery, _ message: Message) {
        count += 1
        let n = received.withLock { $0 += 1; return $0 }
        if case .value(let v)? = message.body { print(v) } else { print(message) }
        if n == total { c.close() }
    }

    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) { printError("example-receive: \(describe(error))") }
    /// Done once the count is in (a listener would otherwise wait for more senders) or the
    /// connection failed.
    func onTransportClose(_ c: MessagingConnection) {
        if !listening || received.withLock({ $0 }) >= total { c.container.stop() }
    }
}

let args = CommandLine.arguments.filter { $0 != "--listen" }
let listening = CommandLine.arguments.contains("--listen")
guard args.count > 1 else { printError("usage: example-receive URL [COUNT] [--listen]"); exit(2) }
let total = args.count > 2 ? Int(args[2]) ?? 1 : 1
let received = LockedValue(0)
do {
    let container = try Container(id: "example-receive")
    if listening {
        let listener = try container.listen(args[1]) { ReceiveHandler(total: total, listening: true, received: received) }
        print("listening on port \(listener.port.map(String.init) ?? "?")")
    } else {
        try container.connect(args[1], handler: ReceiveHandler(total: total, listening: false, received: received))
    }
    try container.run()
} catch {
    printError("example-receive: \(describe(error))")
    exit(1)
}
let n = received.withLock { $0 }
guard n == total else { printError("example-receive: only \(n) of \(total) received"); exit(1) }
print("\(total) messages received")

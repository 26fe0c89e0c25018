// The seeds' multithreaded client: application threads send through the connection's work queue
// and each waits until its message is settled; the main thread takes received messages from a
// thread-safe inbox. Docs/Examples.md explains it.
//
// Usage: example-multithreaded-client URL [THREADS] [MESSAGES_PER_THREAD]
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

/// A blocking hand-off between the connection's thread and application threads.
final class Mailbox<Value: Sendable>: Sendable {
    private let lock = ConditionLock()
    private let items = LockedValue<[Value]>([])
    // `items` changes only with `lock` held too, so a taker checks and waits without missing a put.
    func put(_ v: Value) {
        lock.lock()
        items.withLock { $0.append(v) }
        lock.broadcast()
        lock.unlock()
    }
    func take() -> Value {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let v = items.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return v }
            _ = lock.wait(until: nil)
        }
    }
}

/// The connection's handler: sends what application threads hand it, tells each its outcome.
final class ClientHandler: MessagingHandler {
    let inbox: Mailbox<String>
    private var sender: Link?
    private var waiting: [(Message, Mailbox<String>)] = []
    private var outcomes: [ObjectIdentifier: Mailbox<String>] = [:]
    init(inbox: Mailbox<String>) { self.inbox = inbox }

    func onConnectionOpen(_ c: MessagingConnection) {
        sender = c.openSender()
        c.openReceiver()
    }
    /// Called in work from an application thread.
    func send(_ message: Message, reply: Mailbox<String>) {
        waiting.append((message, reply))
        flush()
    }
    func onSendable(_ c: MessagingConnection, _ sender: Link) { flush() }
    private func flush() {
        guard let s = sender else { return }
        while s.credit > 0, !waiting.isEmpty {
            let (m, reply) = waiting.removeFirst()
            outcomes[ObjectIdentifier(s.send(m))] = reply
        }
    }
    func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) { outcomes.removeValue(forKey: ObjectIdentifier(t))?.put("accepted") }
    func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) { outcomes.removeValue(forKey: ObjectIdentifier(t))?.put("rejected") }
    func onTrackerRelease(_ c: MessagingConnection, _ t: Delivery) { outcomes.removeValue(forKey: ObjectIdentifier(t))?.put("released") }
    func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
        if case .value(.string(let s))? = m.body { inbox.put(s) }
    }
    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) {
        printError("example-multithreaded-client: \(describe(error))")
        exit(1)
    }
}

let args = CommandLine.arguments
guard args.count > 1 else { printError("usage: example-multithreaded-client URL [THREADS] [MESSAGES_PER_THREAD]"); exit(2) }
let threads = args.count > 2 ? Int(args[2]) ?? 3 : 3
let perThread = args.count > 3 ? Int(args[3]) ?? 10 : 10
let inbox = Mailbox<String>()
do {
    let container = try Container(id: "example-multithreaded-client")
    let work = try container.connect(args[1], handler: ClientHandler(inbox: inbox))
    let runner = try SystemThread.spawn(name: "container") { try? container.run(threads: 2) }
    let senders = try (0..<threads).map { t in
        try SystemThread.spawn(name: "sender-\(t)") {
            for i in 0..<perThread {
                let reply = Mailbox<String>()
                let m = Message(value: .string("thread \(t) message \(i)"))
                work.add { c in (c.handler as? ClientHandler)?.send(m, reply: reply) }
                let outcome = reply.take()
                guard outcome == "accepted" else { printError("message \(t)/\(i) \(outcome)"); exit(1) }
            }
        }
    }
    for s in senders { s.join() }
    var seen = 0
    while seen < threads * perThread { print("received: \(inbox.take())"); seen += 1 }
    // A clean close; the container returns from run() once the connection is gone.
    work.add { c in c.close() }
    runner.join()
    print("\(threads * perThread) messages sent, settled and received")
} catch {
    printError("example-multithreaded-client: \(describe(error))")
    exit(1)
}

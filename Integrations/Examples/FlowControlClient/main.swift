// The seeds' multithreaded client with flow control: an application thread that sends blocks
// until the link has credit, and the receiver grants credit only as the application drains a
// bounded buffer, so neither side queues more than it must. Docs/Examples.md explains it.
//
// Usage: example-flow-control-client URL [MESSAGES] [BUFFER]
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

/// A counter threads wait on: credit the sender may use, or messages in the receive buffer.
final class Gauge: Sendable {
    private let lock = ConditionLock()
    private let value = LockedValue(0)
    func add(_ n: Int) {
        lock.lock()
        value.withLock { $0 += n }
        lock.broadcast()
        lock.unlock()
    }
    /// Waits until the value is positive, then takes one.
    func takeOne() {
        lock.lock()
        defer { lock.unlock() }
        while !value.withLock({ v -> Bool in
            guard v > 0 else { return false }
            v -= 1
            return true
        }) { _ = lock.wait(until: nil) }
    }
    var current: Int { value.withLock { $0 } }
}

final class FlowHandler: MessagingHandler {
    let credit: Gauge          // sender credit, for the sending thread
    let buffered: Gauge        // messages in `buffer`, for the receiving thread
    let buffer: LockedValue<[String]>
    let bufferSize: UInt32
    private var sender: Link?, receiver: Link?
    private var knownCredit: UInt32 = 0
    init(credit: Gauge, buffered: Gauge, buffer: LockedValue<[String]>, bufferSize: UInt32) {
        self.credit = credit; self.buffered = buffered; self.buffer = buffer; self.bufferSize = bufferSize
    }
    func onConnectionOpen(_ c: MessagingConnection) {
        sender = c.openSender()
        var options = ReceiverOptions()
        options.creditWindow = 0   // by hand: one credit per message the application has taken
        let r = c.openReceiver(options: options)
        r.flow(credit: bufferSize)
        receiver = r
    }
    func onSendable(_ c: MessagingConnection, _ sender: Link) {
        // Tell the sending thread about credit it has not heard of yet.
        if sender.credit > knownCredit { credit.add(Int(sender.credit - knownCredit)) }
        knownCredit = sender.credit
    }
    /// Work from the sending thread, which took one credit first.
    func send(_ text: String) {
        guard let s = sender else { return }
        s.send(Message(value: .string(text)))
        knownCredit = s.credit
    }
    /// Work from the receiving thread, which took one message from the buffer.
    func grantOne() { receiver?.flow(credit: 1) }
    func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
        if case .value(.string(let s))? = m.body { buffer.withLock { $0.append(s) } }
        buffered.add(1)
    }
    func onTransportError(_ c: MessagingConnection, _ error: AMQPError) {
        printError("example-flow-control-client: \(describe(error))")
        exit(1)
    }
}

let args = CommandLine.arguments
guard args.count > 1 else { printError("usage: example-flow-control-client URL [MESSAGES] [BUFFER]"); exit(2) }
let total = args.count > 2 ? Int(args[2]) ?? 100 : 100
let bufferSize = UInt32(args.count > 3 ? Int(args[3]) ?? 5 : 5)
let credit = Gauge(), buffered = Gauge(), buffer = LockedValue<[String]>([])
let maxBuffered = LockedValue(0)
do {
    let container = try Container(id: "example-flow-control-client")
    let work = try container.connect(args[1], handler: FlowHandler(credit: credit, buffered: buffered, buffer: buffer, bufferSize: bufferSize))
    let runner = try SystemThread.spawn(name: "container") { try? container.run(threads: 2) }
    let sending = try SystemThread.spawn(name: "sender") {
        for i in 0..<total {
            credit.takeOne()   // blocks while the receiver grants no credit
            work.add { c in (c.handler as? FlowHandler)?.send("message \(i)") }
        }
    }
    for _ in 0..<total {
        buffered.takeOne()
        let text = buffer.withLock { b in
            maxBuffered.withLock { $0 = max($0, b.count) }
            return b.removeFirst()
        }
        print("received: \(text)")
        usleep(1_000)   // a slow consumer
        work.add { c in (c.handler as? FlowHandler)?.grantOne() }
    }
    sending.join()
    // A clean close; the container returns from run() once the connection is gone.
    work.add { c in c.close() }
    runner.join()
    let peak = maxBuffered.withLock { $0 }
    guard peak <= Int(bufferSize) else { printError("the buffer held \(peak) messages, more than \(bufferSize)"); exit(1) }
    print("\(total) messages sent and received; the buffer never held more than \(peak) of \(bufferSize)")
} catch {
    printError("example-flow-control-client: \(describe(error))")
    exit(1)
}

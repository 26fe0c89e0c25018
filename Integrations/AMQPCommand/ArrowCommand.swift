import ArgumentParser
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem
#if canImport(Glibc)
import Glibc
#endif

struct ArrowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arrow",
        abstract: "A quiver arrow: key=value options, one line per transfer (the backend from AMQP_BACKEND).")

    @Argument(help: "connection-mode=client|server operation=send|receive host= port= path= count= duration= rate= body-size= credit-window= id= durable= set-message-id= transaction-size=0 channel-mode=active quiet=1 scheme=amqp|amqps tls-ca= tls-cert= tls-key= tls-key-password= tls-server-name= tls-no-verify=1 tls-no-verify-hostname=1 sasl-mechanisms= user= password=")
    var options: [String] = []

    func run() throws {
        let o = try ArrowOptions(options)
        let backendName = getenv("AMQP_BACKEND").map { String(cString: $0) } ?? "auto"
        var backend = BackendOption()
        backend.backend = backendName
        let container = try backend.container(id: o.id)
        let out = LineOutput()
        let state = LockedValue(ArrowState())
        let url = "\(o.scheme)://\(o.host.contains(":") ? "[\(o.host)]" : o.host):\(o.port)/\(o.path)"
        let options = o.server ? try o.security.listener(url: url) : try o.security.client(url: url)
        do {
            if o.server {
                try container.listen(url, options: options) { Arrow(options: o, out: out, state: state) }
            } else {
                try container.connect(url, options: options, handler: Arrow(options: o, out: out, state: state))
            }
        } catch {
            throw CommandFailure("\(error)")
        }
        if o.duration > 0 { container.schedule(after: .seconds(o.duration)) { container.stop() } }
        try container.run()
        out.flush()
        let s = state.withLock { $0 }
        if let why = s.failure { throw CommandFailure(why) }
        if o.count > 0 && s.done < o.count && o.duration == 0 { throw CommandFailure("only \(s.done) of \(o.count) transfers") }
    }
}

struct ArrowState: Sendable {
    var done = 0
    var failure: String?
}

/// Lines to stdout, written in large pieces: an arrow prints one per message.
final class LineOutput: Sendable {
    private let buffer = LockedValue<[UInt8]>([])
    func line(_ s: String) {
        let full: [UInt8]? = buffer.withLock { b in
            b.append(contentsOf: s.utf8)
            b.append(10)
            guard b.count >= 65_536 else { return nil }
            defer { b.removeAll(keepingCapacity: true) }
            return b
        }
        if let full { write(full) }
    }
    func flush() {
        let rest = buffer.withLock { b in defer { b = [] }; return b }
        write(rest)
    }
    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { p in
            var at = 0
            while at < p.count {
                let n = Glibc.write(1, p.baseAddress! + at, p.count - at)
                if n <= 0 { return }
                at += n
            }
        }
    }
}

/// One connection of the arrow: sends or receives, and stops the container when the count is done.
final class Arrow: MessagingHandler {
    let o: ArrowOptions
    let out: LineOutput
    let state: LockedValue<ArrowState>
    // Touched only in the connection's handler calls (the container's sequence guarantee).
    @exclusivity(unchecked) private var sent = 0
    @exclusivity(unchecked) private var settled = 0
    @exclusivity(unchecked) private var received = 0
    @exclusivity(unchecked) private var sender: Link?
    // One message, changed in place per send (its SendTime, its id), as Proton's arrow reuses its
    // pn_message_t: the property map's storage is not reallocated each time.
    @exclusivity(unchecked) private var template: Message
    private let start = ContinuousClock.now

    init(options: ArrowOptions, out: LineOutput, state: LockedValue<ArrowState>) {
        o = options
        self.out = out
        self.state = state
        template = Message(value: .string(String(repeating: "x", count: options.bodySize)))
        template.applicationProperties = ["SendTime": .long(0)]
        if options.durable { template.header = Header(durable: true) }
    }

    func onConnectionOpen(_ c: MessagingConnection) {
        var r = ReceiverOptions()
        r.creditWindow = o.creditWindow
        c.incomingReceiverOptions = r
        guard !o.server else { return }
        if o.sending { sender = c.openSender() } else { c.openReceiver(options: r) }
    }

    func onSenderOpen(_ c: MessagingConnection, _ s: Link) { if o.sending { sender = s } }

    func onSendable(_ c: MessagingConnection, _ s: Link) { send(c, s) }

    private func send(_ c: MessagingConnection, _ s: Link) {
        guard o.sending else { return }
        var allowed = Int.max
        if o.rate > 0 {
            let elapsed = ContinuousClock.now - start
            let due = Int(Double(o.rate) * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) + 1
            allowed = due - sent
            if allowed <= 0 {
                c.workQueue.schedule(after: .milliseconds(5)) { c in (c.handler as? Arrow)?.resume(c) }
                return
            }
        }
        // The template is moved out for the loop: sending a stored property would copy it.
        var message = Message()
        swap(&message, &template)
        defer { swap(&message, &template) }
        while s.credit > 0 && allowed > 0 && (o.count == 0 || sent < o.count) {
            let now = ArrowOptions.nowMilliseconds()
            message.applicationProperties?[string: "SendTime"] = .long(now)
            if o.setMessageID { message.properties = Properties(messageID: .string("\(o.id)-\(sent)")) }
            s.send(message)
            sent += 1
            allowed -= 1
            if !o.quiet { out.line("\(now),0") }
        }
        if o.rate > 0 && (o.count == 0 || sent < o.count) {
            c.workQueue.schedule(after: .milliseconds(5)) { c in (c.handler as? Arrow)?.resume(c) }
        }
    }

    func resume(_ c: MessagingConnection) { if let s = sender { send(c, s) } }

    func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) { settledOne(c) }
    func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) { fail(c, "a message was rejected") }
    func onTrackerRelease(_ c: MessagingConnection, _ t: Delivery) { fail(c, "a message was released") }

    private func settledOne(_ c: MessagingConnection) {
        settled += 1
        if o.count > 0 && settled == o.count { c.close() }
    }

    func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
        let sendTime: Int64 = if case .long(let t)? = m.applicationProperties?[string: "SendTime"] { t } else { 0 }
        if !o.quiet { out.line("\(sendTime),\(ArrowOptions.nowMilliseconds())") }
        received += 1
        if o.count > 0 && received == o.count { c.close() }
    }

    func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
        // A server tolerates a probe that connects and leaves without speaking AMQP.
        if o.server && c.connection.remoteState == .uninitialized { return }
        fail(c, CommandText.describe(e))
    }

    func onTransportClose(_ c: MessagingConnection) {
        // Counted here, once per connection, rather than under a lock per message.
        let mine = o.sending ? settled : received
        let done = state.withLock { $0.done += mine; return $0.done }
        if !o.server || (o.count > 0 && done >= o.count) || state.withLock({ $0.failure != nil }) { c.container.stop() }
    }

    private func fail(_ c: MessagingConnection, _ why: String) {
        state.withLock { if $0.failure == nil { $0.failure = why } }
        c.close()
    }
}

// A container in under two hundred lines, to show how to write your own on the public API of
// AMQPProactor and AMQPEngine alone (Docs/Containers.md): handlers called per connection in
// sequence, a work queue, one sender and one receiver per connection. AMQPMessaging is the full
// version of the same idea.
import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem

/// What an application does on one connection. Calls come in sequence, never two at once.
public protocol MinimalHandler: AnyObject {
    /// The peer answered our open.
    func onOpen(_ connection: Connection)
    /// The sender has credit.
    func onSendable(_ sender: Link)
    /// A message arrived; it is accepted when this returns.
    func onMessage(_ message: Message)
    /// The peer accepted a message we sent.
    func onAccepted(_ delivery: Delivery)
    /// The connection is gone, with the error that ended it, if any.
    func onClosed(_ error: AMQPError?)
}

/// Work for a connection from any thread: run in the connection's sequence, given its sender.
public final class MinimalWorkQueue: Sendable {
    private let items = LockedValue<(work: [@Sendable (Link) -> Void], closed: Bool, handle: ProactorConnection?)>(([], false, nil))

    /// Queues `work`; false once the connection is gone (the work never runs then).
    @discardableResult
    public func add(_ work: @escaping @Sendable (Link) -> Void) -> Bool {
        let (added, handle) = items.withLock { s -> (Bool, ProactorConnection?) in
            guard !s.closed else { return (false, nil) }
            s.work.append(work)
            return (true, s.handle)
        }
        handle?.wake()
        return added
    }

    func attach(_ handle: ProactorConnection) { items.withLock { $0.handle = handle } }
    func take() -> [@Sendable (Link) -> Void] { items.withLock { s in defer { s.work = [] }; return s.work } }
    /// Closes the queue and takes what it still holds in one step: `add` returned true for that
    /// work, so it must still run.
    func close() -> [@Sendable (Link) -> Void] { items.withLock { s in defer { s = ([], true, nil) }; return s.work } }
}

/// One connection's state, found from its driver's `configuration.context` in each batch.
///
/// @unchecked Sendable, and what makes it safe: `handler`, `sender` and `receiver` are used only
/// while a thread handles one of this connection's batches, and the proactor never gives one
/// connection's batches to two threads at once (its lock orders one batch's end before the next's
/// start). `MinimalContainerTests` runs it on a thread pool under the thread sanitizer.
final class MinimalConnection: @unchecked Sendable {
    let handler: any MinimalHandler
    let target: String, source: String
    let work: MinimalWorkQueue
    var sender: Link?, receiver: Link?
    var error: AMQPError?

    init(handler: any MinimalHandler, target: String, source: String, work: MinimalWorkQueue) {
        self.handler = handler
        self.target = target
        self.source = source
        self.work = work
    }
}

/// Runs minimal handlers on a proactor's threads.
public final class MinimalContainer: Sendable {
    private let proactor: any Proactor

    public init(proactor: any Proactor) { self.proactor = proactor }

    /// Connects to `address` (`host:port`) with a sender to `target` and a receiver from `source`.
    public func connect(_ address: String, target: String, source: String, handler: sending any MinimalHandler) -> MinimalWorkQueue {
        let work = MinimalWorkQueue()
        var configuration = DriverConfiguration(containerID: "minimal")
        configuration.saslClient = .anonymous
        configuration.context = MinimalConnection(handler: handler, target: target, source: source, work: work)
        work.attach(proactor.connect(to: address, configuration: configuration))
        return work
    }

    /// Runs `threads` threads until no connection is left.
    public func run(threads: Int) throws(Errno) {
        let pool = ProactorThreadPool(proactor)
        try pool.start(threads: threads) { [self] batch in
            if case .connection(let driver) = batch.kind { handle(batch, driver) }
            else { while batch.next() != nil {} }
        }
        pool.join()
    }

    private func handle(_ batch: ProactorBatch, _ driver: ConnectionDriver) {
        guard let c = driver.configuration.context as? MinimalConnection else { return }
        while let event = batch.next() {
            guard case .amqp(let e) = event else { continue }
            switch e {
            case .connectionInit(let connection):
                connection.open()
                let session = connection.session()
                session.begin()
                c.sender = session.sender(name: "minimal-sender", target: c.target)
                c.receiver = session.receiver(name: "minimal-receiver", source: c.source)
                c.sender?.attach()
                c.receiver?.attach()
                c.receiver?.flow(credit: 10)
            case .connectionRemoteOpen(let connection):
                c.handler.onOpen(connection)
            case .connectionRemoteClose(let connection):
                c.error = connection.remoteError
                connection.close()
            case .linkFlow(let link) where link === c.sender && link.credit > 0:
                c.handler.onSendable(link)
            case .delivery(let d) where d.link === c.receiver && !d.isPartial:
                if let m = try? Message(decoding: d.readPayload()) { c.handler.onMessage(m) }
                d.accept()
                d.link.flow(credit: 1)
            case .delivery(let d) where d.link === c.sender && d.remoteState == .accepted:
                c.handler.onAccepted(d)
                d.settle()
            case .transportError(let error):
                c.error = c.error ?? error
            case .transportClosed:
                if let sender = c.sender { for item in c.work.close() { item(sender) } } else { _ = c.work.close() }
                c.handler.onClosed(c.error)
            default:
                break
            }
        }
        // Work runs after the batch's events, in the same sequence; a wake brought us here.
        if let sender = c.sender, !driver.isFinished {
            for item in c.work.take() { item(sender) }
        }
    }
}

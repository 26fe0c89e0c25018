import ArgumentParser
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem

struct ReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "receive", abstract: "Receive and accept messages.")

    @Argument(help: "amqp[s]://[user[:password]@]host[:port]/address (with --listen: where to listen)")
    var url: String
    @Option(help: "How many messages.") var count = 1
    @Flag(help: "Be the listening peer: senders connect to us.") var listen = false
    @OptionGroup var backend: BackendOption
    @OptionGroup(title: "TLS and SASL") var security: ClientSecurityOptions

    func run() throws {
        guard count > 0 else { throw CommandFailure("--count must be at least 1") }
        let options = listen ? try security.settings.listener(url: url) : try security.settings.client(url: url)
        let container = try backend.container(id: "amqp-receive")
        let progress = Progress(total: count, verb: "received")
        let failure = LockedValue<String?>(nil)
        let total = count, listening = listen
        do {
            if listen {
                try container.listen(url, options: options) { Receiver(total: total, listening: listening, progress: progress, failure: failure) }
            } else {
                try container.connect(url, options: options, handler: Receiver(total: total, listening: listening, progress: progress, failure: failure))
            }
        } catch {
            throw CommandFailure("\(error)")
        }
        try container.run()
        progress.finish()
        if let why = failure.withLock({ $0 }) { throw CommandFailure(why) }
        guard progress.count >= count else { throw CommandFailure("only \(progress.count) of \(count) messages received") }
        print("\(count) messages received")
    }

    final class Receiver: MessagingHandler {
        let total: Int, listening: Bool
        let progress: Progress
        let failure: LockedValue<String?>
        init(total: Int, listening: Bool, progress: Progress, failure: LockedValue<String?>) {
            self.total = total; self.listening = listening; self.progress = progress; self.failure = failure
        }
        func onConnectionOpen(_ c: MessagingConnection) {
            var options = ReceiverOptions()
            options.creditWindow = 100
            if !listening { c.openReceiver(options: options) }
        }
        func onMessage(_ c: MessagingConnection, _ d: Delivery, _ m: Message) {
            progress.add()
            if progress.count >= total { c.close() }
        }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            if !listening { failure.withLock { if $0 == nil { $0 = CommandText.describe(e) } } }
        }
        /// The peer took our receiver away: no more messages can come, so say why and stop.
        func onReceiverClose(_ c: MessagingConnection, _ receiver: Link) {
            guard !listening, progress.count < total else { return }
            if let ours = receiver.localError {
                // The engine detached it: the peer broke the protocol.
                failure.withLock { if $0 == nil { $0 = "we detached the receiver after \(progress.count) messages: \(CommandText.describe(ours))" } }
                c.close()
                return
            }
            let why = receiver.remoteError.map(CommandText.describe)
                ?? receiver.session.remoteError.map { "its session ended: " + CommandText.describe($0) }
                ?? c.connection.remoteError.map { "the connection closed: " + CommandText.describe($0) }
                ?? "without an error (session \(receiver.session.remoteState), connection \(c.connection.remoteState))"
            failure.withLock { if $0 == nil { $0 = "the peer detached the receiver after \(progress.count) messages: \(why)" } }
            c.close()
        }
        func onTransportClose(_ c: MessagingConnection) {
            if !listening || progress.count >= total { c.container.stop() }
        }
    }
}

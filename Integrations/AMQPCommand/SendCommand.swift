import ArgumentParser
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSystem

struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Send messages and wait until each is accepted.")

    @Argument(help: "amqp[s]://[user[:password]@]host[:port]/address")
    var url: String
    @Option(help: "How many messages.") var count = 1
    @Option(help: "Body size in bytes.") var size = 100
    @OptionGroup var backend: BackendOption
    @OptionGroup(title: "TLS and SASL") var security: ClientSecurityOptions

    func run() throws {
        guard count > 0 else { throw CommandFailure("--count must be at least 1") }
        guard size >= 0 else { throw CommandFailure("--size must not be negative") }
        let options = try security.settings.client(url: url)
        let container = try backend.container(id: "amqp-send")
        let progress = Progress(total: count, verb: "sent")
        let failure = LockedValue<String?>(nil)
        do {
            try container.connect(url, options: options, handler: Sender(total: count, body: String(repeating: "x", count: size), progress: progress, failure: failure))
        } catch {
            throw CommandFailure("\(error)")
        }
        try container.run()
        progress.finish()
        if let why = failure.withLock({ $0 }) { throw CommandFailure(why) }
        guard progress.count == count else { throw CommandFailure("only \(progress.count) of \(count) messages were accepted") }
        print("\(count) messages sent and accepted")
    }

    /// Sends as credit allows; stops at the first message not accepted.
    final class Sender: MessagingHandler {
        let total: Int, body: String
        let progress: Progress
        let failure: LockedValue<String?>
        private var sent = 0, accepted = 0
        init(total: Int, body: String, progress: Progress, failure: LockedValue<String?>) {
            self.total = total; self.body = body; self.progress = progress; self.failure = failure
        }
        func onConnectionOpen(_ c: MessagingConnection) { c.openSender() }
        func onSendable(_ c: MessagingConnection, _ sender: Link) {
            while sender.credit > 0 && sent < total {
                sender.send(Message(value: .string(body)))
                sent += 1
            }
        }
        func onTrackerAccept(_ c: MessagingConnection, _ t: Delivery) {
            accepted += 1
            progress.add()
            if accepted == total { c.close() }
        }
        func onTrackerReject(_ c: MessagingConnection, _ t: Delivery) {
            let why: String
            if let e = t.error { why = CommandText.describe(e) }
            else if case .rejected(let r)? = t.remoteState, let e = r.error { why = CommandText.describe(e) }
            else { why = "no reason given" }
            stop(c, "a message was rejected: \(why)")
        }
        func onTrackerRelease(_ c: MessagingConnection, _ t: Delivery) { stop(c, "a message was released by the peer") }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) { stop(c, CommandText.describe(e)) }
        /// The peer took our sender away: nothing more can be sent.
        func onSenderClose(_ c: MessagingConnection, _ sender: Link) {
            guard accepted < total else { return }
            stop(c, "the peer detached the sender after \(accepted) accepted messages: \(sender.remoteError.map(CommandText.describe) ?? "without an error")")
        }
        func onTransportClose(_ c: MessagingConnection) { c.container.stop() }
        private func stop(_ c: MessagingConnection, _ why: String) {
            failure.withLock { if $0 == nil { $0 = why } }
            c.close()
        }
    }
}

enum CommandText {
    static func describe(_ e: AMQPError) -> String { e.condition.rawValue + (e.description.map { ": \($0)" } ?? "") }
}

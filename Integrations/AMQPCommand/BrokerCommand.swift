import ArgumentParser
import AMQPBroker
import AMQPMessaging
import AMQPSystem
#if canImport(Glibc)
import Glibc
#endif

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "broker",
                                                    abstract: "Run the multithreaded broker until SIGINT or SIGTERM.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free one).") var port = 5672
    @Option(help: "Threads serving connections.") var threads = 4
    @Option(help: "Messages a queue holds at most, delivered and unsettled included.") var queueLimit = 10_000
    @Option(help: "Bytes a queue holds before its producers get no more credit.") var queueByteLimit = 64 << 20
    @Option(help: "Credit a producer holds at most.") var creditWindow = 100
    @Option(help: "Largest message a producer may send, in bytes (0: no limit).") var maxMessageSize = 0
    @Option(help: "Seconds a client has to open its connection before it is dropped.") var openTimeout = 2.0
    @OptionGroup var backend: BackendOption

    func run() throws {
        guard (0...65535).contains(port) else { throw CommandFailure("--port must be 0 to 65535") }
        guard threads > 0 else { throw CommandFailure("--threads must be at least 1") }
        guard openTimeout > 0 else { throw CommandFailure("--open-timeout must be positive") }
        guard queueLimit > 0, queueByteLimit > 0 else { throw CommandFailure("--queue-limit and --queue-byte-limit must be at least 1") }
        guard (1...Int(UInt32.max)).contains(creditWindow) else { throw CommandFailure("--credit-window must be 1 to \(UInt32.max)") }
        guard maxMessageSize >= 0 else { throw CommandFailure("--max-message-size must be 0 or more") }
        let signals = TerminationSignals.block()

        let container = try backend.container(id: "amqp-broker")
        let broker = Broker(queueLimit: queueLimit, queueByteLimit: queueByteLimit, creditWindow: UInt32(creditWindow),
                            maxMessageSize: maxMessageSize > 0 ? UInt64(maxMessageSize) : nil)
        let bound: UInt16
        do {
            var options = ConnectionOptions()
            options.openTimeout = .milliseconds(Int(openTimeout * 1000))
            options.offeredCapabilities = Broker.offeredCapabilities
            let url = "amqp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            let listener = try container.listen(url, options: options) { broker.handler() }
            guard let p = listener.port else { throw CommandFailure("cannot listen on \(host):\(port)") }
            bound = p
        } catch let e as CommandFailure {
            throw e
        } catch {
            throw CommandFailure("\(error)")
        }
        print("amqp broker listening on \(host):\(bound) (\(container.backendDescription))")
        fflush(nil)
        try signals.onSignal { container.stop() }
        try container.run(threads: threads)
        print("amqp broker stopped")
    }
}

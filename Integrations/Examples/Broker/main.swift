// The seeds' multithreaded broker: queues shared by every connection, a thread pool, one handler
// per connection (Sources/AMQPBroker). Runs until SIGINT or SIGTERM, then closes every
// connection cleanly. Docs/Examples.md explains it.
//
// Usage: example-broker [HOST] [PORT] [THREADS]   (default 127.0.0.1 5672 4)
import AMQPBroker
import AMQPMessaging
import AMQPSystem
import ExampleSupport
#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
let host = args.count > 1 ? args[1] : "127.0.0.1"
let port = args.count > 2 ? args[2] : "5672"
let threads = args.count > 3 ? Int(args[3]) ?? 4 : 4

// Signals go to one thread that waits for them, so stopping runs no code in a signal handler.
let signals = TerminationSignals.block()

do {
    let broker = Broker()
    let container = try Container(id: "example-broker")
    var options = ConnectionOptions()
    options.offeredCapabilities = Broker.offeredCapabilities   // the anonymous relay
    let listener = try container.listen("amqp://\(host):\(port)", options: options) { broker.handler() }
    print("broker listening on \(host):\(listener.port.map(String.init) ?? port)")
    try signals.onSignal { container.stop() }
    try container.run(threads: threads)
    print("broker stopped; queues: \(broker.queueNames.map { "\($0)=\(broker.depth(of: $0))" }.joined(separator: " "))")
} catch {
    printError("example-broker: \(describe(error))")
    exit(1)
}

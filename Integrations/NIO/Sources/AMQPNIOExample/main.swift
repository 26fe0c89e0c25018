// amqp-nio-example: the AMQPNIO client in one program. It connects (TLS for amqps://), sends
// COUNT messages, receives them back with back-pressure, and makes one request/response, with the
// connection run as a ServiceLifecycle service: Ctrl-C or SIGTERM closes it cleanly.
//
//   amqp-nio-example amqps://localhost:5671/examples 1000 --ca ca.pem
//
// Any AMQP 1.0 broker with queues will do; the test peer works too:
//   python3 Tests/AMQPNIOTests/proton_peer.py 5672 & amqp-nio-example amqp://127.0.0.1:5672/examples

import AMQPNIO
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

func main() async -> Int32 {
    let options: Options
    do {
        guard let parsed = try Options(Array(CommandLine.arguments.dropFirst())) else {
            print(Options.usage)
            return 2
        }
        options = parsed
    } catch {
        print("amqp-nio-example: \(error)")
        return 2
    }
    var logger = Logger(label: "amqp-nio-example")
    logger.logLevel = .warning
    do {
        let connection = try await AMQPConnection.connect(to: options.url, configuration: options.configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: connection),
                .init(service: Example(connection: connection, count: options.count, logger: logger),
                      successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        return 0
    } catch {
        print("amqp-nio-example: \(error)")
        return 1
    }
}

exit(await main())

// The `amqp` command: a broker, a sender, a receiver and a quiver arrow on the container
// (AMQPMessaging), on the best backend available. Every failure exits non-zero with one line on
// stderr. Docs/Command.md describes it.
import ArgumentParser
import AMQPMessaging
import ExampleSupport
import Logging
#if canImport(Glibc)
import Glibc
#endif

@main
struct AMQPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp",
        abstract: "An AMQP 1.0 broker, sender, receiver and quiver arrow.",
        subcommands: [BrokerCommand.self, SendCommand.self, ReceiveCommand.self, ArrowCommand.self, UsersCommand.self])

    /// Parses and runs; errors become one line on stderr and a non-zero status.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CommandFailure {
            fail("amqp: \(error.message)")
        } catch {
            // Help and version go to stdout with status 0; anything else is one line on stderr.
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            fail("amqp: \(message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")")
        }
    }
}

/// A failure to report as one line.
struct CommandFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The `--backend` option every subcommand takes.
struct BackendOption: ParsableArguments {
    @Option(help: "epoll, io_uring or auto (io_uring when it works here).")
    var backend: String = "auto"

    /// The container on the chosen backend, logging at `logLevel` (and every frame when
    /// AMQP_TRACE_FRM or PN_TRACE_FRM is set).
    func container(id: String, logLevel: Logger.Level = .error) throws -> Container {
        guard let chosen = ContainerBackend(rawValue: backend) else {
            throw CommandFailure("unknown backend '\(backend)' (epoll, io_uring or auto)")
        }
        do {
            return try Container(id: id, backend: chosen, observability: CommandLogging.observability(level: logLevel))
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

import AMQPMessaging
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Logging for the command: errors (or what `level` says) to stderr, and every frame too when
/// AMQP_TRACE_FRM=1 (or Proton's PN_TRACE_FRM=1) is set.
enum CommandLogging {
    static func observability(level: Logger.Level = .error) -> ContainerObservability {
        var logger = Logger(label: "amqp") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = traceFrames ? .trace : level
        return ContainerObservability(logger: logger)
    }

    static var traceFrames: Bool {
        let names: [String] = ["AMQP_TRACE_FRM", "PN_TRACE_FRM"]
        return names.contains { name in
            guard let v = getenv(name) else { return false }
            let value = String(cString: v)
            return !value.isEmpty && value != "0"
        }
    }
}

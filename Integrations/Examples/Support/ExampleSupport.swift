// What the examples share: reporting to stderr without touching C's `stderr` global, which
// Swift 6 does not let concurrent code reach.
import AMQPCodec
#if canImport(Glibc)
import Glibc
#endif

/// Writes `message` and a newline to standard error.
public func printError(_ message: String) {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Reports `message` on standard error and exits with status 1.
public func fail(_ message: String) -> Never {
    printError(message)
    exit(1)
}

/// An AMQP error as one line: its condition and description.
public func describe(_ error: AMQPError) -> String {
    error.condition.rawValue + (error.description.map { ": " + $0 } ?? "")
}

/// Any other error as one line.
public func describe(_ error: any Error) -> String { "\(error)" }

#if canImport(Glibc)
import Glibc
#endif

/// The quiver arrow contract's options (quiver's impls/README.md), as `key=value` arguments.
struct ArrowOptions: Sendable {
    var server = false
    var sending = false
    var id = "amqp-arrow"
    var host = "127.0.0.1"
    var port = "5672"
    var path = "q"
    var duration = 0        // seconds; 0: no limit
    var count = 0           // messages; 0: no limit
    var rate = 0            // messages per second; 0: as fast as credit allows
    var bodySize = 100
    var creditWindow: UInt32 = 1000
    var durable = false
    var setMessageID = false
    /// No line per transfer (as Proton's arrow's quiet=1), for benchmarks.
    var quiet = false
    /// `amqp`, or `amqps` for TLS.
    var scheme = "amqp"
    /// TLS and SASL: `tls-ca=`, `tls-cert=`, `tls-key=`, `tls-key-password=`, `tls-server-name=`,
    /// `tls-no-verify=1`, `tls-no-verify-hostname=1`, `sasl-mechanisms=`, `user=`, `password=`.
    var security = SecuritySettings(keyValue: true)

    init(_ arguments: [String]) throws(CommandFailure) {
        var portGiven = false
        for a in arguments {
            guard let eq = a.firstIndex(of: "=") else { throw CommandFailure("arrow: '\(a)' is not key=value") }
            let key = String(a[..<eq]), value = String(a[a.index(after: eq)...])
            func number() throws(CommandFailure) -> Int {
                guard let n = Int(value), n >= 0 else { throw CommandFailure("arrow: \(key)=\(value) is not a number") }
                return n
            }
            switch key {
            case "connection-mode":
                guard value == "client" || value == "server" else { throw CommandFailure("arrow: connection-mode must be client or server") }
                server = value == "server"
            case "channel-mode":
                guard value == "active" else { throw CommandFailure("arrow: channel-mode=\(value) is not supported (only active)") }
            case "operation":
                guard value == "send" || value == "receive" else { throw CommandFailure("arrow: operation must be send or receive") }
                sending = value == "send"
            case "id": id = value
            case "host": host = value
            case "port": port = value; portGiven = true
            case "path": path = value
            case "duration": duration = try number()
            case "count": count = try number()
            case "rate": rate = try number()
            case "body-size": bodySize = try number()
            case "credit-window": creditWindow = UInt32(clamping: try number())
            case "transaction-size":
                guard try number() == 0 else { throw CommandFailure("arrow: transactions are not supported (transaction-size must be 0)") }
            case "durable": durable = value == "1" || value == "true"
            case "set-message-id": setMessageID = value == "1" || value == "true"
            case "quiet": quiet = value == "1" || value == "true"
            case "scheme":
                guard value == "amqp" || value == "amqps" else { throw CommandFailure("arrow: scheme must be amqp or amqps") }
                scheme = value
            case "tls-ca": security.tlsCA = value
            case "tls-cert": security.tlsCert = value
            case "tls-key": security.tlsKey = value
            case "tls-key-password": security.tlsKeyPassword = value
            case "tls-server-name": security.tlsServerName = value
            case "tls-no-verify": security.tlsNoVerify = value == "1" || value == "true"
            case "tls-no-verify-hostname": security.tlsNoVerifyHostname = value == "1" || value == "true"
            case "sasl-mechanisms": security.saslMechanisms = value
            case "user": security.user = value
            case "password": security.password = value
            default: throw CommandFailure("arrow: unknown option '\(key)'")
            }
        }
        if scheme == "amqps" && !portGiven { port = "5671" }
        guard count > 0 || duration > 0 else { throw CommandFailure("arrow: give count or duration") }
    }

    /// Milliseconds since the epoch, as SendTime carries them.
    static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

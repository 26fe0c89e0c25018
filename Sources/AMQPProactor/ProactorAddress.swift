/// An address as the proactor takes it: `host:port`, `[ipv6]:port`, `host` alone (port `amqp`),
/// or `:port`. The port may be a number or a service name (`amqp` is 5672, `amqps` 5671); an
/// empty host means every interface to listen on, localhost to connect to.
///
/// Threading: a plain value type, `Sendable`.
public struct ProactorAddress: Hashable, Sendable, CustomStringConvertible {
    /// The host; empty for the default.
    public var host: String
    /// The port number or service name.
    public var port: String

    /// Parses `text`; nil when it cannot be an address (an unclosed `[`, text after `]` that is
    /// not `:port`).
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = "amqp"
            } else {
                guard rest.first == ":" else { return nil }
                port = String(rest.dropFirst())
            }
        } else if let colon = text.lastIndex(of: ":") {
            // More than one colon without brackets: a bare IPv6 address, with the default port.
            if text[..<colon].contains(":") {
                host = text
                port = "amqp"
            } else {
                host = String(text[..<colon])
                port = String(text[text.index(after: colon)...])
            }
        } else {
            host = text
            port = "amqp"
        }
        if port.isEmpty { port = "amqp" }
    }

    /// The port for getaddrinfo: the service names AMQP uses are mapped here, so they work
    /// without an /etc/services entry.
    public var numericPort: String {
        switch port {
        case "amqp": return "5672"
        case "amqps": return "5671"
        default: return port
        }
    }

    /// `host:port`, bracketing an IPv6 host.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A connection URL: `amqp://[user[:password]@]host[:port][/address]`, or `amqps://` for TLS.
///
/// The address is everything after the first `/` after the host, unchanged: `amqp://h//queue/a`
/// names `/queue/a`, the form RabbitMQ uses. User and password are percent-decoded; the
/// description hides the password.
///
/// Threading: a value; `Sendable`.
public struct MessagingURL: Sendable, Hashable, CustomStringConvertible {
    /// `amqp` or `amqps`.
    public var scheme: String
    public var user: String?
    public var password: String?
    /// A host name or address; IPv6 addresses without their brackets.
    public var host: String
    /// The port: explicit, or the scheme's (5672 for amqp, 5671 for amqps); 0 asks a listener to
    /// pick a free one.
    public var port: UInt16
    /// The node the URL names (a queue or topic), or nil when there is no path.
    public var address: String?

    /// Parses `text`.
    /// - Throws: ``MessagingError/invalidURL(_:_:)`` saying what is wrong.
    public init(_ text: String) throws(MessagingError) {
        func invalid(_ why: String) -> MessagingError { .invalidURL(text, why) }
        guard let schemeEnd = text.firstRange(of: "://") else { throw invalid("no scheme (expected amqp:// or amqps://)") }
        scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard scheme == "amqp" || scheme == "amqps" else { throw invalid("unknown scheme '\(scheme)' (expected amqp or amqps)") }
        var rest = text[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            address = path.isEmpty ? nil : String(path)
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.percentDecoded(credentials[..<colon], in: text)
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], in: text)
            } else {
                user = try Self.percentDecoded(credentials, in: text)
            }
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed '[' in the host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected '\(after)' after the host") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw invalid("no host") }
        if let portText {
            guard let p = UInt16(portText) else { throw invalid("invalid port '\(portText)'") }
            port = p
        } else {
            port = scheme == "amqps" ? 5671 : 5672
        }
    }

    /// The `host:port` a proactor connects to.
    public var hostAndPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String {
        let who = user.map { u in password == nil ? "\(u)@" : "\(u):***@" } ?? ""
        return "\(scheme)://\(who)\(hostAndPort)" + (address.map { "/\($0)" } ?? "")
    }

    private static func percentDecoded(_ s: Substring, in text: String) throws(MessagingError) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        while i < s.utf8.endIndex {
            let c = s.utf8[i]
            if c == UInt8(ascii: "%") {
                let h = s.utf8.index(after: i)
                guard h < s.utf8.endIndex, s.utf8.index(after: h) < s.utf8.endIndex,
                      let v = UInt8(String(decoding: s.utf8[h...s.utf8.index(after: h)], as: UTF8.self), radix: 16) else {
                    throw .invalidURL(text, "bad percent escape in the user or password")
                }
                bytes.append(v)
                i = s.utf8.index(h, offsetBy: 2)
            } else {
                bytes.append(c)
                i = s.utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

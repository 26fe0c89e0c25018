/// `amqp[s]://[user[:password]@]host[:port][/address]`, the URL form Proton and the brokers take.
/// User and password are percent-decoded; an IPv6 host is bracketed (`amqp://[::1]:5672`).
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    /// True for `amqps`: TLS before AMQP (port 5671 by default).
    public var useTLS: Bool
    /// The user for SASL PLAIN, when the URL names one.
    public var user: String?
    /// The password for SASL PLAIN.
    public var password: String?
    /// The host, without brackets.
    public var host: String
    /// The port: given, or 5672 (`amqp`) / 5671 (`amqps`).
    public var port: Int
    /// The node address after the first `/`, if any (a queue or topic name).
    public var address: String?

    /// Parses `text`; throws ``AMQPClientError/Code/invalidURL`` saying what is wrong.
    public init(_ text: String) throws(AMQPClientError) {
        func invalid(_ why: String) -> AMQPClientError { AMQPClientError(.invalidURL, "invalid AMQP URL '\(text)': \(why)") }
        var rest = Substring(text)
        if rest.hasPrefix("amqps://") { useTLS = true; rest = rest.dropFirst(8) }
        else if rest.hasPrefix("amqp://") { useTLS = false; rest = rest.dropFirst(7) }
        else { throw invalid("the scheme must be amqp:// or amqps://") }

        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            address = path.isEmpty ? nil : String(path)
        } else {
            authority = rest
            address = nil
        }
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            let userPart = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
            guard let decodedUser = Self.percentDecoded(userPart) else { throw invalid("bad percent-encoding in the user") }
            user = decodedUser
            if let colon = userInfo.firstIndex(of: ":") {
                guard let decoded = Self.percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                    throw invalid("bad percent-encoding in the password")
                }
                password = decoded
            } else {
                password = nil
            }
        } else {
            user = nil
            password = nil
        }
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unclosed [ in the host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw invalid("text after ]") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw invalid("no host") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw invalid("bad port '\(portText)'") }
            port = p
        } else {
            port = useTLS ? 5671 : 5672
        }
    }

    /// The URL with the password masked, for logs.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let u = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "\(useTLS ? "amqps" : "amqp")://\(u)\(h):\(port)" + (address.map { "/\($0)" } ?? "")
    }

    private static func percentDecoded(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
            bytes.append(h << 4 | l)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

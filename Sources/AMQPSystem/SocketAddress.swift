import Glibc

/// An address family for ``Socket/open(_:_:)`` (`AF_*`).
///
/// Threading: a value; `Sendable`.
public struct AddressFamily: RawRepresentable, Hashable, Sendable {
    /// The C `AF_*` constant.
    public let rawValue: CInt
    /// Wraps a C `AF_*` constant.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// `AF_INET`.
    public static var ipv4: AddressFamily { AddressFamily(rawValue: AF_INET) }
    /// `AF_INET6`.
    public static var ipv6: AddressFamily { AddressFamily(rawValue: AF_INET6) }
    /// `AF_UNIX`.
    public static var unix: AddressFamily { AddressFamily(rawValue: AF_UNIX) }
}

/// A socket address (C `struct sockaddr_storage` and its length), as getaddrinfo(3) and
/// getsockname(2) return it.
///
/// Threading: a value; `Sendable`.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    /// The address family.
    public var family: AddressFamily { AddressFamily(rawValue: CInt(storage.ss_family)) }

    /// The port of an IPv4 or IPv6 address, in host byte order.
    public var port: UInt16? {
        switch family {
        case .ipv4: return withSockaddr(as: sockaddr_in.self) { UInt16(bigEndian: $0.sin_port) }
        case .ipv6: return withSockaddr(as: sockaddr_in6.self) { UInt16(bigEndian: $0.sin6_port) }
        default: return nil
        }
    }

    /// "host:port" for IPv4, "[host]:port" for IPv6 (inet_ntop(3)).
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = self.family
        let ok: Bool = withUnsafePointer(to: storage) { raw in
            // inet_ntop reads the in_addr/in6_addr inside the storage, sized by the family.
            switch family {
            case .ipv4:
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    withUnsafePointer(to: sin.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) != nil }
                }
            case .ipv6:
                return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    withUnsafePointer(to: sin6.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) != nil }
                }
            default:
                return false
            }
        }
        guard ok, let port else { return "address of family \(family.rawValue)" }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Copies `length` bytes of a C address.
    init(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        var storage = sockaddr_storage()
        // Never more than sockaddr_storage holds; the caller vouches for `length` bytes at `address`.
        let count = min(Int(length), MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: count)) }
        self.storage = storage
        self.length = socklen_t(count)
    }

    /// An empty address for a call to fill in.
    init() {
        storage = sockaddr_storage()
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    }

    private func withSockaddr<T, R>(as type: T.Type, _ body: (T) -> R) -> R {
        // sockaddr_storage is sized and aligned for every sockaddr_* type; the family says which.
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: type, capacity: 1) { body($0.pointee) } }
    }

    /// Calls `body` with the address as a C `sockaddr` pointer and its length.
    func withSockaddrPointer<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        // The C idiom: sockaddr_storage is read through a sockaddr pointer; the length bounds it.
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }

    /// Resolves a host and port to stream-socket addresses (getaddrinfo(3)).
    /// - Parameters:
    ///   - host: a name or numeric address; nil with `passive` for every local address.
    ///   - port: a port number or service name.
    ///   - passive: addresses to bind to rather than connect to (`AI_PASSIVE`).
    /// - Returns: the addresses in the order the resolver prefers; never empty.
    /// - Throws: ``AddressResolutionError``.
    public static func resolve(host: String?, port: String, passive: Bool = false) throws(AddressResolutionError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let status: CInt
        if let host {
            status = getaddrinfo(host, port, &hints, &list)
        } else {
            status = getaddrinfo(nil, port, &hints, &list)
        }
        guard status == 0 else {
            throw AddressResolutionError(code: status, systemError: status == EAI_SYSTEM ? Errno(rawValue: errno) : nil)
        }
        // The list is owned by getaddrinfo until freeaddrinfo; each address is copied out first.
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var next = list
        while let info = next {
            if let address = info.pointee.ai_addr {
                addresses.append(SocketAddress(address, length: info.pointee.ai_addrlen))
            }
            next = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw AddressResolutionError(code: EAI_NONAME, systemError: nil) }
        return addresses
    }
}

/// A failure of getaddrinfo(3): its `EAI_*` code, which is not an errno.
///
/// Threading: a value; `Sendable`.
public struct AddressResolutionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `EAI_*` code.
    public let code: CInt
    /// The errno, when the code is `EAI_SYSTEM`.
    public let systemError: Errno?

    /// Wraps an `EAI_*` code and, for `EAI_SYSTEM`, the errno.
    public init(code: CInt, systemError: Errno?) {
        self.code = code
        self.systemError = systemError
    }

    /// The resolver's message, e.g. "Name or service not known" (gai_strerror(3)).
    public var description: String {
        if let systemError { return systemError.description }
        // gai_strerror returns static text.
        guard let text = gai_strerror(code) else { return "resolver error \(code)" }
        return String(cString: text)
    }
}

/// What the first bytes of an accepted connection are, for a listener that serves plaintext AMQP
/// and TLS on one port (as Proton's "allow unsecured client" does).
///
/// ```swift
/// let space = driver.readBuffer()                 // read the first bytes where AMQP would go
/// let n = try socket.read(into: space)
/// switch DetectedProtocol.detect(UnsafeRawBufferPointer(rebasing: space[..<n])) {
/// case .amqp: driver.readDone(n)                  // plaintext: on as without TLS
/// case .tls:  tls = try TLSSession(context: context)
///             _ = tls.read(UnsafeRawBufferPointer(rebasing: space[..<n])) // a few bytes copied once
/// case .needMoreBytes: ...                        // keep them, read more, detect again
/// }
/// ```
///
/// Threading: a value; Sendable.
public enum DetectedProtocol: Sendable, Hashable {
    /// A TLS ClientHello: a handshake record (content type 22, version 3.x), or an SSLv2-style
    /// ClientHello header.
    case tls
    /// Not TLS: hand the bytes to the driver, which checks the AMQP header (any other protocol
    /// fails there, with the driver's own error).
    case amqp
    /// Too few bytes to tell (at most 3 are ever needed): read more.
    case needMoreBytes

    /// Looks at the first bytes a client sent.
    /// - Parameter bytes: the stream's first bytes (any number; only the first 3 are read).
    /// - Returns: ``tls``, ``amqp`` or ``needMoreBytes``.
    public static func detect(_ bytes: some Collection<UInt8>) -> DetectedProtocol {
        var iterator = bytes.makeIterator()
        guard let first = iterator.next() else { return .needMoreBytes }
        if first == 22 {                                   // TLS record: handshake
            guard let major = iterator.next() else { return .needMoreBytes }
            guard major == 3 else { return .amqp }
            guard let minor = iterator.next() else { return .needMoreBytes }
            return minor <= 4 ? .tls : .amqp               // SSL 3.0, TLS 1.0 ... 1.3 record versions
        }
        if first & 0x80 != 0 {                             // SSLv2-style header: length, then type 1
            guard iterator.next() != nil, let type = iterator.next() else { return .needMoreBytes }
            return type == 1 ? .tls : .amqp
        }
        return .amqp                                       // "AMQP..." and anything else
    }
}

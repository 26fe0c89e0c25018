import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPTLS

// Design note.
//
// A `TLSLayer` is the `TransportLayer` a proactor backend calls for one TLS connection: it puts an
// `AMQPTLS.TLSSession` between the socket and the `ConnectionDriver`, as
// `Tests/AMQPTLSTests/Support/TLSDriverHost.swift` does by hand (Docs/Security.md):
//
//   socket ──read──▶ readBuffer(driver:) = the session's ring ─ decrypt ─▶ driver.readBuffer()
//   socket ◀─send─── output(driver:early:) = the session's ring ◀─ encrypt ─ driver.pendingOutput
//
// Plaintext is never copied here: `decrypt(to:readDone:)` writes into the driver's read buffer,
// `encrypt` reads the driver's pending output where it is. A readiness backend reads ciphertext
// straight into the session's ring; a completion backend's buffers are copied into it
// (`read(_:driver:)`), and what the ring cannot take yet waits in `backlog`, so that every byte is
// taken as the contract requires.
//
// A server may serve plaintext and TLS on one port (`allowPlaintext`): until the first bytes say
// which (`DetectedProtocol`), the driver's own read buffer is lent to the socket; AMQP goes on
// there with no copy and no session at all, TLS makes the session and hands it those few bytes.
//
// Failures: the session's error fails the driver's transport (condition and description from
// `TLSError`), and the driver is closed both ways, so it finishes; any alert OpenSSL queued is
// still output, which the backend writes before it closes the socket. A failure met in an early
// write (inside the application's send) is kept and reported by the next call that is not early.
// Once the driver's input is closed (it read the peer's AMQP close) a failure is no longer an
// error: a peer that closes its socket without close_notify after the AMQP close did nothing wrong.

/// TLS between a proactor connection's socket and its driver: the `TransportLayer`
/// over an `AMQPTLS` session, for every backend (epoll, io_uring, the poll poller, your own).
///
/// ```swift
/// let context = try TLSContext(configuration: .client(serverName: "broker.example.com"))
/// proactor.connect(to: "broker.example.com:5671", configuration: config,
///                  layer: try TLSLayer(context: context))
/// // or, with the host name taken from the address:
/// try proactor.connect(to: "broker.example.com:5671", configuration: config, tls: context)
///
/// // A listener (in its listenerAccept event):
/// listener.accept(configuration: config, layer: try TLSLayer(context: serverContext))
/// ```
///
/// On a server, once the handshake is done and before the driver reads a byte, the driver's
/// `ConnectionDriver.saslTransport` is set to a secure transport with the client
/// certificate's subject (if it sent one) as the identity for SASL EXTERNAL. A failure (an unknown
/// CA, a wrong host name, plaintext to a TLS port, a record cut short) ends the connection with a
/// transport error carrying OpenSSL's reason (`TLSError.description`) and the condition
/// `TLSError.suggestedCondition`; the proactor and its other connections go on.
///
/// One layer serves one connection; make a new one for each (they share the `TLSContext`).
///
/// Threading: not Sendable. Made on any thread and handed to the proactor with its connection;
/// from then on used only by the thread holding that connection's batch. The application may read
/// its properties (`session`, `failure`, `detected`) in that connection's batches.
public final class TLSLayer: TransportLayer {
    /// The context the session is made from.
    public let context: TLSContext
    /// Whether a server also serves plaintext AMQP on its port (the first bytes decide).
    public let allowsPlaintext: Bool

    private enum Mode {
        /// A server that allows plaintext, before the first bytes.
        case detecting
        /// Through the session.
        case tls
        /// A plaintext client on a port that allows it: bytes pass through.
        case plaintext
    }

    private var mode: Mode
    private let isServer: Bool
    /// The session; nil while detecting, and for a plaintext connection.
    public private(set) var session: TLSSession?
    /// The TLS failure that ended the connection, if any.
    public private(set) var failure: TLSError?
    /// The failure was handed to the driver (or dropped, once the driver had finished reading).
    private var failureReported = false
    // What the session says, kept here: asking it (its computed properties copy its optional
    // failure) cost about a tenth of the TLS path per message in request/response.
    /// A failure is known (`failure` is set).
    private var failed = false
    /// No more plaintext will come: close_notify, or the end (seen by `decrypt(_:)`).
    private var sessionInputClosed = false
    /// Our close_notify is queued (`TLSSession.close()` called).
    private var closeQueued = false
    /// Input waits for a decrypt call: room was made in the output ring for a session that had
    /// stopped for it, or the driver's buffer filled.
    private var decryptPending = false
    /// A server's driver has been told its transport (saslTransport).
    private var described: Bool
    /// Detecting: the first bytes, while fewer than `DetectedProtocol` needs.
    private var held: [UInt8] = []
    /// Detecting on a readiness backend: the driver's read buffer lent to the socket.
    private var lent = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Ciphertext a completion backend gave us that the session's ring had no room for yet.
    private var backlog: [UInt8] = []
    private var backlogStart = 0
    /// The socket's input ended (given to the session once the backlog is in).
    private var inputEnded = false
    /// Ciphertext arrived at all (a server's connection that ends without a byte is a probe).
    private var receivedAny = false
    /// Plaintext: the driver's output block handed out, kept until reported.
    private var plainBlock: ArraySlice<UInt8> = []
    private var plainOutstanding = 0

    /// Makes the layer of one connection.
    /// - Parameters:
    ///   - context: a client's or a server's context (its role decides this layer's).
    ///   - serverName: a client's server name for SNI and the host name check, overriding the
    ///     configuration's `TLSConfiguration.serverName`; ignored by servers.
    ///   - allowPlaintext: a server that also takes plaintext AMQP clients on the same port (it
    ///     looks at their first bytes, as Proton's "allow unsecured client" does). Their driver's
    ///     `ConnectionDriver.saslTransport` stays insecure.
    /// - Throws: `TLSError` of kind `configuration`: a client that checks host names
    ///   with no server name, `allowPlaintext` on a client, or OpenSSL unable to make a session.
    public init(context: TLSContext, serverName: String? = nil, allowPlaintext: Bool = false) throws(TLSError) {
        self.context = context
        self.allowsPlaintext = allowPlaintext
        isServer = context.configuration.role == .server
        described = !isServer
        if !isServer && allowPlaintext {
            throw TLSError(kind: .configuration, reason: "allowPlaintext is for servers: a TLS client never falls back to plaintext",
                           context: "cannot make a TLS layer")
        }
        if allowPlaintext {
            mode = .detecting
        } else {
            session = try TLSSession(context: context, serverName: serverName)
            mode = .tls
        }
    }

    /// What the connection turned out to be: `.tls` or `.amqp` (plaintext, on a server that
    /// allows it), `.needMoreBytes` while a server that allows both has not seen enough.
    public var detected: DetectedProtocol {
        switch mode {
        case .detecting: return .needMoreBytes
        case .tls: return .tls
        case .plaintext: return .amqp
        }
    }

    // MARK: input

    /// See `TransportLayer.readBuffer(driver:)`: the session's input ring (or,
    /// before detection and for plaintext, the driver's own buffer).
    public func readBuffer(driver: ConnectionDriver) -> UnsafeMutableRawBufferPointer {
        switch mode {
        case .tls:
            guard let session, backlog.isEmpty else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
            return session.readBuffer()
        case .plaintext:
            return driver.readBuffer()
        case .detecting:
            lent = driver.readBuffer()
            return lent
        }
    }

    /// See `TransportLayer.readDone(_:driver:)`.
    public func readDone(_ count: Int, driver: ConnectionDriver) {
        guard count > 0 else { return }
        switch mode {
        case .tls:
            guard let session else { return }
            receivedAny = true
            session.readDone(count)
            decrypt(driver)
        case .plaintext:
            driver.readDone(count)
        case .detecting:
            // The bytes sit in the driver's read buffer, not yet reported to it.
            detect(UnsafeRawBufferPointer(rebasing: lent[..<count]), inDriverBuffer: true, driver)
        }
    }

    /// See `TransportLayer.read(_:driver:)`: copied into the session's ring, as
    /// much as it takes, the rest kept until it has room.
    public func read(_ bytes: UnsafeRawBufferPointer, driver: ConnectionDriver) {
        guard !bytes.isEmpty else { return }
        switch mode {
        case .tls: feed(bytes, driver)
        case .plaintext: driver.read(bytes)
        case .detecting: detect(bytes, inDriverBuffer: false, driver)
        }
    }

    /// See `TransportLayer.readClose(driver:)`.
    public func readClose(driver: ConnectionDriver) {
        switch mode {
        case .detecting:
            // Too few bytes to tell: the driver judges them (and the end).
            mode = .plaintext
            if !held.isEmpty {
                held.withUnsafeBytes { driver.read($0) }
                held = []
            }
            driver.readClose()
        case .plaintext:
            driver.readClose()
        case .tls:
            guard !inputEnded else { return }
            inputEnded = true
            if isServer && !receivedAny {
                // A probe (a port check) that connected and left without a byte: no handshake was
                // cut short, so no TLS error; the driver judges the end, as without TLS.
                driver.readClose()
                return
            }
            pump(driver)
        }
    }

    /// Looks at a server's first bytes: plaintext goes on without a session, TLS makes one.
    private func detect(_ bytes: UnsafeRawBufferPointer, inDriverBuffer: Bool, _ driver: ConnectionDriver) {
        let verdict = held.isEmpty ? DetectedProtocol.detect(bytes) : DetectedProtocol.detect(held + bytes.prefix(3))
        switch verdict {
        case .needMoreBytes:
            held += bytes
        case .amqp:
            mode = .plaintext
            if held.isEmpty {
                if inDriverBuffer { driver.readDone(bytes.count) } else { driver.read(bytes) }
            } else {
                let all = held + bytes
                held = []
                all.withUnsafeBytes { driver.read($0) }
            }
        case .tls:
            mode = .tls
            do {
                session = try TLSSession(context: context)
            } catch {
                return fail(error, driver)
            }
            // The few bytes of the ClientHello read so far: copied once into the session's ring.
            let all = held + bytes
            held = []
            all.withUnsafeBytes { feed($0, driver) }
        }
    }

    /// Hands ciphertext in the backend's memory to the session, decrypting as the ring fills;
    /// what the ring cannot take waits in the backlog.
    private func feed(_ bytes: UnsafeRawBufferPointer, _ driver: ConnectionDriver) {
        guard let session, !failureReported else { return }
        receivedAny = true
        if !backlog.isEmpty {
            backlog += bytes
            pump(driver)
            return
        }
        var rest = bytes[...]
        while !rest.isEmpty {
            let taken = session.read(UnsafeRawBufferPointer(rebasing: rest))
            rest = rest.dropFirst(taken)
            decrypt(driver)
            // Nothing more can be read: what is left is dropped.
            if failureReported || sessionInputClosed { return }
            if taken == 0 && session.readBuffer().isEmpty {
                // The session stopped for room in its output: the rest waits for writeDone.
                backlog += rest
                return
            }
        }
    }

    /// Moves the backlog into the session, gives it the end of input once the backlog is in, and
    /// decrypts what is ready.
    private func pump(_ driver: ConnectionDriver) {
        guard let session else { return }
        if !backlog.isEmpty {
            while backlogStart < backlog.count {
                let taken = backlog.withUnsafeBytes { session.read(UnsafeRawBufferPointer(rebasing: $0[backlogStart...])) }
                backlogStart += taken
                decrypt(driver)
                if failureReported || sessionInputClosed { break }
                if taken == 0 && session.readBuffer().isEmpty { return }
            }
            backlog = []
            backlogStart = 0
        }
        if inputEnded && !failureReported { session.readClose() }
        decrypt(driver)
    }

    /// Decrypts what is ready straight into the driver's read buffer; tells a server's driver
    /// its transport first; closes the driver's input once the session's is (close_notify).
    private func decrypt(_ driver: ConnectionDriver) {
        guard let session, !failureReported else { return }
        do {
            try session.decrypt(to: driver.readBuffer, readDone: { count in
                if !described { describe(driver) }
                driver.readDone(count)
            })
        } catch {
            return fail(error, driver)
        }
        if !described && session.isHandshakeComplete { describe(driver) }
        // Stopped with more to give (the driver's buffer was full, say): the next output call goes on.
        decryptPending = session.wantsDecrypt
        if session.isInputClosed {
            // A failure that came after the last plaintext ends the connection with its reason.
            if let failure = session.failure { return fail(failure, driver) }
            sessionInputClosed = true
            if !driver.isTailClosed { driver.readClose() }
        }
    }

    /// A server's handshake is done: the driver's SASL layer learns that the transport is secure,
    /// and whose certificate the client presented (verified; for EXTERNAL).
    private func describe(_ driver: ConnectionDriver) {
        described = true
        driver.saslTransport = SASLTransport(isSecure: true, externalIdentity: session?.peerCertificateSubject)
    }

    /// Ends the connection with a TLS failure: the driver's transport error (unless its input had
    /// closed already: then the AMQP close came first and nothing is wrong), and the driver closed
    /// both ways. What the session still has to write (an alert) stays in `output(driver:early:)`.
    private func fail(_ error: TLSError, _ driver: ConnectionDriver) {
        if failure == nil { failure = error }
        failed = true
        guard !failureReported else { return }
        failureReported = true
        backlog = []
        backlogStart = 0
        if !driver.isTailClosed {
            driver.failTransport(AMQPError(condition: Symbol(error.suggestedCondition), description: error.description))
            driver.readClose()
        }
        driver.writeClose()
    }

    // MARK: output

    /// See `TransportLayer.output(driver:early:)`: the driver's pending output is
    /// encrypted into the session's output ring (after the handshake; a close_notify once the
    /// driver's output has closed), and the ring's next ciphertext is returned.
    public func output(driver: ConnectionDriver, early: Bool) -> UnsafeRawBufferPointer {
        switch mode {
        case .detecting:
            return UnsafeRawBufferPointer(start: nil, count: 0)
        case .plaintext:
            plainBlock = driver.takeOutputBlock()
            plainOutstanding = plainBlock.count
            // The block stays put and unchanged until reported (takeOutputBlock's promise), and
            // `plainBlock` keeps its storage alive; the pointer is valid that long.
            return plainBlock.withUnsafeBytes { $0 }
        case .tls:
            guard let session else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            if !early {
                // Input that waited (the backlog, a session that stopped for room, the end).
                if decryptPending || !backlog.isEmpty || inputEnded && receivedAny && !sessionInputClosed { pump(driver) }
                if failed && !failureReported, let failure { fail(failure, driver) }
            }
            if !failed && !closeQueued {
                let pending = driver.pendingOutput
                // Nothing to encrypt is the common case: no call into the session for it.
                if !pending.isEmpty {
                    do {
                        let taken = try session.encrypt(pending)
                        if taken > 0 { driver.writeDone(taken) }
                    } catch {
                        // Inside the application's send: the driver hears of it at the next call.
                        if early {
                            if failure == nil { failure = error }
                            failed = true
                        } else {
                            fail(error, driver)
                        }
                    }
                }
                // Our last frame is out: close_notify follows it.
                if driver.isHeadClosed {
                    closeQueued = true
                    session.close()
                }
            }
            return session.outputBuffer()
        }
    }

    /// See `TransportLayer.writeDone(_:driver:)`.
    public func writeDone(_ count: Int, driver: ConnectionDriver) {
        switch mode {
        case .tls:
            // Room in the ring: a handshake or close_notify waiting for it goes on (inside the
            // session); input that waited for the room is decrypted by the next output call.
            guard let session else { return }
            session.writeDone(count)
            if session.wantsDecrypt { decryptPending = true }
        case .plaintext:
            plainBlock = []
            plainOutstanding -= count
            driver.writeDone(count)
        case .detecting:
            break
        }
    }

    /// See `TransportLayer.hasOutput(driver:)`: ciphertext in the ring.
    public func hasOutput(driver: ConnectionDriver) -> Bool {
        switch mode {
        case .tls: return session?.hasOutput ?? false
        case .plaintext: return plainOutstanding > 0 || !driver.isHeadClosed && !driver.pendingOutput.isEmpty
        case .detecting: return false
        }
    }

    /// See `TransportLayer.wantsInput(driver:)`: until the session's input closes
    /// (close_notify, the end, a failure), even after the driver's (so that the peer's
    /// close_notify or alert is read), while its ring has room.
    public func wantsInput(driver: ConnectionDriver) -> Bool {
        switch mode {
        case .tls:
            guard let session, !failureReported, backlog.isEmpty, !inputEnded, !sessionInputClosed else { return false }
            return !session.readBuffer().isEmpty
        case .plaintext: return !driver.isTailClosed
        case .detecting: return true
        }
    }
}

@available(*, unavailable)
extension TLSLayer: Sendable {}

import COpenSSL

// Design note.
//
// A session is one OpenSSL `SSL` that does no IO, in the shape of Proton's `pn_tls` and
// swift-nio-ssl's `SSLConnection`. Below the `SSL` sits a BIO pair (`BIO_new_bio_pair`): two
// memory BIOs joined back to back, each with a ring buffer of `bufferSize` bytes allocated once.
// OpenSSL reads ciphertext from, and writes ciphertext to, its half (`internalBIO`); the host
// reaches the other half (`networkBIO`) through this class:
//
//   socket ──read(2)──▶ readBuffer() ═ networkBIO ring ──▶ SSL (record buffer, decrypt)
//                                                               │ decrypt(into: driver.readBuffer())
//   socket ◀─send(2)── outputBuffer() ═ internalBIO ring ◀── SSL (encrypt) ◀── encrypt(driver.pendingOutput)
//
// `readBuffer()` and `outputBuffer()` are windows into the rings themselves (`BIO_nwrite0`,
// `BIO_nread0`), so the socket reads into and sends from OpenSSL's memory: no copy of ours on
// either side. A pair rather than two `BIO_s_mem`: the rings are bounded (backpressure comes for
// free: a full ring makes OpenSSL stop and the host drain), allocated once (a pointer handed out
// stays valid until reported), and they offer those zero-copy windows.
//
// Plaintext is never copied by this class: `decrypt(into:)` has `SSL_read_ex` write into the
// caller's memory (the driver's read buffer) and `encrypt(_:)` has `SSL_write_ex` read from the
// caller's memory (the driver's pending output).
//
// Failures are sticky: the first one is kept (`failure`), thrown by the call that met it (or by the
// next call, when that call had already produced plaintext), and by every later call. OpenSSL may
// have queued an alert telling the peer why: the host writes `outputBuffer()` out before closing.

/// One TLS connection that does no IO: ciphertext from the socket in, plaintext for the AMQP
/// driver out, and the driver's output in, ciphertext for the socket out.
///
/// A host puts it between the socket and the `ConnectionDriver`, where the socket was:
///
/// ```swift
/// // input: socket → session → driver
/// let n = try socket.read(into: tls.readBuffer())       // into the session's own memory
/// if n == 0 { tls.readClose() } else { tls.readDone(n) }
/// let m = try tls.decrypt(into: driver.readBuffer())    // plaintext straight into the driver's
/// driver.readDone(m)                                      // (loop while tls.wantsDecrypt)
/// // output: driver → session → socket
/// let k = try driver.pendingOutput.withUnsafeBytes { try tls.encrypt($0) }
/// driver.writeDone(k)
/// tls.writeDone(try socket.send(tls.outputBuffer()))     // loop while tls.hasOutput
/// ```
///
/// `Docs/Security.md` has the whole loop. The handshake runs inside `decrypt` and `encrypt`: a
/// client's ClientHello is ready in ``outputBuffer()`` as soon as the session exists.
///
/// Threading: not Sendable. One thread at a time, like the driver it serves; sessions of one
/// ``TLSContext`` run on any threads independently.
public final class TLSSession {
    /// The context this session was made from (kept alive by the session).
    public let context: TLSContext
    /// Client or server.
    public let role: TLSConfiguration.Role

    /// The `SSL`, owned; it owns `internalBIO`.
    private let ssl: OpaquePointer
    /// Our half of the BIO pair, owned: the host writes ciphertext in, and reads ciphertext out.
    private let networkBIO: OpaquePointer

    private var handshakeCompleted = false
    private var storedFailure: TLSError?
    private var closeNotifyReceived = false
    /// The host called readClose(): the socket gave EOF.
    private var inputEnded = false
    /// close() was called (or a failure happened): no more plaintext is taken.
    private var outputClosed = false
    /// close() wants a close_notify written, and the output ring had no room yet.
    private var shutdownPending = false
    /// Set when input arrived or room was made after OpenSSL stopped for want of it.
    private var decryptUseful = false
    /// The last OpenSSL call stopped because the output ring was full.
    private var stalledOnOutput = false
    /// The first three bytes the peer sent, to tell "not TLS at all" from other failures.
    private var firstBytes: [UInt8] = []
    /// The server name this client sends (SNI) and checks, if any.
    private let requestedServerName: String?

    /// Makes a session for one connection. A client's ClientHello is in ``outputBuffer()`` when
    /// this returns.
    /// - Parameters:
    ///   - context: the shared context.
    ///   - serverName: a client's server name for this connection (SNI and host name check),
    ///     overriding the configuration's ``TLSConfiguration/serverName``. Ignored by servers.
    /// - Throws: ``TLSError`` of kind ``TLSError/Kind-swift.enum/configuration`` when a client
    ///   must check the host name and has none, or OpenSSL cannot make the session.
    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        let configuration = context.configuration
        self.context = context
        self.role = configuration.role
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else {
            throw TLSContext.configurationError("cannot create an OpenSSL session")
        }
        var internalBIO: OpaquePointer? = nil
        var networkBIO: OpaquePointer? = nil
        // BIO_new_bio_pair writes the two new BIOs through the pointers to our locals. The first
        // BIO's ring (written by OpenSSL) holds outgoing ciphertext, the second's (written by the
        // host) incoming ciphertext.
        guard BIO_new_bio_pair(&internalBIO, configuration.bufferSize, &networkBIO, configuration.bufferSize) == 1,
              let internalBIO, let networkBIO else {
            SSL_free(ssl)
            throw TLSContext.configurationError("cannot create the session's buffers")
        }
        // The SSL takes the one reference to internalBIO (same BIO for reading and writing).
        SSL_set_bio(ssl, internalBIO, internalBIO)
        self.ssl = ssl
        self.networkBIO = networkBIO
        // Partial writes: SSL_write_ex returns after each record, so `encrypt` can report what
        // was taken when the ring fills. Moving buffer: a retry after a full ring may pass the
        // same bytes at another address (the driver's pending output moves between calls).
        _ = camqp_ssl_set_mode(ssl, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))

        switch configuration.role {
        case .server:
            self.requestedServerName = nil
            SSL_set_accept_state(ssl)
        case .client:
            let name = serverName ?? configuration.serverName
            self.requestedServerName = name
            // From here on, deinit frees ssl and networkBIO if we throw.
            try configureClient(name: name, configuration: configuration)
            SSL_set_connect_state(ssl)
            // Write the ClientHello now, so the host has something to send.
            OpenSSLErrorQueue.clear()
            let result = SSL_do_handshake(ssl)
            handle(result: result)
        }
    }

    deinit {
        SSL_free(ssl)            // frees internalBIO
        BIO_free(networkBIO)
    }

    private func configureClient(name: String?, configuration: TLSConfiguration) throws(TLSError) {
        let checkName = configuration.verifyPeer && configuration.verifyHostname
        guard let name, !name.isEmpty else {
            if checkName {
                throw TLSError(kind: .configuration,
                               reason: "verifyHostname is on and no server name was given (set serverName, or turn verifyHostname off)",
                               context: "cannot start a TLS client session")
            }
            return
        }
        let isIPAddress: Bool = {
            // a2i_IPADDRESS parses an IPv4 or IPv6 literal into a new ASN1_OCTET_STRING, or NULL.
            guard let parsed = a2i_IPADDRESS(name) else { return false }
            ASN1_OCTET_STRING_free(parsed)
            return true
        }()
        OpenSSLErrorQueue.clear()
        if !isIPAddress {
            // SNI carries host names only (RFC 6066 §3).
            guard camqp_ssl_set_tlsext_host_name(ssl, name) == 1 else {
                throw TLSContext.configurationError("invalid server name \"\(name)\" for SNI")
            }
        }
        if checkName {
            let ok: Bool
            if isIPAddress {
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
            } else {
                SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                ok = SSL_set1_host(ssl, name) == 1
            }
            guard ok else { throw TLSContext.configurationError("cannot check the server name \"\(name)\"") }
        }
    }

    // MARK: state

    /// True once the handshake has completed (and, on a client, the server's certificate was
    /// accepted). Plaintext flows only then.
    ///
    /// With TLS 1.3 a client completes before the server has checked the client's certificate: a
    /// server that rejects it says so in an alert the client reads next, from ``decrypt(into:)``.
    public var isHandshakeComplete: Bool { handshakeCompleted }

    /// The first failure, if any: every call after it throws it again.
    public var failure: TLSError? { storedFailure }

    /// True once the peer's close_notify arrived: the peer will send nothing more, and the host
    /// tells the driver (`readClose()`) once ``decrypt(into:)`` has returned the rest.
    public var receivedCloseNotify: Bool { closeNotifyReceived }

    /// True when no more plaintext will come: close_notify received, the stream ended, or the
    /// session failed.
    public var isInputClosed: Bool { closeNotifyReceived || storedFailure != nil || (inputEnded && !decryptUseful) }

    /// True once ``close()`` was called or the session failed: ``encrypt(_:)`` takes nothing more.
    public var isOutputClosed: Bool { outputClosed || storedFailure != nil }

    /// True when ciphertext waits to be written: handshake messages, records, an alert or our
    /// close_notify. A host polls its socket for output while this is true.
    public var hasOutput: Bool { camqp_bio_pending(networkBIO) > 0 }

    /// True when a call to ``decrypt(into:)`` can make progress: ciphertext arrived (or the stream
    /// ended) since it last stopped for want of input, it stopped because the destination was full,
    /// or it stopped for room in the output and ``writeDone(_:)`` made some.
    public var wantsDecrypt: Bool {
        storedFailure == nil && !closeNotifyReceived && (decryptUseful || SSL_pending(ssl) > 0)
    }

    // MARK: ciphertext in

    /// Free space in the session's input ring, for the host to read ciphertext from the socket
    /// straight into; then ``readDone(_:)``.
    ///
    /// Empty when the ring is full (call ``decrypt(into:)`` to drain it), after ``readClose()``,
    /// and after a failure. The memory stays valid until the next call into the session; write
    /// only to it and do not keep the pointer. When the ring wraps, the space is its contiguous
    /// part: a host that wants more reads again after `readDone`.
    /// - Returns: the space, possibly empty.
    public func readBuffer() -> UnsafeMutableRawBufferPointer {
        guard !inputEnded, storedFailure == nil else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        var pointer: UnsafeMutablePointer<CChar>? = nil
        // BIO_nwrite0 points `pointer` at the contiguous free part of the ring networkBIO owns
        // and returns its length, without committing anything; the ring is never reallocated.
        let count = BIO_nwrite0(networkBIO, &pointer)
        guard count > 0, let pointer else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return UnsafeMutableRawBufferPointer(start: pointer, count: Int(count))
    }

    /// Reports that the host wrote `count` bytes of ciphertext into ``readBuffer()``. Nothing is
    /// decrypted yet: call ``decrypt(into:)`` next.
    /// - Parameter count: bytes written, at most the buffer's size.
    public func readDone(_ count: Int) {
        guard count > 0 else { return }
        var pointer: UnsafeMutablePointer<CChar>? = nil
        let space = BIO_nwrite0(networkBIO, &pointer)
        precondition(count <= Int(space), "readDone(\(count)) exceeds readBuffer() (\(space) bytes)")
        if firstBytes.count < 3, let pointer {
            // The bytes just written sit at `pointer` (the same contiguous space readBuffer gave).
            let raw = UnsafeRawBufferPointer(start: pointer, count: min(count, 3 - firstBytes.count))
            firstBytes.append(contentsOf: raw)
        }
        // Commits `count` bytes of the space BIO_nwrite0 described; `pointer` is not used again.
        _ = BIO_nwrite(networkBIO, &pointer, Int32(count))
        decryptUseful = true
    }

    /// Copies ciphertext the host already holds (a completion's buffer) into the session: as
    /// much as the input ring has room for. Decrypt (``decrypt(into:)``) and call again with the
    /// rest when this takes less than all.
    /// - Parameter ciphertext: bytes from the socket; the host's again when this returns.
    /// - Returns: how many bytes were taken, from the front.
    public func read(_ ciphertext: UnsafeRawBufferPointer) -> Int {
        var taken = 0
        while taken < ciphertext.count {
            let space = readBuffer()
            if space.isEmpty { break }
            let count = min(space.count, ciphertext.count - taken)
            // Both regions are valid for `count` bytes: `space` is the ring's free part and the
            // source slice is within `ciphertext`; they cannot overlap (ours vs the host's).
            space.baseAddress!.copyMemory(from: ciphertext.baseAddress! + taken, byteCount: count)
            readDone(count)
            taken += count
        }
        return taken
    }

    /// Reports that the socket gave EOF (or failed): no more ciphertext will come. After the
    /// plaintext still buffered, ``decrypt(into:)`` throws ``TLSError/Kind-swift.enum/unexpectedEOF``
    /// unless the peer's close_notify arrived first.
    public func readClose() {
        guard !inputEnded else { return }
        inputEnded = true
        decryptUseful = true
        // Marks our half closed for writing: OpenSSL reads what is buffered, then EOF.
        _ = camqp_bio_shutdown_wr(networkBIO)
    }

    // MARK: plaintext out

    /// Decrypts what the peer sent into `destination` (the driver's ``readBuffer()``, say), and
    /// runs the handshake: call it after every ``readDone(_:)``, ``read(_:)`` or ``readClose()``,
    /// even with an empty destination, and again while ``wantsDecrypt``.
    /// - Parameter destination: where plaintext goes; written from the start.
    /// - Returns: plaintext bytes written, 0 when none is ready (more ciphertext needed, the
    ///   destination is empty, output must be written first, or ``isInputClosed``).
    /// - Throws: ``TLSError`` when the handshake or a record fails, when the stream ended without
    ///   close_notify, or when the session had already failed. Plaintext decrypted before a failure
    ///   is returned first, and the failure thrown by the next call.
    public func decrypt(into destination: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int {
        if let storedFailure { throw storedFailure }
        if closeNotifyReceived { return 0 }
        var total = 0
        decryptUseful = false
        while true {
            OpenSSLErrorQueue.clear()
            if total == destination.count {
                if destination.count > 0 {
                    decryptUseful = true        // stopped for room: there may be more
                    break
                }
                // Nowhere to put plaintext: only move the handshake along.
                if handshakeCompleted { break }
                let result = SSL_do_handshake(ssl)
                if result == 1 {
                    updateHandshakeState()
                    continue                     // loops back here, and breaks
                }
                handle(result: result)
                break
            }
            var got = 0
            // SSL_read_ex writes at most `destination.count - total` bytes at `base + total`,
            // within the caller's buffer, and stores how many in `got`.
            let result = SSL_read_ex(ssl, destination.baseAddress! + total, destination.count - total, &got)
            if result == 1 {
                total += got
                updateHandshakeState()
                continue
            }
            handle(result: result)
            break
        }
        updateHandshakeState()
        if let storedFailure, total == 0 { throw storedFailure }
        return total
    }

    /// Decrypts everything ready into a reader that lends its memory piece by piece, such as a
    /// driver: `try tls.decrypt(to: driver.readBuffer, readDone: driver.readDone)`. Calls
    /// `buffer()` for space and `readDone(n)` for each piece written, until nothing more is ready.
    ///
    /// Once `buffer()` returns no space after the handshake (the driver's input is closed: it
    /// read the peer's AMQP close, or failed), whatever else arrives is decrypted and dropped, so
    /// that the peer's close_notify or alert is still seen and the input ring never fills.
    /// - Parameters:
    ///   - buffer: returns where the next plaintext goes (the driver's `readBuffer()`).
    ///   - readDone: told how many bytes were written there (the driver's `readDone(_:)`).
    /// - Returns: the plaintext bytes handed over in all (dropped bytes not counted).
    /// - Throws: as ``decrypt(into:)``, once the plaintext before the failure has been handed over.
    @discardableResult
    public func decrypt(to buffer: () -> UnsafeMutableRawBufferPointer, readDone: (Int) -> Void) throws(TLSError) -> Int {
        var total = 0
        while true {
            let space = buffer()
            if space.isEmpty && handshakeCompleted {
                try discardInput()
                return total
            }
            let count = try decrypt(into: space)
            if count > 0 {
                readDone(count)
                total += count
            }
            if count == 0 || space.isEmpty || !wantsDecrypt { return total }
        }
    }

    /// Decrypts and drops what is ready, for a reader that takes no more.
    private func discardInput() throws(TLSError) {
        try withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { (scratch) throws(TLSError) in
            while try decrypt(into: scratch) > 0 {}
        }
    }

    // MARK: plaintext in

    /// Encrypts plaintext (the driver's `pendingOutput`, say) into the output ring, running the
    /// handshake if it is not done.
    ///
    /// Takes nothing before the handshake completes, after ``close()``, or while the output ring
    /// is full (write ``outputBuffer()`` out and call again). After a call that took less than
    /// all, the next call must start with the bytes not taken (OpenSSL may have encrypted part of
    /// them already); the driver's `pendingOutput` does.
    /// - Parameter plaintext: the bytes to send; the caller's again when this returns.
    /// - Returns: how many bytes were taken, from the front; report them to the driver
    ///   (`writeDone`).
    /// - Throws: ``TLSError`` when the session has failed, or fails now.
    public func encrypt(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        if let storedFailure { throw storedFailure }
        if outputClosed { return 0 }
        // The handshake (or a post-handshake message) goes first, driven on its own: an SSL_write
        // while a handshake record waits for room in the ring would be a retry with other bytes,
        // which OpenSSL rejects ("bad length").
        if SSL_in_init(ssl) == 1 {
            OpenSSLErrorQueue.clear()
            let result = SSL_do_handshake(ssl)
            if result != 1 { handle(result: result) }
            updateHandshakeState()
            if let storedFailure { throw storedFailure }
            if result != 1 { return 0 }
        }
        if plaintext.isEmpty { return 0 }
        var total = 0
        while total < plaintext.count {
            OpenSSLErrorQueue.clear()
            var written = 0
            // SSL_write_ex reads at most `plaintext.count - total` bytes from inside the caller's
            // buffer and stores how many it took in `written`.
            let result = SSL_write_ex(ssl, plaintext.baseAddress! + total, plaintext.count - total, &written)
            if result == 1 {
                total += written
                updateHandshakeState()
                continue
            }
            handle(result: result)
            break
        }
        updateHandshakeState()
        if let storedFailure, total == 0 { throw storedFailure }
        return total
    }

    /// Encrypts from any bytes, such as the driver's `pendingOutput` (an `ArraySlice<UInt8>`):
    /// `driver.writeDone(try tls.encrypt(driver.pendingOutput))`. As ``encrypt(_:)-(UnsafeRawBufferPointer)``,
    /// reading contiguous storage in place (a non-contiguous collection is copied first).
    /// - Parameter plaintext: the bytes to send.
    /// - Returns: how many bytes were taken, from the front.
    /// - Throws: as ``encrypt(_:)-(UnsafeRawBufferPointer)``.
    public func encrypt(_ plaintext: some Collection<UInt8>) throws(TLSError) -> Int {
        let result: Result<Int, TLSError>? = plaintext.withContiguousStorageIfAvailable { buffer in
            Result { () throws(TLSError) in try encrypt(UnsafeRawBufferPointer(buffer)) }
        }
        if let result { return try result.get() }
        return try encrypt(Array(plaintext))
    }

    // MARK: ciphertext out

    /// The ciphertext to write to the socket next, in the session's output ring: send from it,
    /// then report with ``writeDone(_:)``.
    ///
    /// The bytes stay where they are, unchanged, until ``writeDone(_:)`` covers them, whatever
    /// else is called meanwhile (new ciphertext goes after them), so a completion-based host may
    /// send from this memory asynchronously while the session lives. When the ring wraps, this is
    /// the part up to its end; the rest comes after `writeDone`. Empty when nothing waits
    /// (``hasOutput`` is false).
    /// - Returns: the bytes.
    public func outputBuffer() -> UnsafeRawBufferPointer {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        // BIO_nread0 points `pointer` at the contiguous unread part of the ring OpenSSL writes
        // (internalBIO's, read through its peer networkBIO) and returns its length, consuming
        // nothing; that memory is not written again until BIO_nread consumes it.
        let count = BIO_nread0(networkBIO, &pointer)
        guard count > 0, let pointer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(count))
    }

    /// Reports that the host wrote `count` bytes of ``outputBuffer()`` to the socket. A handshake
    /// or a close_notify that was waiting for room goes on.
    /// - Parameter count: bytes written, at most the buffer's size.
    public func writeDone(_ count: Int) {
        guard count > 0 else { return }
        var pointer: UnsafeMutablePointer<CChar>? = nil
        let available = BIO_nread0(networkBIO, &pointer)
        precondition(count <= Int(available), "writeDone(\(count)) exceeds outputBuffer() (\(available) bytes)")
        // Consumes `count` bytes from the front of the ring; `pointer` is not used.
        _ = BIO_nread(networkBIO, &pointer, Int32(count))
        if stalledOnOutput {
            stalledOnOutput = false
            decryptUseful = true
            if SSL_in_init(ssl) == 1 && storedFailure == nil {
                OpenSSLErrorQueue.clear()
                let result = SSL_do_handshake(ssl)
                if result != 1 { handle(result: result) }
                updateHandshakeState()
            }
        }
        if shutdownPending { sendCloseNotify() }
    }

    /// Copies up to `destination.count` bytes of ciphertext out and consumes them: a convenience
    /// over ``outputBuffer()`` and ``writeDone(_:)`` for tests and hosts that copy anyway.
    /// - Parameter destination: where the ciphertext goes.
    /// - Returns: bytes copied.
    public func takeOutput(into destination: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while total < destination.count {
            let available = outputBuffer()
            if available.isEmpty { break }
            let count = min(available.count, destination.count - total)
            // `available` is the ring's unread part and the target slice lies within
            // `destination`; both hold `count` bytes and do not overlap.
            (destination.baseAddress! + total).copyMemory(from: available.baseAddress!, byteCount: count)
            writeDone(count)
            total += count
        }
        return total
    }

    // MARK: closing

    /// Ends our side: queues a close_notify in ``outputBuffer()`` (when the handshake completed
    /// and nothing failed) and takes no more plaintext. Write the output, then close the socket;
    /// waiting for the peer's close_notify is not needed (AMQP's own close comes first).
    public func close() {
        guard !outputClosed else { return }
        outputClosed = true
        guard storedFailure == nil, handshakeCompleted else { return }
        shutdownPending = true
        sendCloseNotify()
    }

    private func sendCloseNotify() {
        OpenSSLErrorQueue.clear()
        let result = SSL_shutdown(ssl)
        if result >= 0 {
            shutdownPending = false
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_WRITE:
            stalledOnOutput = true               // retried by writeDone
        default:
            shutdownPending = false              // nothing more to say
            OpenSSLErrorQueue.clear()
        }
    }

    // MARK: after the handshake

    /// The protocol version agreed, e.g. "TLSv1.3"; nil before the handshake completes.
    public var negotiatedProtocol: String? {
        guard handshakeCompleted else { return nil }
        // SSL_get_version returns a static string.
        return String(cString: SSL_get_version(ssl))
    }

    /// The cipher suite agreed, in OpenSSL's spelling, e.g. "TLS_AES_256_GCM_SHA384" or
    /// "ECDHE-RSA-AES128-GCM-SHA256"; nil before the handshake completes.
    public var negotiatedCipher: String? {
        guard handshakeCompleted, let cipher = SSL_get_current_cipher(ssl),
              let name = SSL_CIPHER_get_name(cipher) else { return nil }
        // The name is a static string of OpenSSL's cipher table.
        return String(cString: name)
    }

    /// The server name: on a server, the one the client sent for SNI (nil if it sent none); on a
    /// client, the one it sends and checks.
    public var serverName: String? {
        if role == .client { return requestedServerName }
        // Points into the session's own copy of the name; copied at once.
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    /// The subject of the peer's certificate in RFC 2253 form, e.g. "CN=client,O=Example"; nil
    /// before the handshake completes or when the peer sent none (a client not asked for one).
    /// This is the identity SASL EXTERNAL uses.
    public var peerCertificateSubject: String? {
        guard handshakeCompleted, let certificate = SSL_get0_peer_certificate(ssl),
              let name = X509_get_subject_name(certificate) else { return nil }
        return TLSSession.print(name)
    }

    /// The subject of the certificate that issued the peer's certificate, RFC 2253; nil as for
    /// ``peerCertificateSubject``.
    public var peerCertificateIssuer: String? {
        guard handshakeCompleted, let certificate = SSL_get0_peer_certificate(ssl),
              let name = X509_get_issuer_name(certificate) else { return nil }
        return TLSSession.print(name)
    }

    /// The peer's certificate in DER form (for a fingerprint or a pinned certificate); nil as for
    /// ``peerCertificateSubject``.
    public var peerCertificateDER: [UInt8]? {
        guard handshakeCompleted, let certificate = SSL_get0_peer_certificate(ssl) else { return nil }
        // i2d_X509 with a NULL output returns the encoded length only.
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { return nil }
        return [UInt8](unsafeUninitializedCapacity: Int(length)) { buffer, initialized in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            // i2d_X509 writes exactly `length` bytes at `cursor` (room for exactly that many).
            initialized = Int(max(0, i2d_X509(certificate, &cursor)))
        }
    }

    /// An X509_NAME as RFC 2253 text, through a temporary memory BIO.
    private static func print(_ name: OpaquePointer) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, camqp_xn_flag_rfc2253()) >= 0 else { return nil }
        let length = Int(camqp_bio_pending(bio))
        if length == 0 { return "" }
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            // BIO_read copies at most `length` bytes (the room we have) out of the memory BIO.
            initialized = Int(max(0, BIO_read(bio, buffer.baseAddress, Int32(length))))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: OpenSSL results

    private func updateHandshakeState() {
        if !handshakeCompleted && SSL_is_init_finished(ssl) == 1 { handshakeCompleted = true }
    }

    /// Classifies the result of a call that did not succeed: the caller stops either way. Records
    /// a failure, a close_notify, or that the output ring was full.
    private func handle(result: Int32) {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ:
            break                                 // more ciphertext needed
        case SSL_ERROR_WANT_WRITE:
            stalledOnOutput = true                // the output ring is full
        case SSL_ERROR_ZERO_RETURN:
            closeNotifyReceived = true
            OpenSSLErrorQueue.clear()
        default:
            fail(sslError: error)
        }
    }

    private func fail(sslError: Int32) {
        let entries = OpenSSLErrorQueue.drain()
        guard storedFailure == nil else { return }
        updateHandshakeState()
        let failure = classify(sslError: sslError, entries: entries)
        storedFailure = failure
        outputClosed = true
        shutdownPending = false
        decryptUseful = false
    }

    private func classify(sslError: Int32, entries: [OpenSSLErrorEntry]) -> TLSError {
        let duringHandshake = !handshakeCompleted
        let context = duringHandshake ? "TLS handshake failed" : "TLS connection failed"
        let primary = entries.first(where: { $0.library == ERR_LIB_SSL }) ?? entries.first
        let code = primary?.code ?? 0
        let reasonCode = primary?.reasonCode ?? 0
        func error(_ kind: TLSError.Kind, _ reason: String, peer: Bool = false, verify: Int32? = nil) -> TLSError {
            TLSError(kind: kind, reason: reason, context: context, raisedByPeer: peer,
                     duringHandshake: duringHandshake, openSSLCode: code, verifyResult: verify)
        }
        let reason = primary?.reason ?? "the stream ended"

        // Not TLS at all: the peer's first bytes are no TLS record (a handshake or an alert).
        if duringHandshake, !firstBytes.isEmpty, !TLSSession.looksLikeTLSRecord(firstBytes) {
            let what = role == .server ? "the client sent no TLS ClientHello (plaintext to a TLS port?)"
                                       : "the server answered without TLS (a plaintext port?)"
            return error(.notTLS, "\(reason): \(what)")
        }
        // The stream ended without close_notify.
        if reasonCode == SSL_R_UNEXPECTED_EOF_WHILE_READING || (sslError == SSL_ERROR_SYSCALL && entries.isEmpty) {
            let what: String
            if duringHandshake {
                what = "the peer closed the connection during the handshake"
            } else if SSL_has_pending(ssl) == 1 {
                what = "the stream ended in the middle of a TLS record"
            } else {
                what = "the stream ended without a TLS close_notify"
            }
            return error(.unexpectedEOF, "\(reason): \(what)")
        }
        if reasonCode == SSL_R_CERTIFICATE_VERIFY_FAILED {
            let verify = Int32(truncatingIfNeeded: SSL_get_verify_result(ssl))
            // X509_verify_cert_error_string returns a static string.
            let detail = String(cString: X509_verify_cert_error_string(Int(verify)))
            return error(TLSSession.kind(forVerifyResult: verify), "\(reason): \(detail)", verify: verify)
        }
        if reasonCode == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE {
            return error(.certificateRequired, reason)
        }
        // An alert from the peer: OpenSSL reports alert N as reason 1000 + N.
        if reasonCode >= 1000 && reasonCode < 1256 {
            return error(TLSSession.kind(forAlert: reasonCode - 1000, duringHandshake: duringHandshake), reason, peer: true)
        }
        return error(duringHandshake ? .handshakeFailure : .protocolError, primary?.text ?? reason)
    }

    /// A TLS record starts with content type 21 (alert) or 22 (handshake) and major version 3;
    /// an SSLv2-style ClientHello sets the top bit of its first byte.
    static func looksLikeTLSRecord(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first else { return true }
        if first & 0x80 != 0 { return true }
        guard first == 21 || first == 22 else { return false }
        return bytes.count < 2 || bytes[1] == 3
    }

    static func kind(forVerifyResult verify: Int32) -> TLSError.Kind {
        switch verify {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
            return .unknownCA
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            return .hostnameMismatch
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return .certificateNotYetValid
        default:
            return .certificateRejected
        }
    }

    /// TLS alert descriptions (RFC 8446 §6.2) to kinds.
    static func kind(forAlert alert: Int32, duringHandshake: Bool) -> TLSError.Kind {
        switch alert {
        case 48: return .unknownCA                       // unknown_ca
        case 45: return .certificateExpired              // certificate_expired
        case 116: return .certificateRequired            // certificate_required
        case 42, 43, 44, 46, 49: return .certificateRejected // bad/unsupported/revoked/unknown certificate, access_denied
        default: return duringHandshake ? .handshakeFailure : .protocolError
        }
    }
}

@available(*, unavailable)
extension TLSSession: Sendable {}

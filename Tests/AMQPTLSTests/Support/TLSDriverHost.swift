import AMQPCodec
import AMQPEngine
import AMQPTLS

/// One end of an AMQP connection as a backend runs it with TLS between the socket and the driver,
/// the socket replaced by byte queues: the calls here are the ones an epoll, io_uring or poll host
/// makes (Docs/Security.md). Without a session, a plain host (for TLS against plaintext).
final class TLSDriverHost {
    let driver: ConnectionDriver
    let tls: TLSSession!
    var events: [AMQPEvent] = []
    var tlsError: TLSError?
    /// The socket's receive queue (filled by the peer) and EOF once the peer closed its socket.
    var incoming: [UInt8] = []
    var incomingEOF = false
    /// The most bytes one read(2) or send(2) moves.
    var socketChunk = Int.max
    /// Whether this side has closed its socket (after writing everything).
    private(set) var socketClosed = false
    /// Write the driver's output as blocks (`takeOutputBlock`), as a completion-based host does.
    var useOutputBlocks = false

    init(driver: ConnectionDriver, tls: TLSSession?) {
        self.driver = driver
        self.tls = tls
    }

    /// The socket is readable: read into the session's ring, decrypt into the driver.
    func socketReadable() -> Bool {
        if tls == nil { return plainReadable() }
        var moved = false
        let space = tls.readBuffer()                              // 1. read(2) into the ring
        let count = min(space.count, incoming.count, socketChunk)
        if count > 0 {
            incoming.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            incoming.removeFirst(count)
            tls.readDone(count)
            moved = true
        } else if incoming.isEmpty && incomingEOF && !tls.isInputClosed && tls.failure == nil && space.count > 0 {
            tls.readClose()                                       //    read(2) returned 0
            moved = true
        }
        return deliverPlaintext() || moved
    }

    /// Decrypts into the driver's read buffer; hands the end of input and failures to the driver.
    @discardableResult
    func deliverPlaintext() -> Bool {
        guard tlsError == nil else { return false }
        var moved = false
        do {                                                      // 2. plaintext straight into the driver
            moved = try tls.decrypt(to: driver.readBuffer, readDone: driver.readDone) > 0
        } catch {
            fail(error)
            return true
        }
        if tls.isInputClosed && !driver.isTailClosed {            // close_notify (or EOF after it)
            driver.readClose()
            moved = true
        }
        return moved
    }

    /// The socket is writable: encrypt the driver's output, write the session's ciphertext.
    func socketWritable(to peer: TLSDriverHost) -> Bool {
        var moved = false
        guard !socketClosed else { return false }
        if tls == nil { return plainWritable(to: peer) }
        while true {
            if tlsError == nil {                                  // 3. driver output into the session
                do {
                    if useOutputBlocks {
                        // Encrypting is synchronous, so the block is reported at once; what
                        // goes out asynchronously is the session's ciphertext (outputBuffer).
                        let taken = try tls.encrypt(driver.takeOutputBlock())
                        if taken > 0 { driver.writeDone(taken); moved = true }
                    } else {
                        let taken = try tls.encrypt(driver.pendingOutput)
                        if taken > 0 { driver.writeDone(taken); moved = true }
                    }
                } catch {
                    fail(error)
                    moved = true
                }
            }
            if driver.isHeadClosed && !tls.isOutputClosed {       //    the driver wrote its last: close_notify
                tls.close()
            }
            let out = tls.outputBuffer()                          // 4. send(2) from the ring
            let count = min(out.count, socketChunk)
            if count == 0 { break }
            peer.incoming += UnsafeRawBufferPointer(rebasing: out[..<count])
            tls.writeDone(count)
            moved = true
            if tlsError == nil && tls.wantsDecrypt { deliverPlaintext() }  // a stalled handshake went on
        }
        if (driver.isHeadClosed || tlsError != nil) && !tls.hasOutput {
            socketClosed = true                                   // everything written: close the socket
            peer.incomingEOF = true
            moved = true
        }
        return moved
    }

    /// A TLS failure ends the connection with it: the driver reports it as its transport error and
    /// finishes (nothing more can be written through a failed session).
    private func fail(_ error: TLSError) {
        tlsError = error
        driver.failTransport(AMQPError(condition: Symbol(error.suggestedCondition), description: error.description))
        driver.writeClose()
        if !driver.isTailClosed { driver.readClose() }
    }

    private func plainReadable() -> Bool {
        if driver.isTailClosed { return false }
        let space = driver.readBuffer()
        let count = min(space.count, incoming.count, socketChunk)
        if count > 0 {
            incoming.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            incoming.removeFirst(count)
            driver.readDone(count)
            return true
        }
        if incoming.isEmpty && incomingEOF { driver.readClose(); return true }
        return false
    }

    private func plainWritable(to peer: TLSDriverHost) -> Bool {
        let out = driver.pendingOutput
        let count = min(out.count, socketChunk)
        if count > 0 {
            peer.incoming += out.prefix(count)
            driver.writeDone(count)
        }
        if driver.isHeadClosed && driver.pendingOutput.isEmpty {
            socketClosed = true
            peer.incomingEOF = true
            return true
        }
        return count > 0
    }

    func takeEvents() -> [AMQPEvent] {
        var taken: [AMQPEvent] = []
        while let event = driver.nextEvent() { taken.append(event) }
        events += taken
        return taken
    }
}

/// Two hosts joined by in-memory sockets.
final class TLSDriverPair {
    let client: TLSDriverHost
    let server: TLSDriverHost

    init(client: TLSDriverHost, server: TLSDriverHost) {
        self.client = client
        self.server = server
    }

    /// Runs both hosts until nothing moves; `onEvent` is the application.
    func pump(maxRounds: Int = 10_000_000, onEvent: (TLSDriverHost, AMQPEvent) -> Void = { _, _ in }) {
        for _ in 0..<maxRounds {
            var moved = false
            for (host, peer) in [(client, server), (server, client)] {
                for event in host.takeEvents() { onEvent(host, event) }
                moved = host.socketWritable(to: peer) || moved
                moved = peer.socketReadable() || moved
            }
            if !moved {
                let late = client.takeEvents().map { (client, $0) } + server.takeEvents().map { (server, $0) }
                for (host, event) in late { onEvent(host, event) }
                if late.isEmpty { return }
            }
        }
        fatalError("the pair did not settle")
    }
}

import AMQPTLS

/// One side of an in-memory connection: a session, the plaintext it has to send (as a driver's
/// `pendingOutput` would hold it), what it received, and its failure.
final class TLSEnd {
    let session: TLSSession
    var toSend: [UInt8] = []
    var received: [UInt8] = []
    var error: TLSError?
    /// The size of the destination handed to `decrypt` (a driver's read buffer).
    var plaintextBufferSize = 8 * 1024

    init(_ session: TLSSession) { self.session = session }

    /// What a host does with the plaintext side: hand over what the driver wants written,
    /// decrypt everything ready. Returns whether anything moved.
    func plaintextTurn() -> Bool {
        guard error == nil else { return false }
        var moved = false
        do {
            if !toSend.isEmpty || !session.isHandshakeComplete {
                let taken = try toSend.withUnsafeBytes { try session.encrypt($0) }
                if taken > 0 { toSend.removeFirst(taken); moved = true }
            }
            var buffer = [UInt8](repeating: 0, count: plaintextBufferSize)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try session.decrypt(into: $0) }
                if count == 0 { break }          // nothing more until ciphertext moves
                received += buffer[..<count]
                moved = true
            }
        } catch {
            self.error = (error as! TLSError)
            moved = true
        }
        return moved
    }
}

/// A client and a server session wired in memory, as `DriverPair` wires two drivers: `pump()`
/// moves ciphertext both ways, in pieces of at most `piece` bytes, until nothing moves.
final class TLSPair {
    let client: TLSEnd
    let server: TLSEnd
    /// The most ciphertext moved per transfer: small pieces split records and handshake messages.
    var piece = Int.max
    /// True: the socket side uses the zero-copy windows (`outputBuffer`/`readBuffer`); false: the
    /// copying calls (`takeOutput(into:)`/`read(_:)`).
    var zeroCopy = true
    /// Every ciphertext byte each way, in order, for tests that look at the wire.
    var clientWire: [UInt8] = []
    var serverWire: [UInt8] = []
    /// The copying mode's ciphertext taken from one side and not yet taken by the other, as a
    /// completion-based host holds it in its own buffers.
    private var inFlight: [ObjectIdentifier: [UInt8]] = [:]

    init(client: TLSSession, server: TLSSession) {
        self.client = TLSEnd(client)
        self.server = TLSEnd(server)
    }

    /// Makes both sessions from configurations.
    convenience init(client: TLSConfiguration, server: TLSConfiguration, serverName: String? = nil) throws {
        let clientContext = try TLSContext(configuration: client)
        let serverContext = try TLSContext(configuration: server)
        self.init(client: try TLSSession(context: clientContext, serverName: serverName),
                  server: try TLSSession(context: serverContext))
    }

    /// Moves ciphertext from `from` to `to`, one piece; returns the bytes moved.
    func transfer(from: TLSSession, to: TLSSession, wire: inout [UInt8]) -> Int {
        if zeroCopy {
            let out = from.outputBuffer()
            let space = to.readBuffer()
            let count = min(out.count, space.count, piece)
            guard count > 0 else { return 0 }
            space.baseAddress!.copyMemory(from: out.baseAddress!, byteCount: count)   // the "network"
            wire += UnsafeRawBufferPointer(rebasing: out[..<count])
            to.readDone(count)
            from.writeDone(count)
            return count
        } else {
            var pending = inFlight[ObjectIdentifier(from), default: []]
            if pending.isEmpty {
                var chunk = [UInt8](repeating: 0, count: min(piece, 64 * 1024))
                let out = chunk.withUnsafeMutableBytes { from.takeOutput(into: $0) }
                wire += chunk[..<out]
                pending = Array(chunk[..<out])
            }
            let taken = pending.withUnsafeBytes { to.read($0) }
            pending.removeFirst(taken)
            inFlight[ObjectIdentifier(from)] = pending
            return taken
        }
    }

    /// Runs both sides until nothing moves; returns the number of rounds.
    @discardableResult
    func pump(maxRounds: Int = 1_000_000) -> Int {
        for round in 0..<maxRounds {
            var moved = client.plaintextTurn()
            moved = server.plaintextTurn() || moved
            moved = transfer(from: client.session, to: server.session, wire: &clientWire) > 0 || moved
            moved = transfer(from: server.session, to: client.session, wire: &serverWire) > 0 || moved
            if !moved { return round }
        }
        fatalError("the pair did not settle in \(maxRounds) rounds")
    }
}

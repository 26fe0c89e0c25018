import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPProactorTLS

/// One end of a connection as a backend runs it through a ``TransportLayer``, its socket replaced
/// by a byte queue: the calls are the ones the epoll backend makes (`readBuffer`/`readDone`) or
/// the io_uring backend makes (`read(_:)` of whole received buffers). Without a layer, a plain
/// host (for plaintext against a listener that detects).
final class LayerEnd {
    let driver: ConnectionDriver
    let layer: (any TransportLayer)?
    /// How reads happen: into the layer's buffer (readiness) or from our memory (completion).
    var completionReads = false
    /// The most one read or write moves.
    var chunk = Int.max
    var inbox: [UInt8] = []
    var inboxEOF = false
    private(set) var readClosed = false
    private(set) var socketClosed = false
    var events: [AMQPEvent] = []
    var errors: [AMQPError] = []

    init(_ driver: ConnectionDriver, _ layer: (any TransportLayer)?) {
        self.driver = driver
        self.layer = layer
    }

    /// Moves what waits in the inbox into the layer (or the driver); whether anything moved.
    func readable() -> Bool {
        var moved = false
        while !inbox.isEmpty {
            let n: Int
            if let layer {
                guard layer.wantsInput(driver: driver) else { break }
                if completionReads {
                    n = min(chunk, inbox.count)
                    inbox.withUnsafeBytes { layer.read(UnsafeRawBufferPointer(rebasing: $0[..<n]), driver: driver) }
                } else {
                    let space = layer.readBuffer(driver: driver)
                    n = min(space.count, chunk, inbox.count)
                    if n == 0 { break }
                    inbox.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                    layer.readDone(n, driver: driver)
                }
            } else {
                guard !driver.isTailClosed else { break }
                let space = driver.readBuffer()
                n = min(space.count, chunk, inbox.count)
                inbox.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                driver.readDone(n)
            }
            inbox.removeFirst(n)
            moved = true
        }
        if inbox.isEmpty && inboxEOF && !readClosed {
            readClosed = true
            if let layer { layer.readClose(driver: driver) } else { driver.readClose() }
            moved = true
        }
        return moved
    }

    /// Writes what the layer (or the driver) has into the peer's inbox; closes the socket once
    /// the driver is finished and nothing is left, as a backend does.
    func writable(to peer: LayerEnd) -> Bool {
        guard !socketClosed else { return false }
        var moved = false
        while true {
            if let layer {
                let out = layer.output(driver: driver, early: false)
                let n = min(out.count, chunk)
                if n == 0 { break }
                peer.inbox += UnsafeRawBufferPointer(rebasing: out[..<n])
                layer.writeDone(n, driver: driver)
            } else {
                let out = driver.pendingOutput
                let n = min(out.count, chunk)
                if n == 0 || driver.isHeadClosed { break }
                peer.inbox += out.prefix(n)
                driver.writeDone(n)
            }
            moved = true
        }
        if driver.isFinished && !(layer?.hasOutput(driver: driver) ?? false) {
            socketClosed = true
            peer.inboxEOF = true
            moved = true
        }
        return moved
    }

    func takeEvents() -> [AMQPEvent] {
        var taken: [AMQPEvent] = []
        while let e = driver.nextEvent() {
            if case .transportError(let error) = e { errors.append(error) }
            taken.append(e)
        }
        events += taken
        return taken
    }
}

/// Runs two ends until nothing moves; `onEvent` is the application.
func pump(_ client: LayerEnd, _ server: LayerEnd, rounds: Int = 1_000_000, onEvent: (LayerEnd, AMQPEvent) -> Void) {
    for _ in 0..<rounds {
        var moved = false
        for (end, peer) in [(client, server), (server, client)] {
            for e in end.takeEvents() { onEvent(end, e) }
            moved = end.writable(to: peer) || moved
            moved = peer.readable() || moved
        }
        if !moved {
            let late = client.takeEvents().map { (client, $0) } + server.takeEvents().map { (server, $0) }
            for (end, e) in late { onEvent(end, e) }
            if late.isEmpty { return }
        }
    }
    fatalError("the pair did not settle")
}

/// The application of both ends: a client that sends `count` messages of `size` bytes and closes
/// once all are accepted; a server that answers in kind and accepts.
final class Exchange {
    let count: Int
    let size: Int
    var accepted = 0
    var received: [[UInt8]] = []
    var serverTransport: SASLTransport?

    init(count: Int, size: Int) {
        self.count = count
        self.size = size
    }

    func handle(_ end: LayerEnd, _ e: AMQPEvent) {
        let driver = end.driver
        switch e {
        case .connectionInit(let c) where driver.mode == .client:
            c.open()
            let s = c.session()
            s.begin()
            s.sender(name: "s", target: "q").attach()
        case .connectionRemoteOpen(let c):
            if driver.mode == .server { serverTransport = driver.saslTransport }
            if c.localState == .uninitialized { c.open() }
        case .sessionRemoteBegin(let s):
            if s.localState == .uninitialized { s.begin() }
        case .linkRemoteOpen(let l):
            if l.localState == .uninitialized {
                l.localTarget = l.remoteAttach?.target?.target
                l.attach()
                if l.role == .receiver { l.flow(credit: UInt32(count)) }
            }
        case .linkFlow(let l) where l.role == .sender:
            while l.credit > UInt32(l.queued) && Int(l.deliveryCount) + l.queued < count {
                l.send([UInt8](repeating: UInt8(truncatingIfNeeded: Int(l.deliveryCount) + l.queued), count: size))
            }
        case .delivery(let d) where d.link.role == .receiver && !d.isPartial && !d.locallySettled:
            received.append(Array(d.readPayload()))
            d.accept()
        case .delivery(let d) where d.link.role == .sender && d.remotelySettled:
            if d.remoteState == .accepted { accepted += 1 }
            if accepted == count { d.link.session.connection.close() }
        case .connectionRemoteClose(let c):
            if c.localState != .closed { c.close() }
        default:
            break
        }
    }
}

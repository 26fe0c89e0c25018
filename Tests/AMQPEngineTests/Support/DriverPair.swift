import AMQPCodec
@testable import AMQPEngine

/// Two drivers wired together in memory, as NIO's EmbeddedChannel wires a channel: bytes move
/// only when `pump()` is called, and time only when the test passes it in.
final class DriverPair {
    let client: ConnectionDriver
    let server: ConnectionDriver
    var clientEvents: [AMQPEvent] = []
    var serverEvents: [AMQPEvent] = []
    /// Largest chunk moved per write, to exercise partial frames.
    var chunk = Int.max

    init(client c: DriverConfiguration = DriverConfiguration(containerID: "client"),
         server s: DriverConfiguration = DriverConfiguration(containerID: "server")) {
        client = ConnectionDriver(mode: .client, configuration: c)
        server = ConnectionDriver(mode: .server, configuration: s)
    }

    /// A default client and a server configured by `configure`.
    convenience init(server configure: (inout DriverConfiguration) -> Void) {
        var s = DriverConfiguration(containerID: "server")
        configure(&s)
        self.init(server: s)
    }

    /// Moves bytes both ways and collects events until nothing moves.
    func pump(maxRounds: Int = 100_000) {
        for _ in 0..<maxRounds {
            let a = move(from: client, to: server)
            let b = move(from: server, to: client)
            while let e = client.nextEvent() { clientEvents.append(e) }
            while let e = server.nextEvent() { serverEvents.append(e) }
            if a == 0 && b == 0 { return }
        }
    }

    /// Pumps one round at a time, handing every delivery event on the server to `each`, until
    /// `each` returns true or `rounds` have passed: how a streaming receiver reads as bytes arrive.
    func pumpServerDeliveries(rounds: Int, _ each: (Delivery) -> Bool) {
        var done = false
        for _ in 0..<rounds where !done {
            pump(maxRounds: 1)
            for d in deliveries(serverEvents) where !done { done = each(d) }
            serverEvents.removeAll()
        }
    }

    @discardableResult
    func move(from: ConnectionDriver, to: ConnectionDriver) -> Int {
        let out = from.pendingOutput
        guard !out.isEmpty else { return 0 }
        let n = min(out.count, chunk)
        if to.isTailClosed {
            from.writeDone(n)
            return n
        }
        to.read(out.prefix(n))
        from.writeDone(n)
        return n
    }

    /// Opens the connection, one session and a sender/receiver link pair.
    func openLinkPair(credit: UInt32 = 0, sessionWindow: UInt32? = nil) -> (sender: Link, receiver: Link) {
        client.connection.open()
        let s = client.connection.session(incomingWindow: sessionWindow)
        s.begin()
        let sender = s.sender(name: "to-server", target: "q")
        sender.attach()
        pump()
        server.connection.open()
        let ss = server.connection.allSessions[0]
        ss.begin()
        let receiver = ss.allLinks.first { $0.name == "to-server" }!
        receiver.localTarget = receiver.remoteAttach?.target?.target
        receiver.attach()
        if credit > 0 { receiver.flow(credit: credit) }
        pump()
        return (sender, receiver)
    }

    /// The first transport error either side reported.
    var firstTransportError: AMQPError? {
        (clientEvents + serverEvents).lazy.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }.first
    }

    func deliveries(_ events: [AMQPEvent]) -> [Delivery] {
        events.compactMap { if case .delivery(let d) = $0 { return d } else { return nil } }
    }
}

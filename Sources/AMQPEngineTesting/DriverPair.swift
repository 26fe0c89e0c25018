import AMQPCodec
import AMQPEngine

/// Two drivers wired together in memory, as NIO's EmbeddedChannel wires a channel: bytes move
/// only when ``pump(maxRounds:)`` is called, and time only when the test passes it in.
///
/// Threading: not `Sendable`; like the drivers, a pair stays on one thread.
public final class DriverPair {
    /// The client-mode driver.
    public let client: ConnectionDriver
    /// The server-mode driver.
    public let server: ConnectionDriver
    /// Every event the client posted, in order, since the test last cleared them.
    public var clientEvents: [AMQPEvent] = []
    /// Every event the server posted, in order, since the test last cleared them.
    public var serverEvents: [AMQPEvent] = []
    /// Largest chunk moved per write, to exercise partial frames.
    public var chunk = Int.max

    /// A pair with these configurations; nothing is sent until a side opens and ``pump(maxRounds:)`` runs.
    public init(client c: DriverConfiguration = DriverConfiguration(containerID: "client"),
                server s: DriverConfiguration = DriverConfiguration(containerID: "server")) {
        client = ConnectionDriver(mode: .client, configuration: c)
        server = ConnectionDriver(mode: .server, configuration: s)
    }

    /// A default client and a server configured by `configure`.
    public convenience init(server configure: (inout DriverConfiguration) -> Void) {
        var s = DriverConfiguration(containerID: "server")
        configure(&s)
        self.init(server: s)
    }

    /// Moves bytes both ways and collects events until nothing moves.
    public func pump(maxRounds: Int = 100_000) {
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
    public func pumpServerDeliveries(rounds: Int, _ each: (Delivery) -> Bool) {
        var done = false
        for _ in 0..<rounds where !done {
            pump(maxRounds: 1)
            for d in deliveries(serverEvents) where !done { done = each(d) }
            serverEvents.removeAll()
        }
    }

    /// Moves at most ``chunk`` bytes from one side to the other; returns how many.
    @discardableResult
    public func move(from: ConnectionDriver, to: ConnectionDriver) -> Int {
        moveBytes(from: from, to: to, limit: chunk)
    }

    /// Opens the connection, one session and a sender/receiver link pair: the client sends, the
    /// server receives and grants `credit`.
    public func openLinkPair(credit: UInt32 = 0, sessionWindow: UInt32? = nil) -> (sender: Link, receiver: Link) {
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
    public var firstTransportError: AMQPError? {
        (clientEvents + serverEvents).lazy.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }.first
    }

    /// The deliveries among `events`, in order.
    public func deliveries(_ events: [AMQPEvent]) -> [Delivery] {
        events.compactMap { if case .delivery(let d) = $0 { return d } else { return nil } }
    }
}

@available(*, unavailable)
extension DriverPair: Sendable {}

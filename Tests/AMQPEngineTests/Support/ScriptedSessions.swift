import AMQPCodec
@testable import AMQPEngine

// Set-ups for scripted tests: a server-mode driver whose application is a Responder, with the
// connection open and one session begun on channel 0, and links attached frame by frame.
extension ScriptedPeer {
    /// A driver with an open connection and a session that the peer began on channel 0 with
    /// `window` as its incoming-window; the driver's answers are read and dropped.
    static func withSession(window: UInt32 = 2048, maxFrameSize: UInt32 = 65_536, credit: UInt32 = 0,
                            configure: (inout DriverConfiguration) -> Void = { _ in }) -> ScriptedPeer {
        var config = DriverConfiguration(containerID: "driver")
        configure(&config)
        let peer = ScriptedPeer(configuration: config)
        peer.application = { Responder(initialCredit: credit).respond(to: $0) }
        peer.connect(Open(containerID: "peer", maxFrameSize: maxFrameSize, channelMax: 255))
        peer.begin(incomingWindow: window)
        _ = peer.read()
        _ = peer.takeEvents()
        return peer
    }

    var session: Session { driver.connection.allSessions[0] }

    /// The peer attaches a receiving link: the driver's application gets a sender.
    @discardableResult
    func attachReceiver(handle: UInt32, name: String) -> Link {
        write(.attach(Attach(name: name, handle: handle, role: .receiver, source: Source(), target: .target(Target(address: "q")))))
        return session.allLinks.first { $0.name == name }!
    }

    /// The peer attaches a sending link: the driver's application gets a receiver.
    @discardableResult
    func attachSender(handle: UInt32, name: String, initialDeliveryCount: UInt32 = 0) -> Link {
        write(.attach(Attach(name: name, handle: handle, role: .sender, source: Source(address: "q"), target: .target(Target()),
                             initialDeliveryCount: initialDeliveryCount)))
        return session.allLinks.first { $0.name == name }!
    }

    /// A flow from the peer as receiver on `handle`.
    func grant(handle: UInt32, deliveryCount: UInt32?, credit: UInt32, nextIncomingID: UInt32?, window: UInt32,
               drain: Bool = false, echo: Bool = false) {
        write(.flow(Flow(nextIncomingID: nextIncomingID, incomingWindow: window, nextOutgoingID: 0, outgoingWindow: .max,
                         handle: handle, deliveryCount: deliveryCount, linkCredit: credit, drain: drain, echo: echo)))
    }

    /// A one-frame delivery from the peer as sender.
    func transfer(handle: UInt32, id: UInt32?, tag: [UInt8]? = nil, settled: Bool? = nil, more: Bool = false,
                  payload: [UInt8] = [0x00, 0x53, 0x77, 0x40]) {
        let t = tag ?? id.map { [UInt8(truncatingIfNeeded: $0)] }
        write(.transfer(Transfer(handle: handle, deliveryID: id, deliveryTag: t.map { Binary($0) }, settled: settled, more: more)),
              payload: payload)
    }
}

extension Array where Element == Performative {
    var transfers: [Transfer] { compactMap { if case .transfer(let t) = $0 { return t } else { return nil } } }
    var flows: [Flow] { compactMap { if case .flow(let f) = $0 { return f } else { return nil } } }
    var attaches: [Attach] { compactMap { if case .attach(let a) = $0 { return a } else { return nil } } }
    var detaches: [Detach] { compactMap { if case .detach(let d) = $0 { return d } else { return nil } } }
    var dispositions: [Disposition] { compactMap { if case .disposition(let d) = $0 { return d } else { return nil } } }
    var begins: [Begin] { compactMap { if case .begin(let b) = $0 { return b } else { return nil } } }
    var ends: [End] { compactMap { if case .end(let e) = $0 { return e } else { return nil } } }
    var names: [String] { map(\.name) }
}

extension Array where Element == AMQPEvent {
    var deliveries: [Delivery] { compactMap { if case .delivery(let d) = $0 { return d } else { return nil } } }
    var transportErrors: [AMQPError] { compactMap { if case .transportError(let e) = $0 { return e } else { return nil } } }
}

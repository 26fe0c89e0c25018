import AMQPCodec
import AMQPEngine

/// One thing the driver under test wrote, as the peer reads it.
package enum PeerInput: Equatable, CustomStringConvertible {
    case header(ProtocolHeader?)
    /// A frame; `performative` is nil for an empty frame (a heartbeat).
    case frame(channel: UInt16, performative: Performative?, payload: [UInt8])
    /// Bytes that do not parse as a frame.
    case garbage([UInt8])

    package var performative: Performative? {
        if case .frame(_, let p, _) = self { return p }
        return nil
    }

    package var description: String {
        switch self {
        case .header(let h): return "header \(h.map { "\($0)" } ?? "?")"
        case .frame(let c, let p, let payload): return "[\(c)] \(p.map { "\($0)" } ?? "(empty)")\(payload.isEmpty ? "" : " +\(payload.count) bytes")"
        case .garbage(let b): return "garbage \(b.prefix(16))"
        }
    }
}

/// The other end of a ``ConnectionDriver``, played frame by frame by the test: it writes exact
/// performatives into the driver and reads back, parsed, what the driver wrote. Where
/// ``DriverPair`` can only produce what a well-behaved driver does, this produces anything: a flow
/// that cuts credit with transfers in flight, a transfer on a detached link, frames after close.
///
/// Every event the driver posts is collected in ``events`` and, if set, handed to ``application``
/// first, which plays the driver's application (a ``Responder``, say).
///
/// Threading: not `Sendable`; stays on the test's thread.
package final class ScriptedPeer {
    package let driver: ConnectionDriver
    package var events: [AMQPEvent] = []
    package var application: ((AMQPEvent) -> Void)?
    // Bytes the driver wrote that are not yet parsed (a partial frame).
    private var unread: [UInt8] = []

    /// A peer of a new driver in `mode` with `configuration`.
    package init(driverMode mode: ConnectionDriver.Mode = .server, configuration: DriverConfiguration = DriverConfiguration(containerID: "driver")) {
        driver = ConnectionDriver(mode: mode, configuration: configuration)
        collect()
    }

    // MARK: writing into the driver

    package func write(bytes: [UInt8]) {
        driver.read(bytes)
        collect()
    }

    package func write(header: ProtocolHeader) { write(bytes: header.bytes) }

    /// Writes one frame carrying `p` (and a transfer's `payload`) on `channel`: a SASL frame for
    /// the SASL performatives, an AMQP frame for the others.
    package func write(_ p: Performative, channel: UInt16 = 0, payload: [UInt8] = []) {
        write(bytes: Frame(kind: ScriptedPeer.kind(of: p), channel: channel, p, payload: payload[...]).encoded)
    }

    private static func kind(of p: Performative) -> Frame.Kind {
        switch p {
        case .saslMechanisms, .saslInit, .saslChallenge, .saslResponse, .saslOutcome: return .sasl
        default: return .amqp
        }
    }

    /// Writes several frames in one read, as one TCP segment would bring them.
    package func write(frames: [(channel: UInt16, Performative)]) {
        var bytes: [UInt8] = []
        for (c, p) in frames { Frame(channel: c, p).encode(into: &bytes) }
        write(bytes: bytes)
    }

    /// An empty frame (a heartbeat, §2.4.5).
    package func writeEmptyFrame() { write(bytes: [0, 0, 0, 8, 2, 0, 0, 0]) }

    // MARK: reading what the driver wrote

    /// Everything the driver wrote since the last read, parsed, and marked written.
    package func read() -> [PeerInput] {
        let out = driver.pendingOutput
        unread += out
        driver.writeDone(out.count)
        collect()
        var parsed: [PeerInput] = []
        var i = 0
        while unread.count - i >= 8 {
            if unread[i..<(i + 4)].elementsEqual([0x41, 0x4d, 0x51, 0x50]) {
                parsed.append(.header(ProtocolHeader(unread[i..<(i + 8)])))
                i += 8
                continue
            }
            let size = Int(unread[i]) << 24 | Int(unread[i + 1]) << 16 | Int(unread[i + 2]) << 8 | Int(unread[i + 3])
            guard size >= 8 else { parsed.append(.garbage(Array(unread[i...]))); i = unread.count; break }
            guard unread.count - i >= size else { break }
            if let f = try? Frame.parse(unread[i..<(i + size)]) {
                parsed.append(.frame(channel: f.channel, performative: f.performative, payload: Array(f.payload)))
            } else {
                parsed.append(.garbage(Array(unread[i..<(i + size)])))
            }
            i += size
        }
        unread.removeFirst(i)
        return parsed
    }

    /// The performatives the driver wrote since the last read, without headers and heartbeats.
    package func readPerformatives() -> [Performative] { read().compactMap(\.performative) }

    /// Their names, for order checks: `["flow", "disposition", "close"]`.
    package func readNames() -> [String] { readPerformatives().map(\.name) }

    /// Takes the events collected so far.
    package func takeEvents() -> [AMQPEvent] {
        collect()
        defer { events = [] }
        return events
    }

    /// The transport errors among the events collected so far.
    package var transportErrors: [AMQPError] {
        collect()
        return events.compactMap { if case .transportError(let e) = $0 { return e } else { return nil } }
    }

    private func collect() {
        while let e = driver.nextEvent() {
            application?(e)
            events.append(e)
        }
    }

    // MARK: handshakes

    /// Plays a client to a server-mode driver: AMQP header and open in; the driver's header and
    /// (once its application opens) its open out. Returns what the driver wrote.
    @discardableResult
    package func connect(_ open: Open = Open(containerID: "scripted-peer", maxFrameSize: 65_536, channelMax: 255)) -> [PeerInput] {
        write(header: .amqp)
        write(.open(open))
        return read()
    }

    /// Begins a session on `channel` (answering the driver's begin on `remoteChannel`, if given).
    package func begin(channel: UInt16 = 0, remoteChannel: UInt16? = nil, incomingWindow: UInt32 = 2048, nextOutgoingID: UInt32 = 0) {
        write(.begin(Begin(remoteChannel: remoteChannel, nextOutgoingID: nextOutgoingID, incomingWindow: incomingWindow,
                           outgoingWindow: .max)), channel: channel)
    }
}

@available(*, unavailable)
extension ScriptedPeer: Sendable {}

import AMQPCodec

/// Settings for one ``ConnectionDriver``.
public struct DriverConfiguration: Sendable {
    public var containerID: String
    public var hostname: String?
    /// Largest frame we accept; announced in our open (AMQP 1.0 §2.7.1). At least 512.
    public var maxFrameSize: UInt32 = 65_536
    public var channelMax: UInt16 = 255
    /// Close a peer silent for this long (milliseconds); announced in our open. nil: never.
    public var idleTimeout: UInt32?
    /// Transfer frames a session lets the peer send before granting more (§2.5.6).
    public var sessionIncomingWindow: UInt32 = 2048
    /// Largest message a receiving link accepts; bigger ones detach the link.
    public var maxMessageSize: UInt64?
    /// Highest link handle a peer may use in a session; announced in our begin (§2.7.2).
    public var handleMax: UInt32 = 65_535
    /// Unsettled incoming deliveries a session holds at most; one more ends the session with
    /// `amqp:resource-limit-exceeded`. Settle deliveries to make room.
    public var maxUnsettledDeliveries: Int = 65_536
    /// Received payload bytes a session holds, not yet read (``Delivery/readPayload()``) or settled,
    /// before it stops reopening its incoming window: a slow reader throttles the sender.
    public var sessionBufferLimit: Int = 32 << 20
    /// Client mode: how to authenticate. nil speaks plain AMQP with no SASL layer.
    public var saslClient: SASLClientConfiguration?
    /// Server mode: the mechanisms offered to a client that starts with the SASL header.
    public var saslServer: SASLServerConfiguration = .anonymous
    /// Called with each frame in and out, in readable form (see ``ConnectionDriver/traceFromEnvironment``).
    public var trace: (@Sendable (String) -> Void)?

    public init(containerID: String) { self.containerID = containerID }
}

/// An AMQP 1.0 connection engine that does no IO (Proton's `pn_connection_driver_t`).
///
/// The host moves bytes and time; the driver turns them into events and frames:
/// ```
/// let n = read(fd, driver.readBuffer())      // fill in place, then
/// driver.readDone(n)                          // or driver.readClose()
/// while let event = driver.nextEvent() { handle(event) }
/// driver.pendingOutput.withUnsafeBytes { write(fd, $0) } → driver.writeDone(n)
/// let deadline = driver.tick(now: .now)       // heartbeats and idle timeout
/// ```
/// Stop when ``isFinished``.
///
/// Threading: not `Sendable`. One driver, its connection and everything in it belong to one
/// thread at a time; a proactor hands a connection between threads, never shares it.
public final class ConnectionDriver {
    public enum Mode: Sendable { case client, server }

    public let mode: Mode
    public let configuration: DriverConfiguration
    /// The connection this driver runs.
    @exclusivity(unchecked) public private(set) var connection: Connection!

    // `@exclusivity(unchecked)` on hot state: see the note at the top of Endpoints.swift.
    // Input: raw bytes the host fills. Owned, manually allocated memory, so the pointer handed
    // out by readBuffer() stays valid until the next call into the driver, which is the contract.
    @exclusivity(unchecked) private var inbound: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var inCount = 0
    @exclusivity(unchecked) private var readOffered = 0
    static let initialReadBuffer = 8192
    @exclusivity(unchecked) private var expectingHeader = true
    @exclusivity(unchecked) private var receivedAnyHeader = false
    @exclusivity(unchecked) private var amqpHeaderReceived = false
    // Output: bytes not yet taken by the host, from outStart.
    @exclusivity(unchecked) private var outbound: [UInt8] = []
    @exclusivity(unchecked) private var outStart = 0
    // AMQP frames written before the AMQP header may go out (during SASL) wait here.
    @exclusivity(unchecked) private var deferred: [UInt8] = []
    @exclusivity(unchecked) private var amqpOutputStarted = false
    @exclusivity(unchecked) private var openSent = false
    @exclusivity(unchecked) private var closeSent = false

    // Taken out with Optional.take(), so handing an event over moves it instead of copying it.
    @exclusivity(unchecked) private var events: [AMQPEvent?] = []
    @exclusivity(unchecked) private var eventHead = 0
    @exclusivity(unchecked) public private(set) var isTailClosed = false
    @exclusivity(unchecked) public private(set) var isHeadClosed = false
    @exclusivity(unchecked) private var closedPosted = false

    /// The peer's max-frame-size, once known; frames before its open are held to 512 (§2.7.1).
    @exclusivity(unchecked) public private(set) var remoteMaxFrameSize: UInt32 = 512
    @exclusivity(unchecked) private var remoteIdleTimeout: UInt32 = 0
    @exclusivity(unchecked) private var inputSinceTick = false
    @exclusivity(unchecked) private var outputSinceTick = false
    @exclusivity(unchecked) private var lastInput: ContinuousClock.Instant?
    @exclusivity(unchecked) private var lastOutput: ContinuousClock.Instant?

    @exclusivity(unchecked) private var pendingDispositions: [Delivery] = []
    @exclusivity(unchecked) private var spareDispositions: [Delivery] = []
    @exclusivity(unchecked) private var dispositionScratch: [(UInt32, Delivery)] = []
    @exclusivity(unchecked) private var pendingFlows: [Link] = []

    private enum SASLState {
        case off
        case clientAwaitingMechanisms(SASLClientConfiguration)
        case clientAwaitingOutcome(SASLClientMechanism)
        case serverAwaitingInit(any SASLAuthenticator)
        case serverAwaitingResponse(any SASLAuthenticator)
        case succeeded
        case failed
    }
    @exclusivity(unchecked) private var sasl: SASLState = .off
    // Input frames are SASL frames: between the SASL header and the outcome.
    @exclusivity(unchecked) private var inSASLLayer = false
    /// The mechanism SASL settled on, once chosen.
    @exclusivity(unchecked) public private(set) var saslMechanism: Symbol?
    /// The SASL outcome, once sent (server) or received (client).
    @exclusivity(unchecked) public private(set) var saslOutcome: SASLCode?
    /// Server: who the client authenticated as; nil without SASL.
    @exclusivity(unchecked) public private(set) var authenticatedIdentity: String?

    public init(mode: Mode, configuration: DriverConfiguration) {
        self.mode = mode
        var config = configuration
        config.maxFrameSize = max(512, config.maxFrameSize)
        self.configuration = config
        // Start small, as idle connections are the common case; readDone grows it for busy ones.
        self.inbound = .allocate(byteCount: ConnectionDriver.initialReadBuffer, alignment: 8)
        self.connection = Connection(driver: self, containerID: config.containerID)
        connection.localOpen = Open(containerID: config.containerID, hostname: config.hostname,
                                    maxFrameSize: config.maxFrameSize, channelMax: config.channelMax,
                                    idleTimeOut: config.idleTimeout)
        post(.connectionInit(connection))
        post(.connectionBound(connection))
        // A client speaks first; a server answers the header the client chose.
        if mode == .client {
            if let sasl = config.saslClient {
                self.sasl = .clientAwaitingMechanisms(sasl)
                writeHeader(.sasl)
            } else {
                startAMQPOutput()
            }
        }
    }

    deinit {
        inbound.deallocate()
        // Children point at their parents strongly (see Endpoints.swift): cut the tree downwards.
        for s in connection.sessions {
            for l in s.links {
                l.outgoing = DeliveryQueue()
                l.current = nil
            }
            s.links = []
            s.linksByRemoteHandle.removeAll()
            s.unsettledOutgoing.removeAll()
            s.unsettledIncoming.removeAll()
        }
        connection.sessions = []
        connection.sessionsByRemoteChannel.removeAll()
    }

    /// Reads `AMQP_TRACE_FRM`-style tracing from a host's environment value: a non-empty value
    /// other than "0" turns on tracing to `print`.
    public static func traceFromEnvironment(_ value: String?) -> (@Sendable (String) -> Void)? {
        guard let value, !value.isEmpty, value != "0" else { return nil }
        return { print($0) }
    }

    // MARK: input

    /// Space for the host to read into. Valid until the next call into the driver.
    public func readBuffer() -> UnsafeMutableRawBufferPointer {
        if isTailClosed { return UnsafeMutableRawBufferPointer(start: inbound.baseAddress, count: 0) }
        if inbound.count - inCount < 1024 { grow(to: inbound.count * 2) }
        readOffered = inbound.count - inCount
        return UnsafeMutableRawBufferPointer(rebasing: inbound[inCount...])
    }

    /// Copies `bytes` in and processes them: a convenience over ``readBuffer()`` and ``readDone(_:)``.
    public func read<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        var it = bytes.makeIterator()
        var left = bytes.count
        while left > 0 && !isTailClosed {
            let buf = readBuffer()
            let n = min(left, buf.count)
            for i in 0..<n { buf[i] = it.next()! }
            left -= n
            readDone(n)
        }
    }

    /// Reports that the host wrote `count` bytes into ``readBuffer()``.
    public func readDone(_ count: Int) {
        guard !isTailClosed, count > 0 else { return }
        let filled = count >= readOffered
        inCount += min(count, inbound.count - inCount)
        inputSinceTick = true
        process()
        // A host that filled the whole buffer has more waiting: offer it more next time, up to 64 KiB.
        if filled && !isTailClosed && inbound.count < 65_536 { grow(to: inbound.count * 2) }
    }

    /// Reports end of input (the socket's read side closed).
    public func readClose() {
        guard !isTailClosed else { return }
        if connection.remoteState != .closed && receivedAnyHeader || !receivedAnyHeader && inCount > 0 {
            transportError(AMQPError(condition: ErrorCondition.connectionForced, description: "connection aborted: input closed before the peer's close"), sendClose: false)
        }
        closeTail()
        // Nothing more will arrive: say goodbye if we had said hello, then close once flushed.
        if openSent && !closeSent { sendCloseFrame() }
        finishOutput()
    }

    private func grow(to size: Int) {
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        bigger.baseAddress!.copyMemory(from: inbound.baseAddress!, byteCount: inCount)
        inbound.deallocate()
        inbound = bigger
    }

    private func process() {
        var pos = 0
        while !isTailClosed {
            if expectingHeader {
                guard inCount - pos >= 8 else { break }
                pos += 8
                handleHeader(ProtocolHeader(UnsafeRawBufferPointer(rebasing: inbound[(pos - 8)..<pos])))
                continue
            }
            guard let size = completeFrameSize(at: pos) else { break }
            if inSASLLayer {
                handleSASLFrame(Array(UnsafeRawBufferPointer(rebasing: inbound[pos..<(pos + size)]))[...])
                pos += size
                continue
            }
            // Take the whole run of complete frames and copy it out in one array, so that payloads
            // handed to the application can share it.
            var end = pos + size
            while let next = completeFrameSize(at: end) { end += next }
            if isTailClosed { return }
            let chunk = Array(UnsafeRawBufferPointer(rebasing: inbound[pos..<end]))
            var i = 0
            while i < chunk.count && !isTailClosed {
                let size = Int(chunk[i]) << 24 | Int(chunk[i + 1]) << 16 | Int(chunk[i + 2]) << 8 | Int(chunk[i + 3])
                handleFrame(chunk[i..<(i + size)])
                i += size
            }
            pos = end
        }
        compact(from: pos)
        if !expectingHeader, !isTailClosed, let size = Frame.declaredSize(UnsafeRawBufferPointer(rebasing: inbound[0..<inCount]), at: 0),
           size > inbound.count {
            grow(to: size + 8)
        }
    }

    /// The size of the complete frame at `index`; nil when more input is needed, or when the frame
    /// is malformed, in which case the transport is closed.
    private func completeFrameSize(at index: Int) -> Int? {
        guard let size = Frame.declaredSize(UnsafeRawBufferPointer(rebasing: inbound[0..<inCount]), at: index) else { return nil }
        guard size >= 8 else {
            protocolFailure(ErrorCondition.framingError, "frame size \(size) is below 8")
            return nil
        }
        guard size <= Int(configuration.maxFrameSize) else {
            protocolFailure(ErrorCondition.framingError, "frame of \(size) bytes exceeds max-frame-size \(configuration.maxFrameSize)")
            return nil
        }
        return index + size <= inCount ? size : nil
    }

    /// Moves unprocessed input from `from` to the start of the buffer.
    private func compact(from: Int) {
        let left = inCount - from
        if from > 0 && left > 0 {
            inbound.baseAddress!.copyMemory(from: inbound.baseAddress! + from, byteCount: left)
        }
        inCount = max(0, left)
    }

    /// Reports a violation, closes with it (when the AMQP layer is up) and stops reading.
    private func protocolFailure(_ condition: Symbol, _ description: String) {
        protocolFailure(AMQPError(condition: condition, description: description))
    }

    private func protocolFailure(_ error: AMQPError) {
        transportError(error)
        closeTail()
        finishOutput()
    }

    // MARK: protocol headers and SASL (§2.2, §5.3)

    private func handleHeader(_ header: ProtocolHeader?) {
        trace("<- \(header.map { "\($0)" } ?? "unknown") header")
        receivedAnyHeader = true
        switch (mode, header, sasl) {
        case (.client, .sasl?, .clientAwaitingMechanisms), (.server, .sasl?, .off):
            expectingHeader = false
            inSASLLayer = true
            if mode == .server {
                let config = configuration.saslServer
                sasl = .serverAwaitingInit(config.makeAuthenticator())
                writeHeader(.sasl)
                writeSASLFrame(.saslMechanisms(SASLMechanisms(saslServerMechanisms: config.mechanisms)))
            }
        case (.client, .amqp?, .off), (.client, .amqp?, .succeeded), (.server, .amqp?, .succeeded):
            expectingHeader = false
            amqpHeaderReceived = true
            startAMQPOutput()
        case (.server, .amqp?, .off):
            expectingHeader = false
            amqpHeaderReceived = true
            startAMQPOutput()
            if !configuration.saslServer.allowsUnauthenticated {
                protocolFailure(ErrorCondition.unauthorizedAccess, "this server requires SASL authentication")
            }
        default:
            // A server answers with the header it would have liked; a client has sent its own already.
            if mode == .server && !amqpOutputStarted && !headerSentAny { writeHeader(.amqp) }
            let what = header.map { "\($0)" } ?? "bytes that are not an AMQP header"
            transportError(AMQPError(condition: ErrorCondition.notImplemented, description: "unexpected protocol header: \(what)"), sendClose: false)
            closeTail()
            finishOutput()
        }
    }

    private func handleSASLFrame(_ bytes: ArraySlice<UInt8>) {
        let frame: Frame
        do {
            frame = try Frame.parse(bytes)
        } catch {
            saslFailure(ErrorCondition.framingError, "bad SASL frame: \(error)")
            return
        }
        guard let p = frame.performative, frame.kind == .sasl else {
            saslFailure(ErrorCondition.framingError, "AMQP frame during SASL negotiation")
            return
        }
        trace("<- SASL \(p)")
        switch (sasl, p) {
        case (.clientAwaitingMechanisms(let config), .saslMechanisms(let m)):
            guard let chosen = config.mechanisms.first(where: { m.saslServerMechanisms.contains($0.name) }) else {
                let offered = m.saslServerMechanisms.map(\.rawValue).joined(separator: " ")
                let ours = config.mechanisms.map(\.name.rawValue).joined(separator: " ")
                saslFailure(ErrorCondition.unauthorizedAccess, "no common SASL mechanism: the server offers [\(offered)], we have [\(ours)]")
                return
            }
            saslMechanism = chosen.name
            sasl = .clientAwaitingOutcome(chosen)
            writeSASLFrame(.saslInit(SASLInit(mechanism: chosen.name, initialResponse: chosen.initialResponse.map { Binary($0) },
                                              hostname: configuration.hostname)))
        case (.clientAwaitingOutcome(let mechanism), .saslChallenge(let c)):
            guard let response = mechanism.respond(to: Array(c.challenge)) else {
                saslFailure(ErrorCondition.unauthorizedAccess, "SASL \(mechanism.name) cannot answer the server's challenge")
                return
            }
            writeSASLFrame(.saslResponse(SASLResponse(response: Binary(response))))
        case (.clientAwaitingOutcome(let mechanism), .saslOutcome(let o)):
            saslOutcome = o.code
            guard o.code == .ok else {
                saslFailure(ErrorCondition.unauthorizedAccess, "SASL authentication failed: outcome \(o.code.name) (mechanism \(mechanism.name))")
                return
            }
            sasl = .succeeded
            inSASLLayer = false
            expectingHeader = true
            startAMQPOutput()
        case (.serverAwaitingInit(let auth), .saslInit(let i)):
            saslMechanism = i.mechanism
            guard configuration.saslServer.mechanisms.contains(i.mechanism) else {
                applySASLStep(.failure(.auth), auth)
                return
            }
            applySASLStep(auth.start(mechanism: i.mechanism, initialResponse: i.initialResponse.map { Array($0) }, hostname: i.hostname), auth)
        case (.serverAwaitingResponse(let auth), .saslResponse(let r)):
            applySASLStep(auth.respond(Array(r.response)), auth)
        default:
            saslFailure(ErrorCondition.illegalState, "unexpected \(p.name) during SASL negotiation")
        }
    }

    private func applySASLStep(_ step: SASLStep, _ auth: any SASLAuthenticator) {
        switch step {
        case .success(let identity, let data):
            authenticatedIdentity = identity
            saslOutcome = .ok
            sasl = .succeeded
            inSASLLayer = false
            expectingHeader = true
            writeSASLFrame(.saslOutcome(SASLOutcome(code: .ok, additionalData: data.map { Binary($0) })))
        case .challenge(let bytes):
            sasl = .serverAwaitingResponse(auth)
            writeSASLFrame(.saslChallenge(SASLChallenge(challenge: Binary(bytes))))
        case .failure(let code):
            let code = code == .ok ? SASLCode.auth : code
            saslOutcome = code
            writeSASLFrame(.saslOutcome(SASLOutcome(code: code)))
            saslFailure(ErrorCondition.unauthorizedAccess, "SASL authentication failed: outcome \(code.name) (mechanism \(saslMechanism?.rawValue ?? "none"))")
        }
    }

    /// Ends a failed SASL exchange: no AMQP layer exists to close, so the transport just closes
    /// once the outcome (if any) is written.
    private func saslFailure(_ condition: Symbol, _ description: String) {
        sasl = .failed
        transportError(AMQPError(condition: condition, description: description), sendClose: false)
        closeTail()
        finishOutput()
    }

    private func handleFrame(_ bytes: ArraySlice<UInt8>) {
        if handleTransferFrame(bytes) { return }
        let frame: Frame
        do {
            frame = try Frame.parse(bytes)
        } catch {
            switch error {
            case .malformedHeader(let s):
                protocolFailure(ErrorCondition.framingError, s)
            case .tooLarge(let size, let limit):
                protocolFailure(ErrorCondition.framingError, "frame of \(size) bytes over \(limit)")
            case .body(let e):
                protocolFailure(e.condition, "bad frame body: \(e)")
            }
            return
        }
        guard let p = frame.performative else {
            trace("<- [\(frame.channel)] (empty frame)")
            return
        }
        trace("<- [\(frame.channel)] \(p)")
        guard frame.kind == .amqp else {
            protocolFailure(ErrorCondition.framingError, "SASL frame \(p.name) on an AMQP connection")
            return
        }
        guard frame.channel <= configuration.channelMax else {
            // §2.7.1: a channel outside the announced range is a framing error.
            protocolFailure(ErrorCondition.framingError, "frame on channel \(frame.channel), above channel-max \(configuration.channelMax)")
            return
        }
        if case .open = p {} else if connection.remoteState == .uninitialized {
            protocolFailure(ErrorCondition.illegalState, "\(p.name) before open")
            return
        }
        switch p {
        case .open(let o): handleOpen(o)
        case .begin(let b): handleBegin(b, channel: frame.channel)
        case .attach(let a): withSession(frame.channel) { handleAttach(a, $0) }
        case .flow(let f): withSession(frame.channel) { handleFlow(f, $0) }
        case .transfer(let t):
            withSession(frame.channel) { handleTransfer(TransferFields(t), tag: t.deliveryTag?.bytes, state: t.state, payload: frame.payload, $0) }
        case .disposition(let d): withSession(frame.channel) { handleDisposition(d, $0) }
        case .detach(let d): withSession(frame.channel) { handleDetach(d, $0) }
        case .end(let e): withSession(frame.channel) { handleEnd(e, $0) }
        case .close(let c): handleClose(c)
        default:
            protocolFailure(ErrorCondition.framingError, "\(p.name) in an AMQP frame")
        }
    }

    /// The hot path for the commonest frame: a transfer decoded straight from the bytes by
    /// ``TransferCodec``. Returns false to leave anything unusual, and tracing, to the general path.
    private func handleTransferFrame(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard configuration.trace == nil, connection.remoteState == .active,
              let (channel, fields, payloadStart) = TransferCodec.decode(bytes),
              channel <= configuration.channelMax, let session = connection.sessionsByRemoteChannel[channel] else { return false }
        handleTransfer(fields, tag: fields.tagRange.map { bytes[$0] }, state: nil, payload: bytes[payloadStart...], session)
        return true
    }

    private func withSession(_ channel: UInt16, _ body: (Session) -> Void) {
        guard let s = connection.sessionsByRemoteChannel[channel] else {
            protocolFailure(ErrorCondition.notFound, "frame on channel \(channel), which has no session")
            return
        }
        body(s)
    }

    // MARK: frame handlers

    private func handleOpen(_ o: Open) {
        guard connection.remoteState == .uninitialized else {
            protocolFailure(ErrorCondition.illegalState, "second open")
            return
        }
        connection.remoteOpen = o
        connection.remoteState = .active
        remoteMaxFrameSize = max(512, o.maxFrameSize)
        remoteIdleTimeout = o.idleTimeOut ?? 0
        post(.connectionRemoteOpen(connection))
    }

    private func handleBegin(_ b: Begin, channel: UInt16) {
        guard connection.sessionsByRemoteChannel[channel] == nil, channel <= configuration.channelMax else {
            protocolFailure(ErrorCondition.notAllowed, "begin on channel \(channel), in use or above channel-max")
            return
        }
        let session: Session
        if let ours = b.remoteChannel {
            guard let s = connection.sessions.first(where: { $0.localChannel == ours && $0.remoteChannel == nil }) else {
                protocolFailure(ErrorCondition.notFound, "begin answers channel \(ours), which we did not begin")
                return
            }
            session = s
        } else {
            session = connection.session()
        }
        session.remoteChannel = channel
        session.remoteState = .active
        session.nextIncomingID = b.nextOutgoingID
        session.remoteIncomingWindow = b.incomingWindow
        session.remoteOutgoingWindow = b.outgoingWindow
        session.remoteHandleMax = b.handleMax
        connection.sessionsByRemoteChannel[channel] = session
        post(.sessionRemoteBegin(session))
        for l in session.links where l.role == .sender { flushTransfers(l) }
    }

    private func handleAttach(_ a: Attach, _ s: Session) {
        guard a.handle <= configuration.handleMax else {
            // §2.7.2: a handle outside the announced range is a framing error.
            protocolFailure(ErrorCondition.framingError, "attach with handle \(a.handle), above handle-max \(configuration.handleMax)")
            return
        }
        if s.linksByRemoteHandle[a.handle] != nil {
            endSession(s, AMQPError(condition: ErrorCondition.handleInUse, description: "handle \(a.handle) is in use"))
            return
        }
        let ourRole: Role = a.role == .sender ? .receiver : .sender
        let link: Link
        if let l = s.links.first(where: { $0.name == a.name && $0.role == ourRole && $0.remoteHandle == nil }) {
            link = l
        } else {
            link = Link(session: s, name: a.name, role: ourRole)
            s.links.append(link)
        }
        link.remoteAttach = a
        link.remoteHandle = a.handle
        link.remoteState = .active
        if ourRole == .receiver {
            link.deliveryCount = a.initialDeliveryCount ?? 0
        }
        s.linksByRemoteHandle[a.handle] = link
        post(.linkRemoteOpen(link))
        if ourRole == .sender { flushTransfers(link) }
    }

    private func handleFlow(_ f: Flow, _ s: Session) {
        // §2.5.6: remote-incoming-window = next-incoming-id(flow) + incoming-window(flow) - next-outgoing-id
        let nextIncoming = f.nextIncomingID ?? 0
        s.remoteIncomingWindow = nextIncoming &+ f.incomingWindow &- s.nextOutgoingID
        s.remoteOutgoingWindow = f.outgoingWindow
        guard let h = f.handle else {
            for l in s.links where l.role == .sender { flushTransfers(l) }
            if f.echo { sendFlow(s, link: nil) }
            return
        }
        guard let link = s.linksByRemoteHandle[h] else {
            endSession(s, AMQPError(condition: ErrorCondition.unattachedHandle, description: "flow for handle \(h)"))
            return
        }
        if link.role == .sender {
            // credit = delivery-count(receiver) + link-credit(receiver) - delivery-count(sender), serial arithmetic
            let theirCount = f.deliveryCount ?? link.deliveryCount
            link.credit = theirCount &+ (f.linkCredit ?? 0) &- link.deliveryCount
            link.drain = f.drain
            flushTransfers(link)
            if link.drain && link.credit > 0 && link.outgoing.isEmpty {
                link.deliveryCount &+= link.credit
                link.credit = 0
                sendFlow(s, link: link)
            } else if f.echo {
                sendFlow(s, link: link)
            }
        } else {
            link.available = f.available ?? 0
            if let c = f.deliveryCount {
                // The sender may have advanced its count by draining; what is left of our credit shrinks with it.
                let consumed = c &- link.deliveryCount
                link.credit = consumed > link.credit ? 0 : link.credit - consumed
                link.deliveryCount = c
            }
            if f.echo { sendFlow(s, link: link) }
        }
        post(.linkFlow(link))
    }

    private func handleTransfer(_ t: TransferFields, tag: ArraySlice<UInt8>?, state: DeliveryState?, payload: ArraySlice<UInt8>, _ s: Session) {
        guard s.incomingWindowLeft > 0 else {
            endSession(s, AMQPError(condition: ErrorCondition.windowViolation, description: "transfer beyond the incoming window"))
            return
        }
        s.nextIncomingID &+= 1
        s.incomingWindowLeft -= 1
        guard let link = s.linksByRemoteHandle[t.handle], link.role == .receiver else {
            endSession(s, AMQPError(condition: ErrorCondition.unattachedHandle, description: "transfer for handle \(t.handle)"))
            return
        }
        // Transfers already in flight when we detached are dropped, not errors.
        guard link.localState != .closed else { return }
        let delivery: Delivery
        if let current = link.current {
            delivery = current
            if !t.aborted { delivery.receive(payload) }
        } else {
            guard let id = t.deliveryID else {
                detachLink(link, AMQPError(condition: ErrorCondition.invalidField, description: "first transfer of a delivery without delivery-id"))
                return
            }
            guard link.credit > 0 else {
                detachLink(link, AMQPError(condition: ErrorCondition.transferLimitExceeded, description: "transfer without credit"))
                return
            }
            if t.settled != true && s.unsettledIncoming.count >= configuration.maxUnsettledDeliveries {
                endSession(s, AMQPError(condition: ErrorCondition.resourceLimitExceeded,
                                        description: "more than \(configuration.maxUnsettledDeliveries) unsettled deliveries"))
                return
            }
            link.credit -= 1
            link.deliveryCount &+= 1
            delivery = Delivery(link: link, tag: .bytes(Binary(tag ?? [])), payload: [])
            delivery.receive(payload)
            delivery.id = id
            delivery.messageFormat = t.messageFormat ?? 0
            if t.settled != true { s.unsettledIncoming.insert(delivery, id: id) }
        }
        if t.settled == true { delivery.remotelySettled = true }
        if let state { delivery.remoteState = state }
        let limit = link.maxMessageSize ?? configuration.maxMessageSize
        if let limit, UInt64(delivery.receivedBytes) > limit {
            link.current = nil
            delivery.releaseBuffered()
            detachLink(link, AMQPError(condition: ErrorCondition.messageSizeExceeded, description: "message over \(limit) bytes"))
            return
        }
        if t.aborted {
            delivery.isAborted = true
            delivery.isPartial = false
            delivery.releaseBuffered()
            delivery.payload = []
            link.current = nil
            if let id = delivery.id { s.unsettledIncoming.remove(id) }
        } else {
            delivery.isPartial = t.more
            // Only a delivery with more to come is remembered: the common single-frame message
            // leaves link.current alone.
            if t.more { link.current = delivery } else if link.current != nil { link.current = nil }
        }
        post(.delivery(delivery))
        reopenIncomingWindow(s)
    }

    /// Grants the peer a full incoming window again once half is used, unless the application
    /// has fallen behind reading what arrived (``DriverConfiguration/sessionBufferLimit``).
    func reopenIncomingWindow(_ s: Session) {
        if s.incomingWindowLeft <= s.incomingWindow / 2 && s.bufferedBytes < configuration.sessionBufferLimit {
            s.incomingWindowLeft = s.incomingWindow
            sendFlow(s, link: nil)
        }
    }

    private func handleDisposition(_ d: Disposition, _ s: Session) {
        // A disposition from the receiver is about what we sent, and the other way round.
        let ours = d.role == .receiver
        let last = d.last ?? d.first
        var matched = dispositionScratch
        if ours {
            s.unsettledOutgoing.collect(from: d.first, through: last, into: &matched)
        } else {
            s.unsettledIncoming.collect(from: d.first, through: last, into: &matched)
        }
        for (id, delivery) in matched {
            if let state = d.state { delivery.remoteState = state }
            if d.settled {
                delivery.remotelySettled = true
                if ours { s.unsettledOutgoing.remove(id) } else { s.unsettledIncoming.remove(id) }
            }
            post(.delivery(delivery))
        }
        matched.removeAll(keepingCapacity: true)
        dispositionScratch = matched
    }

    private func handleDetach(_ d: Detach, _ s: Session) {
        guard let link = s.linksByRemoteHandle[d.handle] else {
            endSession(s, AMQPError(condition: ErrorCondition.unattachedHandle, description: "detach for handle \(d.handle)"))
            return
        }
        s.linksByRemoteHandle[d.handle] = nil
        link.remoteState = .closed
        link.remoteError = d.error
        post(d.closed ? .linkRemoteClose(link) : .linkRemoteDetach(link))
    }

    private func handleEnd(_ e: End, _ s: Session) {
        s.remoteState = .closed
        s.remoteError = e.error
        if let c = s.remoteChannel { connection.sessionsByRemoteChannel[c] = nil }
        post(.sessionRemoteEnd(s))
    }

    private func handleClose(_ c: Close) {
        connection.remoteState = .closed
        connection.remoteError = c.error
        post(.connectionRemoteClose(connection))
        closeTail()
        if closeSent { finishOutput() }
    }

    // MARK: errors

    /// Closes the connection with `error`: sends close (after open if need be) and stops reading.
    public func close(_ error: AMQPError) {
        protocolFailure(error)
    }

    private func transportError(_ error: AMQPError, sendClose: Bool = true) {
        post(.transportError(error))
        // Before the AMQP layer is up (say, during SASL) there is nothing to close but the transport.
        if sendClose && amqpOutputStarted && !closeSent && !isHeadClosed {
            connection.localError = error
            if connection.localState == .uninitialized { connection.localState = .active; sendOpenIfReady() }
            connection.localState = .closed
            sendCloseFrame()
        }
    }

    private func endSession(_ s: Session, _ error: AMQPError) {
        if s.localState == .active { s.end(error) }
    }

    private func detachLink(_ l: Link, _ error: AMQPError) {
        if l.localState == .active { l.close(error) } else { l.localError = error }
    }

    // MARK: output

    /// Bytes waiting to be written. Write some, then call ``writeDone(_:)``.
    public var pendingOutput: ArraySlice<UInt8> {
        flushFlows()
        flushDispositions()
        return outbound[outStart...]
    }

    /// Reports that the host wrote `count` bytes of ``pendingOutput``.
    public func writeDone(_ count: Int) {
        outStart = min(outbound.count, outStart + max(0, count))
        if outStart == outbound.count {
            if isTailClosed && (closeSent || !openSent) || closeSent && connection.remoteState == .closed { finishOutput() }
        }
    }

    /// Reports that no more output can be written (the socket's write side closed).
    public func writeClose() {
        outbound.removeAll()
        outStart = 0
        closeHead()
    }

    /// Every write to the output array goes through here. Output the host has already written is
    /// dropped first, rather than in ``writeDone(_:)``: by then the host no longer holds the slice
    /// ``pendingOutput`` gave it (valid until the next call), so the array is not shared and keeps
    /// its capacity instead of being reallocated every round.
    private func appendOutput(_ write: (inout [UInt8]) -> Void) {
        if outStart > 0 {
            if outStart == outbound.count {
                outbound.removeAll(keepingCapacity: true)
                outStart = 0
            } else if outStart >= 65_536 && outStart * 2 >= outbound.count {
                outbound.removeFirst(outStart)
                outStart = 0
            }
        }
        write(&outbound)
    }

    private func finishOutput() {
        guard outStart == outbound.count else { return }
        closeHead()
    }

    private func closeTail() {
        guard !isTailClosed else { return }
        isTailClosed = true
        post(.transportTailClosed)
        checkClosed()
    }

    private func closeHead() {
        guard !isHeadClosed else { return }
        isHeadClosed = true
        post(.transportHeadClosed)
        checkClosed()
    }

    private func checkClosed() {
        if isHeadClosed && isTailClosed && !closedPosted {
            closedPosted = true
            post(.transportClosed)
        }
    }

    /// True when both directions are closed and every event has been taken.
    public var isFinished: Bool { isHeadClosed && isTailClosed && eventHead >= events.count }

    // MARK: events

    /// Whether ``nextEvent()`` has something: calls such as ``writeDone(_:)`` can post events too,
    /// so a host checks this before it sleeps (Proton's `pn_connection_driver_has_event`).
    public var hasEvent: Bool { eventHead < events.count }

    /// The next event, or nil when there is none until more input, a call or a tick.
    public func nextEvent() -> AMQPEvent? {
        guard eventHead < events.count else {
            if eventHead > 0 { events.removeAll(keepingCapacity: true); eventHead = 0 }
            return nil
        }
        let e = events[eventHead].take()
        eventHead += 1
        return e
    }

    func post(_ e: AMQPEvent) { events.append(e) }

    /// Queues a wake event, for backends that woke this connection.
    public func wake() { post(.connectionWake(connection)) }

    // MARK: time

    /// Drives heartbeats and the idle timeout (§2.4.5).
    /// - Parameter now: the current time on a monotonic clock.
    /// - Returns: when to call again, or nil when no timer is needed.
    public func tick(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        if inputSinceTick || lastInput == nil { lastInput = now; inputSinceTick = false }
        if outputSinceTick || lastOutput == nil { lastOutput = now; outputSinceTick = false }
        guard !isHeadClosed else { return nil }
        var deadline: ContinuousClock.Instant?
        if let local = configuration.idleTimeout, local > 0, !isTailClosed, let last = lastInput {
            let expiry = last.advanced(by: .milliseconds(Int(local)))
            if now >= expiry {
                close(AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no frames from the peer for \(local) ms"))
                return nil
            }
            deadline = expiry
        }
        if remoteIdleTimeout > 0, openSent, !closeSent, let last = lastOutput {
            let half = last.advanced(by: .milliseconds(Int(remoteIdleTimeout / 2)))
            if now >= half {
                writeHeartbeat()
                lastOutput = now
                let next = now.advanced(by: .milliseconds(Int(remoteIdleTimeout / 2)))
                deadline = deadline.map { min($0, next) } ?? next
            } else {
                deadline = deadline.map { min($0, half) } ?? half
            }
        }
        return deadline
    }

    // MARK: writing frames

    @exclusivity(unchecked) private var headerSentAny = false

    private func writeHeader(_ header: ProtocolHeader) {
        headerSentAny = true
        appendOutput { $0.append(contentsOf: header.bytes) }
        trace("-> \(header) header")
    }

    /// Writes the AMQP header, then whatever AMQP frames waited for it.
    private func startAMQPOutput() {
        guard !amqpOutputStarted else { return }
        amqpOutputStarted = true
        writeHeader(.amqp)
        appendOutput { $0.append(contentsOf: deferred) }
        deferred = []
    }

    private func writeFrame(channel: UInt16, _ p: Performative, payload: ArraySlice<UInt8> = []) {
        trace("-> [\(channel)] \(p)")
        appendAMQPFrame(channel: channel) { b in
            p.encode(into: &b)
            b.append(contentsOf: payload)
        }
    }

    /// A transfer frame, written by ``TransferCodec`` without building a ``Transfer``.
    private func writeTransfer(channel: UInt16, handle: UInt32, first d: Delivery?, more: Bool, payload: ArraySlice<UInt8>) {
        if configuration.trace != nil {
            let t = Transfer(handle: handle, deliveryID: d?.id, deliveryTag: d?.tag, messageFormat: d?.messageFormat,
                             settled: d?.locallySettled, more: more)
            trace("-> [\(channel)] \(Performative.transfer(t))")
        }
        appendAMQPOutput { out in
            TransferCodec.append(channel: channel, handle: handle, deliveryID: d?.id, tag: d?.deliveryTag, messageFormat: d?.messageFormat,
                                 settled: d?.locallySettled, more: more, payload: payload, into: &out)
        }
    }

    private func appendAMQPFrame(channel: UInt16, body: (inout [UInt8]) -> Void) {
        appendAMQPOutput { Frame.append(channel: channel, into: &$0, body: body) }
    }

    /// Every AMQP frame but heartbeats goes through here. It counts as output for the idle timer
    /// when it is produced; heartbeats do not, so they keep to half the peer's timeout.
    private func appendAMQPOutput(_ write: (inout [UInt8]) -> Void) {
        guard !isHeadClosed else { return }
        outputSinceTick = true
        if amqpOutputStarted { appendOutput(write) } else { write(&deferred) }
    }

    private func writeSASLFrame(_ p: Performative) {
        guard !isHeadClosed else { return }
        trace("-> SASL \(p)")
        appendOutput { Frame(kind: .sasl, channel: 0, p).encode(into: &$0) }
    }

    private func writeHeartbeat() {
        trace("-> (empty frame)")
        appendOutput { $0.append(contentsOf: [0, 0, 0, 8, 2, 0, 0, 0]) }
    }

    private func trace(_ line: @autoclosure () -> String) {
        if let t = configuration.trace { t(line()) }
    }

    func sendOpenIfReady() {
        guard !openSent, connection.localState != .uninitialized else { return }
        openSent = true
        writeFrame(channel: 0, .open(connection.localOpen))
    }

    func sendCloseFrame() {
        guard !closeSent else { return }
        sendOpenIfReady()
        // Nothing may follow close (§2.7.9): queued credit and dispositions go first.
        flushFlows()
        flushDispositions()
        closeSent = true
        writeFrame(channel: 0, .close(Close(error: connection.localError)))
        if connection.remoteState == .closed || isTailClosed { finishOutput() }
    }

    func sendBegin(_ s: Session) {
        let used = Set(connection.sessions.compactMap(\.localChannel))
        // Both sides' channel-max bound us; the peer's is known once its open arrived.
        let limit = min(configuration.channelMax, connection.remoteOpen?.channelMax ?? .max)
        guard let channel = (0...limit).first(where: { !used.contains($0) }) else {
            s.localError = AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no free channel below channel-max \(limit)")
            post(.sessionLocalEnd(s))
            return
        }
        s.localChannel = channel
        guard connection.localState == .active else { return }
        writeFrame(channel: channel, .begin(Begin(remoteChannel: s.remoteChannel, nextOutgoingID: s.nextOutgoingID,
                                                  incomingWindow: s.incomingWindowLeft, outgoingWindow: s.outgoingWindow,
                                                  handleMax: configuration.handleMax)))
    }

    func sendEnd(_ s: Session) {
        guard let ch = s.localChannel else { return }
        writeFrame(channel: ch, .end(End(error: s.localError)))
        s.localChannel = nil
    }

    func sendAttach(_ l: Link) {
        let s = l.session
        guard let ch = s.localChannel else { return }
        let used = Set(s.links.compactMap(\.localHandle))
        var h: UInt32 = 0
        while used.contains(h) { h += 1 }
        guard h <= s.remoteHandleMax else {
            l.localError = AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no free handle below the peer's handle-max \(s.remoteHandleMax)")
            l.localState = .closed
            post(.linkLocalClose(l))
            return
        }
        l.localHandle = h
        let maxSize = l.maxMessageSize ?? (l.role == .receiver ? configuration.maxMessageSize : nil)
        writeFrame(channel: ch, .attach(Attach(
            name: l.name, handle: h, role: l.role, sndSettleMode: l.senderSettleMode, rcvSettleMode: l.receiverSettleMode,
            source: l.localSource, target: l.localTarget.map { .target($0) },
            initialDeliveryCount: l.role == .sender ? l.deliveryCount : nil, maxMessageSize: maxSize, properties: l.properties)))
        if l.role == .receiver && l.credit > 0 { sendFlow(s, link: l) }
    }

    func sendDetach(_ l: Link, closed: Bool) {
        guard let ch = l.session.localChannel, let h = l.localHandle else { return }
        writeFrame(channel: ch, .detach(Detach(handle: h, closed: closed, error: l.localError)))
        l.localHandle = nil
    }

    func sendFlow(_ s: Session, link: Link?) {
        guard let ch = s.localChannel, s.remoteState != .closed || s.remoteChannel == nil else { return }
        var f = Flow(nextIncomingID: s.remoteChannel == nil ? nil : s.nextIncomingID, incomingWindow: s.incomingWindowLeft,
                     nextOutgoingID: s.nextOutgoingID, outgoingWindow: s.outgoingWindow)
        if let link, let h = link.localHandle {
            f.handle = h
            f.deliveryCount = link.deliveryCount
            f.linkCredit = link.credit
            f.drain = link.drain
            if link.role == .sender { f.available = UInt32(clamping: link.outgoing.count) }
        } else if link != nil {
            return   // not attached yet: the attach will carry it
        }
        writeFrame(channel: ch, .flow(f))
    }

    /// Sends what credit and the session window allow of a sender's queue.
    func flushTransfers(_ l: Link) {
        let s = l.session
        guard l.role == .sender, l.localState == .active, l.remoteState == .active, let ch = s.localChannel,
              let handle = l.localHandle, s.remoteState == .active, !closeSent else { return }
        let maxFrame = Int(min(remoteMaxFrameSize, 1 << 30))
        while let d = l.outgoing.first, s.remoteIncomingWindow > 0 {
            let first = !d.sentAnyFrame
            if first {
                guard l.credit > 0 else { break }
                let id = s.nextDeliveryID
                s.nextDeliveryID &+= 1
                d.id = id
                l.credit -= 1
                l.deliveryCount &+= 1
                d.sentAnyFrame = true
                if !d.locallySettled { s.unsettledOutgoing.insert(d, id: id) }
            }
            // Split at the peer's max-frame-size: header, fields at their widest, then as much
            // payload as fits.
            let overhead = TransferCodec.maxOverhead + (first ? d.deliveryTag.count : 0)
            let n = min(max(1, maxFrame - overhead), d.payload.count)
            let chunk: ArraySlice<UInt8>
            if n == d.payload.count {
                chunk = d.payload
                d.payload = []
            } else {
                chunk = d.payload.prefix(n)
                d.payload = d.payload.dropFirst(n)
            }
            let more = !d.payload.isEmpty
            writeTransfer(channel: ch, handle: handle, first: first ? d : nil, more: more, payload: chunk)
            s.nextOutgoingID &+= 1
            s.remoteIncomingWindow -= 1
            if !more { l.outgoing.removeFirst() }
        }
        if l.drain && l.outgoing.isEmpty && l.credit > 0 {
            l.deliveryCount &+= l.credit
            l.credit = 0
            sendFlow(s, link: l)
        }
    }

    /// Aborts a partly sent delivery (§2.6.14).
    public func abort(_ d: Delivery) {
        let l = d.link
        guard l.outgoing.remove(d) else { return }
        guard d.sentAnyFrame, let ch = l.session.localChannel, let h = l.localHandle else { return }
        writeFrame(channel: ch, .transfer(Transfer(handle: h, settled: true, aborted: true)))
        l.session.nextOutgoingID &+= 1
        l.session.remoteIncomingWindow &-= 1
        if let id = d.id { l.session.unsettledOutgoing.remove(id) }
        d.isAborted = true
    }

    /// Receiver credit goes out once per batch of output, however often the application topped it up.
    func queueFlow(_ l: Link) {
        guard !l.flowQueued else { return }
        l.flowQueued = true
        pendingFlows.append(l)
    }

    private func flushFlows() {
        guard !pendingFlows.isEmpty else { return }
        for l in pendingFlows {
            l.flowQueued = false
            sendFlow(l.session, link: l)
        }
        pendingFlows.removeAll(keepingCapacity: true)
    }

    func queueDisposition(_ d: Delivery) {
        pendingDispositions.append(d)
    }

    /// Sends queued dispositions, merging runs of consecutive ids with the same outcome into one
    /// first/last range (§2.7.5).
    private func flushDispositions() {
        guard !pendingDispositions.isEmpty else { return }
        // Swapped out rather than copied, so neither array is shared and both keep their storage.
        var pending = spareDispositions
        swap(&pending, &pendingDispositions)
        defer {
            pending.removeAll(keepingCapacity: true)
            spareDispositions = pending
        }
        var i = 0
        while i < pending.count {
            let d = pending[i]
            let s = d.link.session
            guard let id = d.id, let ch = s.localChannel else { i += 1; continue }
            var last = id
            var j = i + 1
            while j < pending.count, let next = pending[j].id, next == last &+ 1, pending[j].link.session === s,
                  pending[j].link.role == d.link.role, pending[j].localState == d.localState, pending[j].locallySettled == d.locallySettled {
                last = next
                j += 1
            }
            writeFrame(channel: ch, .disposition(Disposition(role: d.link.role, first: id, last: last == id ? nil : last,
                                                             settled: d.locallySettled, state: d.localState)))
            if d.locallySettled {
                for k in i..<j {
                    if let kid = pending[k].id {
                        if d.link.role == .receiver { s.unsettledIncoming.remove(kid) } else { s.unsettledOutgoing.remove(kid) }
                    }
                }
            }
            i = j
        }
    }
}

@available(*, unavailable)
extension ConnectionDriver: Sendable {}

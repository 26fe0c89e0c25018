import AMQPCodec

// Input: protocol headers, framing, the SASL layer, and dispatch of AMQP frames to their handlers
// (in ConnectionDriver+Receive.swift).
extension ConnectionDriver {
    /// Processes what the input buffer holds, keeping the incomplete rest for the next read.
    func process() {
        let consumed = process(input.bytes)
        input.consume(consumed)
        if inputPhase == .amqp || inputPhase == .sasl, let size = input.declaredFrameSize(at: 0) {
            input.reserve(size)
        }
    }

    /// Processes the complete headers and frames at the front of `bytes`, which may be the input
    /// buffer or the host's own memory (``read(_:)-(UnsafeRawBufferPointer)``); returns how many
    /// bytes that was. Nothing keeps a pointer into `bytes`: what outlives the call is copied.
    func process(_ bytes: UnsafeRawBufferPointer) -> Int {
        var pos = 0
        loop: while true {
            switch inputPhase {
            case .closed:
                break loop
            case .header:
                guard bytes.count - pos >= 8 else { break loop }
                let header = ProtocolHeader(bytes[pos..<(pos + 8)])
                pos += 8
                handleHeader(header)
            case .sasl:
                guard let size = completeFrameSize(in: bytes, at: pos) else { break loop }
                handleSASLFrame(Array(bytes[pos..<(pos + size)])[...])
                pos += size
            case .amqp:
                // Take the whole run of complete frames and copy it out in one array, so that
                // payloads handed to the application can share it. A malformed frame after the
                // run fails the transport only once the run is handled: what the peer sent
                // before it counts, however the reads split the stream.
                var end = pos
                var malformed: String?
                scan: while true {
                    switch frameSize(in: bytes, at: end) {
                    case .complete(let size): end += size
                    case .incomplete: break scan
                    case .malformed(let reason): malformed = reason; break scan
                    }
                }
                if end == pos {
                    if let malformed { protocolFailure(ErrorCondition.framingError, malformed) }
                    break loop
                }
                let chunk = Array(bytes[pos..<end])
                var i = 0
                // Frames after one that closed the input (the peer's close, or a violation) in the
                // same read are not looked at: nothing follows close (§2.7.9).
                while i < chunk.count && !isTailClosed {
                    let size = Int(chunk[i]) << 24 | Int(chunk[i + 1]) << 16 | Int(chunk[i + 2]) << 8 | Int(chunk[i + 3])
                    handleFrame(chunk[i..<(i + size)])
                    i += size
                }
                pos = end
                if let malformed, !isTailClosed {
                    protocolFailure(ErrorCondition.framingError, malformed)
                }
            }
        }
        return pos
    }

    /// The size of the complete frame at `index` of `bytes`; nil when more input is needed, or
    /// when the frame is malformed, in which case the transport is closed.
    private func completeFrameSize(in bytes: UnsafeRawBufferPointer, at index: Int) -> Int? {
        switch frameSize(in: bytes, at: index) {
        case .complete(let size): return size
        case .incomplete: return nil
        case .malformed(let reason):
            protocolFailure(ErrorCondition.framingError, reason)
            return nil
        }
    }

    private enum FrameSize {
        case complete(Int)
        case incomplete
        case malformed(String)
    }

    /// What the frame at `index` of `bytes` is, as far as its size field tells (§2.3.1).
    private func frameSize(in bytes: UnsafeRawBufferPointer, at index: Int) -> FrameSize {
        guard bytes.count - index >= 4 else { return .incomplete }
        let size = Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
        guard size >= 8 else { return .malformed("frame size \(size) is below 8") }
        guard size <= Int(configuration.maxFrameSize) else {
            return .malformed("frame of \(size) bytes exceeds max-frame-size \(configuration.maxFrameSize)")
        }
        return index + size <= bytes.count ? .complete(size) : .incomplete
    }

    // MARK: protocol headers (§2.2, §5.3.1)

    private func handleHeader(_ header: ProtocolHeader?) {
        trace("<- \(header.map { "\($0)" } ?? "unknown") header")
        receivedAnyHeader = true
        switch (mode, header) {
        case (.client, .sasl?) where sasl.isActive:
            inputPhase = .sasl
        case (.server, .sasl?) where !sasl.isActive && !sasl.hasSucceeded:
            inputPhase = .sasl
            writeHeader(.sasl)
            writeSASLFrame(sasl.startServer(configuration.saslServer))
        case (.client, .amqp?) where !sasl.isActive:
            inputPhase = .amqp
            startAMQPOutput()
        case (.server, .amqp?) where sasl.hasSucceeded || configuration.saslServer.allowsUnauthenticated:
            inputPhase = .amqp
            startAMQPOutput()
        case (.server, .amqp?) where !sasl.isActive:
            // §5.3.1: a server that requires SASL answers with the SASL header, then closes.
            writeHeader(.sasl)
            failBeforeAMQP(AMQPError(condition: ErrorCondition.unauthorizedAccess, description: "this server requires SASL authentication"))
        case (.client, .sasl?) where configuration.saslClient == nil:
            failBeforeAMQP(AMQPError(condition: ErrorCondition.unauthorizedAccess,
                                     description: "the server requires SASL: it answered our AMQP header with the SASL header"))
        default:
            // A server answers with the header it would have liked; a client has sent its own already.
            if mode == .server && !output.wroteHeader { writeHeader(.amqp) }
            let what = header.map { "\($0)" } ?? "bytes that are not an AMQP header"
            failBeforeAMQP(AMQPError(condition: ErrorCondition.notImplemented, description: "unexpected protocol header: \(what)"))
        }
    }

    /// Fails the transport where no AMQP close can be sent: the bytes already written go out, then
    /// the output closes.
    private func failBeforeAMQP(_ error: AMQPError) {
        transportError(error, sendClose: false)
        closeTail()
        finishOutput()
    }

    // MARK: SASL (§5.3)

    private func handleSASLFrame(_ bytes: ArraySlice<UInt8>) {
        let frame: Frame
        do {
            frame = try Frame.parse(bytes)
        } catch {
            sasl.abandon()
            failBeforeAMQP(AMQPError(condition: ErrorCondition.framingError, description: "bad SASL frame: \(error)"))
            return
        }
        guard let p = frame.performative, frame.kind == .sasl else {
            sasl.abandon()
            failBeforeAMQP(AMQPError(condition: ErrorCondition.framingError, description: "AMQP frame during SASL negotiation"))
            return
        }
        trace("<- SASL \(p)")
        switch sasl.receive(p, hostname: configuration.hostname, server: configuration.saslServer) {
        case .send(let reply):
            writeSASLFrame(reply)
        case .succeed(let outcome):
            if let outcome { writeSASLFrame(outcome) }
            // Both sides now expect the AMQP header.
            inputPhase = .header
            if mode == .client { startAMQPOutput() }
        case .fail(let error, let outcome):
            if let outcome { writeSASLFrame(outcome) }
            failBeforeAMQP(error)
        }
    }

    // MARK: AMQP frames

    private func handleFrame(_ bytes: ArraySlice<UInt8>) {
        if handleTransferFrame(bytes) { return }
        let frame: Frame
        do {
            frame = try Frame.parse(bytes)
        } catch {
            switch error {
            case .malformedHeader(let s):
                protocolFailure(ErrorCondition.framingError, s)
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
            withSession(frame.channel) { handleTransfer(TransferFields(t), tag: t.deliveryTag.map { DeliveryTag(received: $0.bytes, $0.bytes.indices) }, state: t.state, payload: frame.payload, $0) }
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
              channel <= configuration.channelMax, let session = connection.sessionsByRemoteChannel.unretained(channel) else { return false }
        // Borrowed, not retained: the connection holds its sessions until both sides ended,
        // which no transfer can finish.
        session._withUnsafeGuaranteedRef { s in
            handleTransfer(fields, tag: fields.tagRange.map { DeliveryTag(received: bytes, $0) }, state: nil, payload: bytes[payloadStart...], s)
        }
        return true
    }

    private func withSession(_ channel: UInt16, _ body: (Session) -> Void) {
        guard let s = connection.sessionsByRemoteChannel[channel] else {
            protocolFailure(ErrorCondition.notFound, "frame on channel \(channel), which has no session")
            return
        }
        body(s)
    }
}

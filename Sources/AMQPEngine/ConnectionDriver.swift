import AMQPCodec

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
/// Stop when ``isFinished``. `Docs/Embedding.md` has the whole contract.
///
/// The driver is split by concern: this file holds the host-facing calls; `+Input` frames and
/// dispatches what arrives, `+Receive` handles each performative, `+Send` writes them;
/// `InputBuffer`, `OutputBuffer` (with the gate that refuses frames after close),
/// `SASLNegotiation` and `IdleTimer` are parts with one job each.
///
/// Threading: not `Sendable`. One driver, its connection and everything in it belong to one
/// thread at a time; a proactor hands a connection between threads, never shares it.
public final class ConnectionDriver {
    /// Which side of the connection this driver plays: a client speaks first (§2.2).
    ///
    /// Threading: a plain value type, `Sendable`.
    public enum Mode: Sendable {
        /// Connects, and speaks first: writes the protocol header at once.
        case client
        /// Accepts, and answers the client's protocol header.
        case server
    }

    /// Where the input stream is: what the next bytes from the peer must be.
    enum InputPhase: Equatable {
        /// A protocol header (§2.2): the first bytes, or the AMQP header after SASL.
        case header
        /// SASL frames (§5.3), until the outcome.
        case sasl
        /// AMQP frames, until the peer's close.
        case amqp
        /// Nothing more is read: the peer closed, the host closed our input, or the input was bad.
        case closed
    }

    /// Client or server: which side speaks first (§2.2).
    public let mode: Mode
    /// The settings this driver announces and enforces; fixed at creation.
    public let configuration: DriverConfiguration

    // `@exclusivity(unchecked)` on hot state: see the note at the top of Endpoints.swift.
    // Set once in init; optional only because the connection needs `self` to be made.
    @exclusivity(unchecked) private var _connection: Connection?
    /// The connection this driver runs.
    public var connection: Connection { _connection.unsafelyUnwrapped }

    @exclusivity(unchecked) var input = InputBuffer()
    @exclusivity(unchecked) var inputPhase: InputPhase = .header
    @exclusivity(unchecked) var receivedAnyHeader = false
    @exclusivity(unchecked) var output = OutputBuffer()
    @exclusivity(unchecked) var openSent = false
    @exclusivity(unchecked) var sasl = SASLNegotiation()
    @exclusivity(unchecked) var idle: IdleTimer

    // Taken out with Optional.take(), so handing an event over moves it instead of copying it.
    @exclusivity(unchecked) private var events: [AMQPEvent?] = []
    @exclusivity(unchecked) private var eventHead = 0
    // Read by other modules through the accessors: a direct read from another module is
    // checked for exclusivity at run time whatever `@exclusivity(unchecked)` says.
    @exclusivity(unchecked) var _isHeadClosed: Bool = false
    /// True once no more output is written: everything after our close went out, the host
    /// reported ``writeClose()``, or the transport failed before the AMQP layer.
    public private(set) var isHeadClosed: Bool { get { _isHeadClosed } set { _isHeadClosed = newValue } }
    @exclusivity(unchecked) private var closedPosted = false

    /// The peer's max-frame-size, once known; frames before its open are held to 512 (§2.7.1).
    @exclusivity(unchecked) public internal(set) var remoteMaxFrameSize: UInt32 = 512

    @exclusivity(unchecked) var pendingDispositions: [Delivery] = []
    @exclusivity(unchecked) var spareDispositions: [Delivery] = []
    @exclusivity(unchecked) var dispositionScratch: [(UInt32, Delivery)] = []
    @exclusivity(unchecked) var pendingFlows: [Link] = []
    @exclusivity(unchecked) var pendingDrains: [Link] = []
    @exclusivity(unchecked) var pendingBufferChecks: [Link] = []
    @exclusivity(unchecked) private var earlyWrite: ((ConnectionDriver) -> Void)?
    @exclusivity(unchecked) private var earlyWriteThreshold = Int.max
    @exclusivity(unchecked) private var earlyWriteMark = Int.max
    @exclusivity(unchecked) var inEarlyWrite = false

    /// The SASL mechanism settled on, once chosen (§5.3.3.2).
    public var saslMechanism: Symbol? { sasl.mechanism }
    /// The SASL outcome, once sent (server) or received (client) (§5.3.3.6).
    public var saslOutcome: SASLCode? { sasl.outcome }
    /// Server: who the client authenticated as; nil without SASL.
    public var authenticatedIdentity: String? { sasl.identity }

    /// A driver for one connection, in `mode`, announcing and enforcing `configuration`.
    /// A client writes its first header at once; a server waits for the client's.
    public init(mode: Mode, configuration: DriverConfiguration) {
        self.mode = mode
        var config = configuration
        config.maxFrameSize = max(512, config.maxFrameSize)
        self.configuration = config
        self.idle = IdleTimer(localTimeout: config.idleTimeout)
        self._connection = Connection(driver: self, containerID: config.containerID)
        post(.connectionInit(connection))
        post(.connectionBound(connection))
        // A client speaks first; a server answers the header the client chose.
        if mode == .client {
            if let saslConfig = config.saslClient {
                sasl.startClient(saslConfig)
                writeHeader(.sasl)
            } else {
                startAMQPOutput()
            }
        }
    }

    deinit {
        // Children point at their parents strongly (see Endpoints.swift): cut the tree downwards,
        // and mark every endpoint released, so that calls on ones the application kept do nothing.
        let c = connection
        for s in c.sessions { s.release() }
        c.sessions = []
        c.sessionsByRemoteChannel.removeAll()
        c.isReleased = true
    }

    /// Reads `AMQP_TRACE_FRM`-style tracing from a host's environment value: a non-empty value
    /// other than "0" turns on tracing to `print`.
    public static func traceFromEnvironment(_ value: String?) -> (@Sendable (String) -> Void)? {
        guard let value, !value.isEmpty, value != "0" else { return nil }
        return { print($0) }
    }

    // MARK: input

    /// True once no more input is read: the peer closed, ``readClose()`` was called, or the input
    /// was bad.
    public var isTailClosed: Bool { inputPhase == .closed }

    /// Space for the host to read into. Valid until the next call into the driver that processes
    /// input (``readDone(_:)``, ``read(_:)-(UnsafeRawBufferPointer)``, ``read(_:)-(C)``,
    /// ``readClose()``). Empty once the input is closed.
    public func readBuffer() -> UnsafeMutableRawBufferPointer {
        if isTailClosed { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return input.space()
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

    /// Processes `bytes` read into the host's own memory (a completion-based backend's receive
    /// buffer), copying into the driver's buffer only what does not end a frame: complete frames
    /// at the front are taken from `bytes` themselves, so they are copied once, as with
    /// ``readBuffer()``. `bytes` may be reused as soon as this returns.
    public func read(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while !rest.isEmpty && !isTailClosed {
            if input.count == 0 {
                idle.inputSinceTick = true
                let taken = process(UnsafeRawBufferPointer(rebasing: rest))
                rest = rest.dropFirst(taken)
                if rest.isEmpty || isTailClosed { return }
            }
            // A frame begun and not ended: into the buffer, only as much as finishes it, so that
            // what follows it can again be taken in place.
            let space = readBuffer()
            let n = min(space.count, rest.count, input.bytesToFinishFrame)
            space.copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(n)))
            rest = rest.dropFirst(n)
            readDone(n)
        }
    }

    /// Reports that the host wrote `count` bytes into ``readBuffer()``, and processes them: events
    /// are posted and output written.
    public func readDone(_ count: Int) {
        guard !isTailClosed, count > 0 else { return }
        let filled = input.filled(count)
        idle.inputSinceTick = true
        process()
        // A host that filled the whole buffer has more waiting: offer it more next time.
        if filled && !isTailClosed { input.growAfterFullRead() }
    }

    /// Reports end of input (the socket's read side closed). Before the peer's close that is an
    /// error (`amqp:connection:forced`); either way our close goes out, then the output closes.
    public func readClose() {
        guard !isTailClosed else { return }
        // An error unless the peer closed properly, or never took part at all (a probe that
        // connected and left without a byte, before we wrote anything).
        if connection.remoteState != .closed && receivedAnyHeader || !receivedAnyHeader && (input.count > 0 || output.wroteHeader) {
            transportError(AMQPError(condition: ErrorCondition.connectionForced, description: "connection aborted: input closed before the peer's close"), sendClose: false)
        }
        closeTail()
        // Nothing more will arrive: say goodbye if we had said hello, then close once flushed.
        if openSent { sendCloseFrame() }
        finishOutput()
    }

    /// Closes the connection because of a transport-level `error`: posts it as
    /// ``AMQPEvent/transportError(_:)``, sends close with it (after an open if none was sent) and
    /// stops reading. Unlike ``Connection/close(_:)``, it does not wait for the peer's close.
    public func failTransport(_ error: AMQPError) {
        protocolFailure(error)
    }

    // MARK: output

    /// Bytes waiting to be written, valid until the next call into the driver. Write some, then
    /// call ``writeDone(_:)``. Queued credit, dispositions and the answers to drains are written when this is read.
    public var pendingOutput: ArraySlice<UInt8> {
        prepareOutput()
        return output.pending
    }

    /// The pending output as a block that stays where it is, unchanged, until ``writeDone(_:)``
    /// has reported all of it, however the driver is used meanwhile: for a host that writes
    /// asynchronously from the driver's memory (a completion-based backend), while the
    /// application goes on producing output, which collects apart from the block. Keep the slice
    /// until the write completes (it keeps the memory alive even if the driver goes first), then
    /// report with ``writeDone(_:)`` as usual and drop it. Called again before all of the block is
    /// reported, it returns the unreported rest; once all is reported, the next block. Empty when
    /// nothing is pending. While a block is out, ``pendingOutput`` shows only what came after it:
    /// a host uses one or the other, and ``returnOutputBlock()`` puts the block back if it stops.
    public func takeOutputBlock() -> ArraySlice<UInt8> {
        prepareOutput()
        let block = output.takeBlock()
        if earlyWrite != nil && !inEarlyWrite { resetEarlyWriteMark() }
        return block
    }

    /// Ends asynchronous writing (``takeOutputBlock()``), for instance when a backend hands the
    /// driver back after cancelling its write: the unreported rest of the block goes back in
    /// front of ``pendingOutput``.
    public func returnOutputBlock() {
        output.returnBlock()
    }

    /// What waits for the application's turn to end goes out now: batched credit, the answers to
    /// drains, refusals of deliveries that cannot fit the session buffer, batched dispositions.
    @inline(__always)
    private func prepareOutput() {
        flushFlows()
        completeDrains()
        if !pendingBufferChecks.isEmpty && !inEarlyWrite { refuseStalledDeliveries() }
        flushDispositions()
    }

    /// Lets a host write while the application is still in a long call into the driver, such as
    /// a loop that sends a thousand messages: once a send leaves at least `threshold` bytes
    /// pending, `write` is called, from inside that send, on the thread making it; also when the
    /// application grants a link at least as much credit as it had left (``Link/flow(credit:drain:)``),
    /// as a sender may be waiting for it. `write` may
    /// read ``pendingOutput`` (or take ``takeOutputBlock()``) and call ``writeDone(_:)``, nothing else. Without it the peer gets
    /// nothing until the loop ends, and two peers take turns instead of working at once.
    /// Pass nil to turn it off.
    public func setEarlyWrite(threshold: Int, _ write: ((ConnectionDriver) -> Void)?) {
        earlyWriteThreshold = max(1, threshold)
        earlyWrite = write
        resetEarlyWriteMark()
    }

    /// The next early write comes once another threshold's worth is pending: a host that could
    /// not write (the socket full, a send in flight) is not asked again on every send.
    private func resetEarlyWriteMark() {
        let (mark, overflow) = output.pendingCount.addingReportingOverflow(earlyWriteThreshold)
        earlyWriteMark = overflow ? .max : mark
    }

    /// Called after each send: hands the output to the host's early write once enough waits, or
    /// at once when `urgent` (a credit grant a sender may be waiting for).
    @inline(__always)
    func offerEarlyWrite(urgent: Bool = false) {
        guard urgent || output.pendingCount >= earlyWriteMark, let write = earlyWrite, !inEarlyWrite else { return }
        inEarlyWrite = true
        write(self)
        inEarlyWrite = false
        resetEarlyWriteMark()
    }

    /// Reports that the host wrote `count` bytes: of the block from ``takeOutputBlock()`` first,
    /// then of ``pendingOutput``. Once everything is written
    /// after both closes, the head closes (and events may be posted: check ``hasEvent``).
    public func writeDone(_ count: Int) {
        output.consumed(count)
        if earlyWrite != nil && !inEarlyWrite { resetEarlyWriteMark() }
        if output.isEmpty && outputEndsOnceWritten { finishOutput() }
    }

    /// Whether the output is over once what is pending is written: our close is out and the peer
    /// closed or can send no more, or nothing more can come in and the AMQP layer never started
    /// (a SASL failure: the open held for it never goes) or we never opened.
    private var outputEndsOnceWritten: Bool {
        if output.gate == .closeWritten { return isTailClosed || connection.remoteState == .closed }
        return isTailClosed && (output.gate == .beforeAMQP || output.gate == .closeHeld || !openSent)
    }

    /// Reports that no more output can be written (the socket's write side closed, or the host
    /// gives up on the peer). What was pending is dropped and the head closes; the driver is
    /// finished once the input is closed too, so a host that stops reading calls ``readClose()``.
    public func writeClose() {
        output.close()
        closeHead()
    }

    func finishOutput() {
        guard output.isEmpty else { return }
        closeHead()
    }

    func closeTail() {
        guard !isTailClosed else { return }
        inputPhase = .closed
        post(.transportTailClosed)
        checkClosed()
    }

    private func closeHead() {
        guard !isHeadClosed else { return }
        isHeadClosed = true
        output.close()
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

    /// Whether ``nextEvent()`` has something: calls such as ``writeDone(_:)`` and ``tick(now:)``
    /// can post events too, so a host checks this before it sleeps (Proton's
    /// `pn_connection_driver_has_event`).
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

    /// Posts ``AMQPEvent/connectionWake(_:)``: a backend calls it on the connection's thread after
    /// another thread asked to wake this connection. Nothing else happens. Once the transport is
    /// closed both ways it does nothing: nothing follows transport-closed.
    public func wake() {
        guard !(isHeadClosed && isTailClosed) else { return }
        post(.connectionWake(connection))
    }

    // MARK: time

    /// Drives heartbeats and the idle timeout (§2.4.5). It can write output (an empty frame) and
    /// post events (closing a silent peer with `amqp:resource-limit-exceeded`), so a host writes
    /// and reads events after it.
    /// - Parameter now: the current time on a monotonic clock.
    /// - Returns: when to call again, or nil when no timer is needed.
    public func tick(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let decision = idle.tick(now: now, watchInput: !isTailClosed,
                                 mayHeartbeat: openSent && output.gate == .open && !isHeadClosed)
        guard !isHeadClosed else { return nil }
        if decision.expired {
            let ms = idle.localTimeout ?? 0
            protocolFailure(AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "no frames from the peer for \(ms) ms"))
            return nil
        }
        if decision.heartbeat { writeHeartbeat() }
        return decision.deadline
    }

    // MARK: failures

    func protocolFailure(_ condition: Symbol, _ description: String) {
        protocolFailure(AMQPError(condition: condition, description: description))
    }

    /// Reports a violation, closes with it (when the AMQP layer is up) and stops reading.
    func protocolFailure(_ error: AMQPError) {
        transportError(error)
        closeTail()
        finishOutput()
    }

    func transportError(_ error: AMQPError, sendClose: Bool = true) {
        post(.transportError(error))
        // Before the AMQP layer is up (say, during SASL) there is nothing to close but the transport.
        if sendClose && output.gate == .open && !isHeadClosed {
            let c = connection
            c.localError = error
            if c.localState == .uninitialized { c.localState = .active; sendOpenIfReady() }
            c.localState = .closed
            sendCloseFrame()
        }
    }

    func trace(_ line: @autoclosure () -> String) {
        if let t = configuration.trace { t(line()) }
    }
}

@available(*, unavailable)
extension ConnectionDriver: Sendable {}

import AMQPEngine
import Logging
import NIOCore

/// What a ``DriverChannelHandler`` hands the driver's events to. Called on the channel's event
/// loop only, like everything the driver owns.
protocol DriverEventSink: AnyObject {
    /// One event; the driver has already updated the objects it names.
    func handle(_ event: AMQPEvent)
    /// After each batch of events, before output is written: queue what credit now allows.
    func afterEvents()
    /// The channel is gone; `error` is what closed it, when something did.
    func channelClosed(error: (any Error)?)
}

/// Hosts one ``ConnectionDriver`` on a NIO channel: bytes in, events out, writes coalesced.
///
/// - Input: each inbound `ByteBuffer` is copied into the driver's read buffer and processed.
///   Reading pauses (``read(context:)`` is held back) while a session holds
///   `sessionBufferLimit` bytes the application has not settled, and resumes when it settles.
/// - Output: one turn per event-loop tick at most (``scheduleTurn()``): events are handled, the
///   driver's whole `pendingOutput` becomes one write, and the channel is flushed once. Nothing is
///   taken from the driver while the channel is not writable.
/// - Time: `tick(now:)` runs each turn; its deadline becomes one scheduled task on the loop.
///
/// Not `Sendable`: it lives on its channel's event loop, which NIO's `assumeIsolated()` checks.
final class DriverChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let driver: ConnectionDriver
    weak var sink: (any DriverEventSink)?
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var turnScheduled = false
    private var inTurn = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?
    /// A read NIO asked for while input was paused.
    private var heldRead = false
    private var closeError: (any Error)?
    private var closedReported = false

    init(driver: ConnectionDriver, logger: Logger) {
        self.driver = driver
        self.logger = logger
    }

    /// True while the channel takes writes without queueing past its high-water mark.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Runs a turn on the next loop tick, once however often it is asked for: the way calls from
    /// the application (send, flow, settle) wake the connection.
    func scheduleTurn() {
        guard !turnScheduled, let context else { return }
        turnScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.turnScheduled = false
            self.runTurn()
        }
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { runTurn() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
        reportClosed()  // a channel that never became active (connect refused) ends here
    }

    func channelActive(context: ChannelHandlerContext) {
        runTurn()  // the client's protocol header, open, begin: in one write
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        // Complete frames are decoded from NIO's buffer itself; only a frame cut at its end is
        // copied into the driver's.
        bytes.withUnsafeReadableBytes { driver.read($0) }
        drainEvents()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        runTurn()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { runTurn() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("channel error", metadata: ["error": "\(error)"])
        if closeError == nil { closeError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        logger.trace("channel inactive")
        timer?.cancel()
        timer = nil
        // What closed the channel (a TLS failure, say) first: the driver's own report of the lost
        // input would otherwise be the failure the application sees.
        reportClosed()
        driver.readClose()
        driver.writeClose()
        drainEvents()
        context.fireChannelInactive()
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if inputPaused { heldRead = true } else { context.read() }
    }

    /// A session holds as many unsettled bytes as it may: stop reading until the application settles.
    private var inputPaused: Bool {
        let limit = driver.configuration.sessionBufferLimit
        return driver.connection.allSessions.contains { $0.bufferedBytes >= limit }
    }

    // MARK: the turn

    /// Time in, events out, output written and flushed once, deadline rescheduled.
    func runTurn() {
        guard let context, !inTurn else { return }
        inTurn = true
        defer { inTurn = false }
        let deadline = driver.tick(now: .now)
        var wrote = false
        repeat {
            drainEvents()
            sink?.afterEvents()
            wrote = writeOutput(context) || wrote
        } while driver.hasEvent
        if wrote { context.flush() }
        schedule(deadline)
        if heldRead && !inputPaused {
            heldRead = false
            context.read()
        }
        if driver.isFinished && context.channel.isActive {
            logger.trace("driver finished: closing the channel")
            context.close(promise: nil)
        }
    }

    private func drainEvents() {
        while let event = driver.nextEvent() { sink?.handle(event) }
    }

    private func writeOutput(_ context: ChannelHandlerContext) -> Bool {
        guard context.channel.isWritable else { return false }
        let output = driver.pendingOutput
        guard !output.isEmpty else { return false }
        var buffer = context.channel.allocator.buffer(capacity: output.count)
        buffer.writeBytes(output)
        // NIO owns the bytes now; a failed write closes the channel, which ends the driver.
        context.write(wrapOutboundOut(buffer), promise: nil)
        driver.writeDone(output.count)
        return true
    }

    private func schedule(_ deadline: ContinuousClock.Instant?) {
        guard deadline != timerDeadline, let context else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else { timer = nil; return }
        let (seconds, attoseconds) = (deadline - .now).components
        let nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            self.timerDeadline = nil
            self.runTurn()
        }
    }

    private func reportClosed() {
        guard !closedReported else { return }
        closedReported = true
        sink?.channelClosed(error: closeError)
    }
}

@available(*, unavailable)
extension DriverChannelHandler: Sendable {}

import AMQPCodec

/// The bytes waiting for the host to write, and the gate that decides what may still be written.
///
/// The gate is the one place that enforces the output side of the protocol's phases:
/// - before the AMQP header goes out (a client negotiating SASL), AMQP frames wait aside;
/// - once our close is written, no AMQP frame follows it, not even a heartbeat (AMQP 1.0 §2.7.9:
///   Proton answers anything after close with `framing-error: data after close`);
/// - once the host reports the write side closed, nothing more is kept at all.
struct OutputBuffer {
    enum Gate: Equatable {
        /// No AMQP header written yet: AMQP frames are held until it is.
        case beforeAMQP
        /// No AMQP header written yet, and our close is among the held frames (the application
        /// closed during SASL, or a server refused the connection before the client's header):
        /// the header and the held frames still go out, then nothing more.
        case closeHeld
        /// AMQP frames go out.
        case open
        /// Our close is written: nothing more of the AMQP layer.
        case closeWritten
        /// The host closed the write side.
        case closed
    }

    private(set) var gate: Gate = .beforeAMQP
    private var bytes: [UInt8] = []
    private var start = 0
    // AMQP frames produced before the AMQP header could go out (during SASL).
    private var held: [UInt8] = []
    /// Whether any protocol header was written, AMQP or SASL.
    private(set) var wroteHeader = false

    // The block a host writes asynchronously (``takeBlock()``), never changed until all of it is
    // reported written: new output collects in `bytes` meanwhile.
    private var block: [UInt8] = []
    private var blockStart = 0

    /// What the host has yet to write, after the block being written asynchronously if any.
    var pending: ArraySlice<UInt8> { bytes[start...] }
    var isEmpty: Bool { start == bytes.count && blockStart == block.count }
    var pendingCount: Int { bytes.count - start }
    /// Bytes of the asynchronously written block not yet reported written.
    var blockRemaining: Int { block.count - blockStart }

    /// The host wrote `n` bytes: of the block first, then of ``pending``.
    mutating func consumed(_ n: Int) {
        let fromBlock = min(max(0, n), blockRemaining)
        blockStart += fromBlock
        start = min(bytes.count, start + max(0, n - fromBlock))
    }

    /// The rest of the block being written; when all of it is written, the pending output becomes
    /// the next block, by swapping arrays (no copy: the spent block's storage takes new output).
    mutating func takeBlock() -> ArraySlice<UInt8> {
        if blockRemaining == 0 && start < bytes.count {
            swap(&block, &bytes)
            blockStart = start
            start = 0
            // Unique unless the host still holds a slice of the spent block: then this allocates.
            bytes.removeAll(keepingCapacity: true)
        }
        return block[blockStart...]
    }

    /// Puts the unwritten rest of the block back in front of the pending output (a host that
    /// stops writing asynchronously: its write was cancelled).
    mutating func returnBlock() {
        guard blockRemaining > 0 else { return }
        var merged = Array(block[blockStart...])
        merged.append(contentsOf: bytes[start...])
        bytes = merged
        start = 0
        block.removeAll(keepingCapacity: true)
        blockStart = 0
    }

    /// Protocol headers and SASL frames: anything before the AMQP layer.
    mutating func writeBeforeAMQP(_ write: (inout [UInt8]) -> Void) {
        guard gate != .closed else { return }
        append(write)
    }

    mutating func writeHeader(_ header: ProtocolHeader) {
        guard gate != .closed else { return }
        wroteHeader = true
        append { $0.append(contentsOf: header.bytes) }
    }

    /// Writes the AMQP header, then the frames that waited for it.
    mutating func openAMQP() {
        guard gate == .beforeAMQP || gate == .closeHeld else { return }
        gate = gate == .closeHeld ? .closeWritten : .open
        writeHeader(.amqp)
        if !held.isEmpty {
            let h = held
            held = []
            append { $0.append(contentsOf: h) }
        }
    }

    /// An AMQP frame other than close. Returns false when the gate refuses it.
    @inline(__always)
    @discardableResult
    mutating func writeAMQPFrame(_ write: (inout [UInt8]) -> Void) -> Bool {
        switch gate {
        case .open: append(write); return true
        case .beforeAMQP: write(&held); return true
        case .closeHeld, .closeWritten, .closed: return false
        }
    }

    /// Our close: the last AMQP frame.
    mutating func writeClose(_ write: (inout [UInt8]) -> Void) {
        let before = gate
        guard writeAMQPFrame(write) else { return }
        gate = before == .beforeAMQP ? .closeHeld : .closeWritten
    }

    /// Whether our close is written or waiting for the AMQP header: no AMQP frame follows it.
    var closeQueued: Bool { gate == .closeWritten || gate == .closeHeld }

    /// The host cannot write any more: what is pending is dropped.
    mutating func close() {
        gate = .closed
        bytes = []
        held = []
        start = 0
        block = []
        blockStart = 0
    }

    /// Output the host has already written is dropped before appending, rather than when it
    /// reports the write: by now it no longer holds the slice ``pending`` gave it (valid until the
    /// next call into the driver), so the array is not shared and keeps its capacity instead of
    /// being reallocated every round.
    @inline(__always)
    private mutating func append(_ write: (inout [UInt8]) -> Void) {
        compact()
        write(&bytes)
    }

    /// A transfer frame carrying `message`, when the gate is open (the caller checked it). No
    /// closure: see ``TransferCodec/append(channel:handle:deliveryID:tag:messageFormat:settled:message:into:)``.
    @inline(__always)
    /// Encoded first and measured after, rather than sized in a pass of its own: a frame over
    /// `maxFrame` bytes or a message over `maxMessage` (0: no limit) is taken back out, and the
    /// caller sends it the long way. Returns whether it stayed.
    mutating func writeTransfer(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                                settled: Bool?, message: borrowing Message, maxFrame: Int, maxMessage: UInt64) -> Bool {
        compact()
        let start = bytes.count
        let size = TransferCodec.append(channel: channel, handle: handle, deliveryID: deliveryID, tag: tag, messageFormat: messageFormat,
                                        settled: settled, message: message, into: &bytes)
        guard bytes.count - start <= maxFrame && (maxMessage == 0 || UInt64(size) <= maxMessage) else {
            bytes.removeLast(bytes.count - start)
            return false
        }
        return true
    }

    /// A transfer frame carrying `payload` whole, when the gate is open (the caller checked it).
    @inline(__always)
    mutating func writeTransfer(channel: UInt16, handle: UInt32, deliveryID: UInt32?, tag: DeliveryTag?, messageFormat: UInt32?,
                                settled: Bool?, payload: ArraySlice<UInt8>) {
        compact()
        TransferCodec.append(channel: channel, handle: handle, deliveryID: deliveryID, tag: tag, messageFormat: messageFormat,
                             settled: settled, more: false, payload: payload, into: &bytes)
    }

    @inline(__always)
    private mutating func compact() {
        if start > 0 {
            if start == bytes.count {
                bytes.removeAll(keepingCapacity: true)
                start = 0
            } else if start >= 65_536 && start * 2 >= bytes.count {
                bytes.removeFirst(start)
                start = 0
            }
        }
    }
}

import AMQPSystem

// What the ring knows of each socket: the operations in flight on it and the results that came
// back, waiting for the thread that holds the socket's task. Every property is guarded by the
// proactor's ring lock; these objects never leave the proactor.

/// One socket's operations. A socket is closed (or handed back, for release) only once nothing
/// is in flight on it, so no operation can complete on a reused descriptor number.
class SocketOperations {
    /// How the socket ends once its operations are done.
    enum Ending {
        /// Close the descriptor.
        case close
        /// Leave it open: the application took it with `release`.
        case release
    }

    let descriptor: CInt
    let taskID: UInt64
    var slot = -1
    var generation: UInt32 = 0
    /// Submissions whose last completion has not arrived (a multishot one counts once).
    var inFlight = 0
    /// Set once the socket is closing: its completions then wake nobody.
    var ending: Ending?
    var cancelSubmitted = false

    init(descriptor: CInt, taskID: UInt64) {
        self.descriptor = descriptor
        self.taskID = taskID
    }

    func tag(_ operation: CompletionTag.Operation) -> CompletionTag {
        CompletionTag(slot: slot, generation: generation, operation: operation)
    }
}

/// A connection's operations: one multishot receive, at most one send, or the connect's poll.
final class ConnectionOperations: SocketOperations {
    /// A multishot receive is armed (its last completion, without `IORING_CQE_F_MORE`, not yet in).
    var receiving = false
    /// The receive ended for want of buffers (`ENOBUFS`); re-armed when buffers come back.
    var starved = false
    /// Buffers filled and not yet copied into the driver, in order: (buffer id, byte count).
    var received: [(id: UInt16, count: Int)] = []
    /// The peer closed its side (a receive of 0 bytes).
    var endOfInput = false
    /// The receive failed.
    var receiveError: Errno?
    /// A send is in flight, or its result not yet seen by the thread holding the connection.
    var sending = false
    /// What the send in flight sends: a copy of the driver's pending output, so that the driver's
    /// own buffer is never shared (and copied on write) while the kernel reads. Not guarded by
    /// the ring lock: only the thread holding the connection writes it, while `sending` is false.
    let sendBuffer = SendBuffer()
    /// The send's result once it completed: bytes sent, or -errno.
    var sendResult: Int32?
    /// How many bytes the send in flight carries.
    var sendLength = 0
    /// Whether a send that carries everything should wake the connection's task. When it need
    /// not (more of the stream is still to come either way), the result waits for the task's next
    /// batch, which sees it before anything else: one batch per round trip instead of two.
    var wakeOnCompleteSend = true
    /// The connect's poll result once it completed.
    var connectResult: Int32?
}

/// Memory the kernel sends from: grown to the largest send, reused for the next.
///
/// Its pointer is shared with the kernel: the thread holding the connection fills it only while
/// no send is in flight, the kernel reads it only during one, and the memory is freed only with
/// the connection's operations, after their last completion.
final class SendBuffer {
    /// The most one send carries; the rest of the output goes with the next.
    static let limit = 256 * 1024
    private(set) var bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Copies up to ``limit`` bytes of `output` in; returns what the send is to carry.
    func fill(from output: ArraySlice<UInt8>) -> UnsafeRawBufferPointer {
        let n = min(output.count, Self.limit)
        if bytes.count < n {
            bytes.deallocate()
            bytes = .allocate(byteCount: max(n, 4096).nextPowerOfTwo, alignment: 16)
        }
        output.prefix(n).withUnsafeBytes { bytes.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: bytes[..<n])
    }

    deinit { bytes.deallocate() }
}

extension Int {
    /// The smallest power of two not below this (positive) number.
    var nextPowerOfTwo: Int { 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount) }
}

/// A listener's one-shot accepts.
final class ListenerOperations: SocketOperations {
    var acceptsInFlight = 0
    /// Accepted descriptors not yet handed to the listener's task.
    var accepted: [CInt] = []
    /// The last accept failure not yet seen by the task (`EMFILE`: back off).
    var acceptError: Errno?
}

/// Sockets by slot, each with a generation that changes when the slot is freed.
struct SlotTable {
    private var entries: [SocketOperations?] = []
    private var generations: [UInt32] = []
    private var free: [Int] = []

    /// Sockets in the table.
    private(set) var count = 0

    /// Gives `socket` a slot and that slot's current generation.
    mutating func insert(_ socket: SocketOperations) {
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
        } else {
            slot = entries.count
            entries.append(nil)
            generations.append(0)
        }
        socket.slot = slot
        socket.generation = generations[slot]
        entries[slot] = socket
        count += 1
    }

    /// The socket a completion is for; nil when its slot was freed or reused since.
    subscript(tag: CompletionTag) -> SocketOperations? {
        guard tag.slot < entries.count, generations[tag.slot] == tag.generation else { return nil }
        return entries[tag.slot]
    }

    /// Frees a socket's slot: the next socket in it gets another generation.
    mutating func remove(_ socket: SocketOperations) {
        guard socket.slot >= 0, entries[socket.slot] === socket else { return }
        entries[socket.slot] = nil
        generations[socket.slot] &+= 1
        free.append(socket.slot)
        count -= 1
    }

    /// Every socket still in the table.
    var all: [SocketOperations] { entries.compactMap { $0 } }
}

import AMQPSystem

// What the ring knows of each socket: the operations in flight on it and the results that came
// back, waiting for the thread that holds the socket's task. Every property is guarded by the
// proactor's ring lock; these objects never leave the proactor. The lock is also why the stored
// properties opt out of run-time exclusivity checks (`@exclusivity(unchecked)`): two accesses
// never overlap, and a check on every access cost about 500 instructions per message in
// request/response (callgrind of the receiver).

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
    @exclusivity(unchecked) var slot = -1
    @exclusivity(unchecked) var generation: UInt32 = 0
    /// Submissions whose last completion has not arrived (a multishot one counts once).
    @exclusivity(unchecked) var inFlight = 0
    /// Set once the socket is closing: its completions then wake nobody.
    @exclusivity(unchecked) var ending: Ending?
    @exclusivity(unchecked) var cancelSubmitted = false

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
    @exclusivity(unchecked) var receiving = false
    /// The receive ended for want of buffers (`ENOBUFS`); re-armed when buffers come back.
    @exclusivity(unchecked) var starved = false
    /// Buffers filled and not yet copied into the driver, in order: (buffer id, byte count).
    @exclusivity(unchecked) var received: [(id: UInt16, count: Int)] = []
    /// The peer closed its side (a receive of 0 bytes).
    @exclusivity(unchecked) var endOfInput = false
    /// The receive failed.
    @exclusivity(unchecked) var receiveError: Errno?
    /// A send is in flight, or its result not yet seen by the thread holding the connection.
    @exclusivity(unchecked) var sending = false
    /// What the send in flight carries: part of the driver's output block
    /// (``AMQPEngine/ConnectionDriver/takeOutputBlock()``), sent from the driver's own memory,
    /// which the slice keeps alive and the driver leaves unchanged until the send is reported.
    /// Not guarded by the ring lock: only the thread holding the connection touches it, and the
    /// kernel only reads the memory, during the send.
    @exclusivity(unchecked) var sendBlock: ArraySlice<UInt8> = []
    /// What owns the memory of the send in flight when it comes from a connection's
    /// ``AMQPProactor/TransportLayer`` (the layer itself): kept until the send's completion is
    /// taken, so the memory outlives the kernel's read of it even if the connection goes first.
    /// Like ``sendBlock``, touched only by the thread holding the connection (and released with
    /// these operations, under the ring lock, after their last completion).
    @exclusivity(unchecked) var sendOwner: AnyObject?
    /// The send's result once it completed: bytes sent, or -errno.
    @exclusivity(unchecked) var sendResult: Int32?
    /// How many bytes the send in flight carries.
    @exclusivity(unchecked) var sendLength = 0
    /// The most one send carries; the rest of the block goes with the next.
    static let sendLimit = 256 * 1024
    /// Whether a send that carries everything should wake the connection's task. When it need
    /// not (more of the stream is still to come either way), the result waits for the task's next
    /// batch, which sees it before anything else: one batch per round trip instead of two.
    @exclusivity(unchecked) var wakeOnCompleteSend = true
    /// The connect's poll result once it completed.
    @exclusivity(unchecked) var connectResult: Int32?
}

/// A listener's one-shot accepts.
final class ListenerOperations: SocketOperations {
    @exclusivity(unchecked) var acceptsInFlight = 0
    /// Accepted descriptors not yet handed to the listener's task.
    @exclusivity(unchecked) var accepted: [CInt] = []
    /// The last accept failure not yet seen by the task (`EMFILE`: back off).
    @exclusivity(unchecked) var acceptError: Errno?
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

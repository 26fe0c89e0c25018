/// What a submission was for, packed into its 64-bit `user_data`: the slot of the socket it acts
/// on, that slot's generation when it was submitted, and the kind of operation.
///
/// A slot is reused only after every operation submitted for it has completed; the generation
/// still goes into each tag so that a completion that ever arrived for an earlier owner of the
/// slot (or of the descriptor number) is recognised and dropped instead of acted on.
struct CompletionTag: Hashable, Sendable {
    /// The operations the proactor submits.
    enum Operation: UInt8, Sendable {
        /// The read of the wake eventfd, kept pending.
        case wake = 1
        /// A multishot recv into provided buffers.
        case receive
        /// A send of the connection's pending output.
        case send
        /// A poll for writability: a non-blocking connect finishing.
        case connect
        /// An accept on a listener.
        case accept
        /// A cancel of every operation on a closing socket.
        case cancel
        /// A cancel of one receive (tests forcing the end of a multishot receive).
        case cancelReceive
    }

    /// Slots are 24 bits: 16 million sockets.
    static let slotLimit = 1 << 24

    var slot: Int
    var generation: UInt32
    var operation: Operation

    init(slot: Int, generation: UInt32, operation: Operation) {
        precondition(slot >= 0 && slot < Self.slotLimit, "slot \(slot) out of range")
        self.slot = slot
        self.generation = generation
        self.operation = operation
    }

    /// Unpacks a completion's `user_data`; nil for one this proactor never made.
    init?(userData: UInt64) {
        guard let operation = Operation(rawValue: UInt8(truncatingIfNeeded: userData)) else { return nil }
        self.operation = operation
        slot = Int((userData >> 8) & UInt64(Self.slotLimit - 1))
        generation = UInt32(truncatingIfNeeded: userData >> 32)
    }

    /// The packed form: generation in the high 32 bits, then the slot, then the operation.
    var userData: UInt64 {
        UInt64(generation) << 32 | UInt64(slot) << 8 | UInt64(operation.rawValue)
    }
}

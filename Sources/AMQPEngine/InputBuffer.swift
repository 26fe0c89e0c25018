/// The bytes read from the peer and not yet processed: memory the host reads into in place.
///
/// Manually allocated, so the pointer ``space()`` hands out stays put until the driver next
/// processes input; an array's storage could move under the host. It starts small, as idle
/// connections are the common case, and doubles while the host keeps filling it, up to 64 KiB
/// (or one frame, if a larger one is announced and allowed).
struct InputBuffer: ~Copyable {
    static let initialCapacity = 8192
    static let greedyLimit = 65_536

    // Safe: owned by this value alone, freed in deinit, never handed out beyond the next call that
    // processes input (the driver's readBuffer() contract).
    private var memory: UnsafeMutableRawBufferPointer
    /// Bytes filled and not yet consumed, from the start of `memory`.
    private(set) var count = 0
    /// The space last offered to the host, to tell whether it filled all of it.
    private var offered = 0

    init() {
        memory = .allocate(byteCount: InputBuffer.initialCapacity, alignment: 8)
    }

    deinit { memory.deallocate() }

    var capacity: Int { memory.count }

    /// The unfilled tail, at least 1 KiB, for the host to read into.
    mutating func space() -> UnsafeMutableRawBufferPointer {
        if memory.count - count < 1024 { grow(to: memory.count * 2) }
        offered = memory.count - count
        return UnsafeMutableRawBufferPointer(rebasing: memory[count...])
    }

    /// Records `n` bytes written into ``space()``; true when the host filled all it was offered.
    mutating func filled(_ n: Int) -> Bool {
        count += min(n, memory.count - count)
        return n >= offered
    }

    /// The filled bytes, valid until the next mutating call.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: memory[0..<count]) }

    /// The size field of the frame at `index` (§2.3.1), once its four bytes are here.
    func declaredFrameSize(at index: Int) -> Int? {
        guard count - index >= 4 else { return nil }
        let b = memory
        return Int(b[index]) << 24 | Int(b[index + 1]) << 16 | Int(b[index + 2]) << 8 | Int(b[index + 3])
    }

    /// How many more bytes the frame (or protocol header) begun in the buffer needs, as far as
    /// is known: the rest of an 8-byte header until the frame's size is here.
    var bytesToFinishFrame: Int {
        if let size = declaredFrameSize(at: 0), size > count { return size - count }
        return max(1, 8 - count)
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    mutating func consume(_ n: Int) {
        let left = count - n
        if n > 0 && left > 0 {
            memory.baseAddress!.copyMemory(from: memory.baseAddress! + n, byteCount: left)
        }
        count = max(0, left)
    }

    /// Makes room for a whole frame of `size` bytes at the front.
    mutating func reserve(_ size: Int) {
        if size > memory.count { grow(to: size + 8) }
    }

    /// Doubles after a read that filled the buffer: the host has more waiting.
    mutating func growAfterFullRead() {
        if memory.count < InputBuffer.greedyLimit { grow(to: memory.count * 2) }
    }

    private mutating func grow(to size: Int) {
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        bigger.baseAddress!.copyMemory(from: memory.baseAddress!, byteCount: count)
        memory.deallocate()
        memory = bigger
    }
}

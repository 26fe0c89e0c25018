import AMQPSystem
import CURing

/// A provided-buffer ring (liburing 2.3 has no `io_uring_setup_buf_ring`): `count` buffers of
/// `size` bytes that the kernel takes one at a time for multishot receives, and that the proactor
/// gives back once it has copied their bytes into a driver.
///
/// The ring of descriptors is page-aligned anonymous memory, as the kernel requires; the buffers
/// are one contiguous block. A buffer is either in the ring (the kernel may fill it) or held by
/// the proactor between its completion and ``giveBack(_:)``; never both, so reading a held buffer
/// races with nothing. Not thread-safe: the proactor's ring lock guards it.
struct ProvidedBuffers {
    /// The ring of `io_uring_buf` descriptors, registered with the kernel.
    let ring: UnsafeMutablePointer<io_uring_buf_ring>
    /// The buffers' memory, `count * size` bytes.
    let storage: UnsafeMutableRawPointer
    /// A power of two, at most 32768.
    let count: Int
    let size: Int
    /// The buffer group the receives select from.
    let group: UInt16
    /// The ring's pages.
    private let mapping: MemoryMapping

    /// Allocates `count` buffers of `size` bytes and puts them all in the ring.
    /// - Throws: ``Errno`` when the ring's pages cannot be mapped (`ENOMEM`).
    init(count: Int, size: Int, group: UInt16) throws(Errno) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "a buffer ring holds a power of two up to 32768 buffers")
        precondition(size > 0 && size <= Int(UInt32.max))
        self.count = count
        self.size = size
        self.group = group
        // mmap returns page-aligned memory, zeroed, as io_uring_register_buf_ring needs.
        mapping = try MemoryMapping.anonymous(byteCount: count * MemoryLayout<io_uring_buf>.stride)
        ring = mapping.baseAddress.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * size, alignment: 64)
        io_uring_buf_ring_init(ring)
        let mask = io_uring_buf_ring_mask(UInt32(count))
        for id in 0..<count {
            io_uring_buf_ring_add(ring, storage + id * size, UInt32(size), UInt16(id), mask, CInt(id))
        }
        io_uring_buf_ring_advance(ring, CInt(count))
    }

    /// The first `length` bytes of buffer `id`, which the proactor holds.
    func bytes(of id: UInt16, length: Int) -> UnsafeRawBufferPointer {
        precondition(Int(id) < count && length >= 0 && length <= size)
        return UnsafeRawBufferPointer(start: storage + Int(id) * size, count: length)
    }

    /// Puts held buffers back in the ring for the kernel to fill again.
    func giveBack(_ ids: some Collection<UInt16>) {
        guard !ids.isEmpty else { return }
        let mask = io_uring_buf_ring_mask(UInt32(count))
        for (offset, id) in ids.enumerated() {
            io_uring_buf_ring_add(ring, storage + Int(id) * size, UInt32(size), id, mask, CInt(offset))
        }
        io_uring_buf_ring_advance(ring, CInt(ids.count))
    }

    /// Frees the memory; only once the ring it was registered with is gone.
    func deallocate() {
        try? mapping.unmap()
        storage.deallocate()
    }
}

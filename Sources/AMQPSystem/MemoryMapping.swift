import Glibc

/// Memory mapped by the kernel (mmap(2)), page-aligned and zeroed: for memory the kernel itself
/// reads, such as an io_uring provided-buffer ring.
///
/// The mapping does not unmap itself; call ``unmap()`` exactly once, after which ``baseAddress``
/// must not be used.
///
/// Threading: not `Sendable`: it is a pointer, guarded by whoever owns it.
public struct MemoryMapping {
    /// The first byte, page-aligned.
    public let baseAddress: UnsafeMutableRawPointer
    /// The length asked for; the kernel maps whole pages.
    public let byteCount: Int

    /// Maps `byteCount` bytes of private anonymous memory, readable and writable (mmap(2)
    /// `PROT_READ | PROT_WRITE`, `MAP_PRIVATE | MAP_ANONYMOUS`).
    /// - Parameter byteCount: at least 1.
    /// - Throws: ``Errno``, e.g. ``Errno/noMemory``.
    public static func anonymous(byteCount: Int) throws(Errno) -> MemoryMapping {
        precondition(byteCount > 0, "a mapping needs at least one byte")
        let mapped = system_mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { throw Errno(rawValue: errno) }
        // The kernel gave `byteCount` bytes (whole pages) at `mapped`: they belong to this mapping
        // alone until unmap(), and no Swift object lives in them.
        return MemoryMapping(baseAddress: mapped, byteCount: byteCount)
    }

    /// Unmaps the memory (munmap(2)).
    /// - Throws: ``Errno``, e.g. ``Errno/invalidArgument``.
    public func unmap() throws(Errno) {
        try nothingOrErrno { system_munmap(baseAddress, byteCount) }.get()
    }
}

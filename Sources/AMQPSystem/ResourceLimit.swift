import Glibc

/// The process's resource limits (getrlimit(2), setrlimit(2)); only the open-file limit so far.
///
/// Threading: the limits belong to the process; calls are safe from any thread.
public enum ResourceLimit {
    /// The value that means "no limit" (`RLIM_INFINITY`, all bits set).
    public static var unlimited: UInt64 { UInt64(rlim_t.max) }

    /// The limit on open descriptors, `RLIMIT_NOFILE` (getrlimit(2)). Past the soft limit, calls
    /// that make a descriptor throw ``Errno/tooManyOpenFiles``.
    /// - Returns: the soft limit, which applies, and the hard limit, its ceiling; either may be
    ///   ``unlimited``.
    /// - Throws: ``Errno``.
    public static func openFiles() throws(Errno) -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        // getrlimit writes one rlimit into the local.
        try nothingOrErrno { system_getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }.get()
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Sets the limit on open descriptors, `RLIMIT_NOFILE` (setrlimit(2)).
    ///
    /// Any process may lower either limit and raise the soft limit up to the hard one; raising the
    /// hard limit needs privilege (`CAP_SYS_RESOURCE`).
    /// - Parameters:
    ///   - soft: the limit that applies; at most `hard`.
    ///   - hard: the ceiling for `soft`.
    /// - Throws: ``Errno``: ``Errno/invalidArgument`` when `soft` exceeds `hard`,
    ///   ``Errno/notPermitted`` when raising `hard` without privilege.
    public static func setOpenFiles(soft: UInt64, hard: UInt64) throws(Errno) {
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        // setrlimit reads one rlimit from the local.
        try nothingOrErrno { system_setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }.get()
    }
}

import Glibc

/// What the process has used (getrusage(2)); only its processor time so far.
///
/// Threading: the usage belongs to the process; calls are safe from any thread.
public enum ResourceUsage {
    /// The processor time used by every thread of the process, in user and system mode together
    /// (getrusage(2) `RUSAGE_SELF`, `ru_utime` plus `ru_stime`), to microseconds.
    /// - Throws: ``Errno``.
    public static func processorTime() throws(Errno) -> Duration {
        var usage = rusage()
        // getrusage writes one rusage into the local.
        try nothingOrErrno { system_getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) }.get()
        let microseconds = Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000
            + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return .microseconds(microseconds)
    }
}

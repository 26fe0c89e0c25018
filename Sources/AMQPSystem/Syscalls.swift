import Glibc

// The one place that turns a C return value into a Swift result. Everything here reads errno
// straight after the call, before any other code (allocation, ARC, a retain of a closure context)
// can run and overwrite it.

/// Runs `call` until it succeeds or fails with something other than `EINTR`.
/// - Returns: the call's result, or the errno of the failure.
@inline(__always)
func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> I) -> Result<I, Errno> {
    while true {
        let result = call()
        if result != -1 { return .success(result) }
        let error = Errno(rawValue: errno)
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

/// As ``valueOrErrno(retryOnInterrupt:_:)`` for calls whose only result is success.
@inline(__always)
func nothingOrErrno(retryOnInterrupt: Bool = true, _ call: () -> CInt) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, call).map { _ in () }
}

import AMQPURing
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whether io_uring works on this machine. Without it (a container's seccomp profile, the
/// `io_uring_disabled` sysctl) the io_uring tests are left out with the reason, unless
/// `AMQP_REQUIRE_URING=1` (as `.ci/run` sets), when they run and fail.
enum URingSupport {
    static let unusable: URingUnavailable? = {
        // The environment's AMQP_URING_SIMULATE counts, so that leaving out can be tried too.
        do throws(URingUnavailable) {
            _ = try URingProactor()
            return nil
        } catch {
            return error
        }
    }()

    static let required = getenv("AMQP_REQUIRE_URING").map { String(cString: $0) } == "1"

    /// Run the io_uring tests: io_uring works, or it is required.
    static var runs: Bool { unusable == nil || required }

    static var reason: Comment { "io_uring is unusable here: \(unusable.map { "\($0)" } ?? "")" }
}

#if canImport(Glibc)
import Glibc
#endif

/// The process environment (getenv(3)), for the few switches the library reads from it.
public enum Environment {
    /// The value of `name`, or nil when it is unset.
    public static func value(of name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

import AMQPEpoll
import AMQPProactor
import AMQPSystem

/// A proactor chosen at run time: io_uring when it works here, epoll otherwise.
///
/// Threading: `Sendable`.
public struct AutomaticProactor: Sendable {
    /// The proactor.
    public let proactor: any Proactor
    /// "io_uring" or "epoll".
    public let backend: String
    /// Why io_uring was not taken; nil when it was.
    public let fallbackReason: URingUnavailable?

    /// Tries io_uring with `configuration`, then epoll.
    /// - Throws: ``Errno`` when epoll cannot be set up either.
    public static func make(configuration: URingConfiguration = URingConfiguration()) throws(Errno) -> AutomaticProactor {
        do {
            return AutomaticProactor(proactor: try URingProactor(configuration: configuration), backend: "io_uring", fallbackReason: nil)
        } catch {
            return AutomaticProactor(proactor: try EpollProactor.epoll(), backend: "epoll", fallbackReason: error)
        }
    }

    /// One line for a log: which backend, and why not io_uring.
    public var summary: String {
        fallbackReason.map { "proactor backend: epoll (io_uring unusable: \($0))" } ?? "proactor backend: io_uring"
    }
}

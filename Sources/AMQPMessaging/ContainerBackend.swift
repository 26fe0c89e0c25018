import AMQPEpoll
import AMQPProactor
import AMQPURing

/// Which proactor backend a container runs on.
public enum ContainerBackend: String, Sendable, CaseIterable {
    case epoll
    case ioURing = "io_uring"
    /// io_uring when it works here, epoll otherwise.
    case automatic = "auto"

    /// The proactor, and one line saying which backend it is.
    func make() throws(MessagingError) -> (any Proactor, String) {
        switch self {
        case .epoll:
            do { return (try EpollProactor.epoll(), "proactor backend: epoll") }
            catch { throw .backendUnavailable("epoll: \(error)") }
        case .ioURing:
            do { return (try URingProactor(), "proactor backend: io_uring") }
            catch { throw .backendUnavailable("io_uring: \(error)") }
        case .automatic:
            do {
                let chosen = try AutomaticProactor.make()
                return (chosen.proactor, chosen.summary)
            } catch { throw .backendUnavailable("epoll: \(error)") }
        }
    }
}

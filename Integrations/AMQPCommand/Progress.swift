import AMQPSystem
#if canImport(Glibc)
import Glibc
#endif

/// Progress of a long run on a terminal: messages per second and, for a known count, a bar. Piped
/// output gets none of it, only results.
final class Progress: Sendable {
    private let done = LockedValue(0)
    private let finished = LockedValue(false)
    private let total: Int?
    private let verb: String
    private let thread: LockedValue<SystemThread?> = LockedValue(nil)

    init(total: Int?, verb: String) {
        self.total = total
        self.verb = verb
        guard isatty(1) == 1 else { return }
        let t = try? SystemThread.spawn(name: "progress") { [self] in
            let start = ContinuousClock.now
            while !finished.withLock({ $0 }) {
                usleep(250_000)
                draw(elapsed: ContinuousClock.now - start)
            }
        }
        thread.withLock { $0 = t }
    }

    func add(_ n: Int = 1) { done.withLock { $0 += n } }
    var count: Int { done.withLock { $0 } }

    /// Stops drawing and clears the line.
    func finish() {
        finished.withLock { $0 = true }
        if let t = thread.withLock({ $0 }) {
            t.join()
            print("\r\u{1B}[2K", terminator: "")
        }
    }

    private func draw(elapsed: Duration) {
        let n = count
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(n) / seconds) : 0
        var line = "\r\(verb) \(n)"
        if let total, total > 0 {
            let width = 30, filled = min(width, n * width / total)
            line += "/\(total) [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "]"
        }
        line += " \(rate) msg/s"
        print(line, terminator: "")
        fflush(nil)
    }
}

import AMQPSystem
import Synchronization

/// Runs threads on a proactor, each taking batches and handing them to one handler, until the
/// proactor is inactive or ``stop()`` is called (Proton's `pn_proactor_run` in N threads).
///
/// The handler runs on the pool's threads, one batch at a time per thread; the proactor sees to
/// it that one connection's batches never run on two threads at once. The pool gives each batch
/// back itself (``Proactor/done(_:)``) after the handler returns. It stops its threads with
/// interrupts: a handler sees those ``ProactorEvent/interrupt``s too, and its own.
///
/// Threading: `Sendable`; ``stop()`` may be called from any thread, including a handler.
public final class ProactorThreadPool: Sendable {
    private let proactor: any Proactor
    private let stopping = Atomic<Bool>(false)
    private let threads = LockedValue<[SystemThread]>([])

    /// A pool for `proactor`; nothing runs until ``start(threads:handler:)``.
    public init(_ proactor: any Proactor) { self.proactor = proactor }

    /// Starts `count` threads running `handler` on every batch.
    public func start(threads count: Int, handler: @escaping @Sendable (ProactorBatch) -> Void) throws(Errno) {
        let proactor = self.proactor
        for i in 0..<max(1, count) {
            // Spawned and counted under one lock, so stop() interrupts every thread that may be
            // waiting; a thread started after stop() sees `stopping` before it waits.
            try threads.withLock { (threads: inout [SystemThread]) throws(Errno) in
                let thread = try SystemThread.spawn(name: "proactor-\(i)") { [self] in
                    while !stopping.load(ordering: .acquiring) {
                        let batch = proactor.wait()
                        // The interrupts stop() sent are the pool's own, not the handler's.
                        if stopping.load(ordering: .acquiring) && batch.isInterruptOnly {
                            proactor.done(batch)
                            break
                        }
                        handler(batch)
                        let inactive = batch.containsInactive
                        proactor.done(batch)
                        if inactive { stop() }
                    }
                }
                threads.append(thread)
            }
        }
    }

    /// Makes every thread return after its current batch.
    public func stop() {
        let n = threads.withLock { threads in
            stopping.exchange(true, ordering: .acquiringAndReleasing) ? 0 : threads.count
        }
        for _ in 0..<n { proactor.interrupt() }
    }

    /// Waits for every thread to return. Call it once, from a thread outside the pool.
    public func join() {
        // Copied, not taken: stop() counts the threads to interrupt, also while this waits.
        let all = threads.withLock { $0 }
        for t in all { t.join() }
    }

    /// Runs `count` threads until the proactor is inactive (or the handler stops the pool).
    public static func run(_ proactor: any Proactor, threads count: Int,
                           handler: @escaping @Sendable (ProactorBatch) -> Void) throws(Errno) {
        let pool = ProactorThreadPool(proactor)
        try pool.start(threads: count, handler: handler)
        pool.join()
    }
}

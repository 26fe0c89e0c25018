/// Counts of the rarer paths the ring took, for tests and for tuning.
package struct URingStatistics: Sendable, Equatable {
    /// Multishot receives that ended for want of buffers (`ENOBUFS`).
    package var starvedReceives = 0
    /// Multishot receives that ended for another reason than end of input, an error or a close
    /// (a cancel, a completion queue overflow) and were re-armed.
    package var receivesRearmed = 0
    /// Cancels that found nothing left to cancel: the operations had completed already.
    package var cancelsFindingNothing = 0
    /// Completions for a slot that was freed or reused since: dropped.
    package var staleCompletions = 0
    /// Waits after which the kernel had completions kept aside, the completion queue being full.
    package var completionOverflows = 0
}

extension URingProactor {
    /// The counts so far.
    package var statistics: URingStatistics {
        lock.withLock { counters }
    }

    /// Cancels every connection's multishot receive without closing anything, as the kernel may
    /// end one on its own; the connections must re-arm and lose no byte. For tests.
    package func forceEndOfReceives() {
        lock.withLock {
            for case let c as ConnectionOperations in slots.all where c.receiving && c.ending == nil {
                prepare(.cancelReceive(c))
            }
            _ = try? ring.submit()
        }
    }
}

import AMQPMessaging

/// A link attached to a queue, waiting on it or not: reached through its connection's work queue,
/// and known by an id the broker gives each link once and never reuses (an `ObjectIdentifier`
/// could come back for a later link at the same address).
struct QueueWaiter: Sendable {
    let workQueue: WorkQueue
    let id: UInt64
}

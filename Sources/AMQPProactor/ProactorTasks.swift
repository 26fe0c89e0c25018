import AMQPCodec
import AMQPEngine
import AMQPSystem

// The units a proactor schedules: a connection, a listener, and the proactor itself. Each is a
// Proton-style task: it is on the ready queue at most once (`queued`) and held by at most one
// thread at a time (`working`); what happened to it while it was queued or held is recorded in
// flags that the thread picking it up takes all at once.
//
// @unchecked Sendable, and what makes it safe: every `var` marked "lock" is read and written only
// with the proactor's lock held; every `var` marked "worker" only by the thread that holds the
// task (`working == true`, set and cleared under the lock, which orders those accesses between
// threads). `let`s never change.
package class ProactorTask: @unchecked Sendable {
    package let id: UInt64
    package var queued = false                       // lock
    package var working = false                      // lock
    package var ready: ReadinessInterest = []        // lock: what the poller reported since last taken
    package var deadline: ContinuousClock.Instant?   // lock: its entry in the timer heap
    package var timerDue = false                     // lock
    package var registered = false                   // lock: known to the poller
    package var io: AnyObject?                       // worker: a completion backend's state for the task's socket

    package init(id: UInt64) { self.id = id }

    /// Anything to do, besides what the subclass adds.
    package var hasWork: Bool { !ready.isEmpty || timerDue }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
package final class ConnectionTask: ProactorTask, @unchecked Sendable {
    package enum Phase {
        /// Waiting for the first address to be tried (resolution done in connect()).
        case starting([SocketAddress], error: AMQPError?)
        /// A non-blocking connect to one address is under way; the rest come after.
        case connecting(remaining: [SocketAddress], last: Errno?)
        /// Bytes flow.
        case connected
        /// The socket is closed; the driver is finishing its events.
        case closed
    }

    package let driver: ConnectionDriver             // worker
    package var socket: Socket?                      // worker
    package var phase: Phase                         // worker
    package let target: String                       // for error texts
    package var wakePending = false                  // lock
    package var disconnect: AMQPError?               // lock
    package var released = false                     // worker
    package var freed = false                        // lock: out of the proactor's table

    package init(id: UInt64, driver: ConnectionDriver, socket: Socket?, phase: Phase, target: String) {
        self.driver = driver
        self.socket = socket
        self.phase = phase
        self.target = target
        super.init(id: id)
    }

    package override var hasWork: Bool { super.hasWork || wakePending || disconnect != nil }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
package final class ListenerTask: ProactorTask, @unchecked Sendable {
    package let socket: Socket?                      // nil when listening failed
    package let backlog: Int
    package var failure: AMQPError?                  // worker (set before the first schedule)
    package var openReported = false                 // worker
    package var closeRequested: AMQPError??          // lock: .some(error) once close() or disconnect asked
    package var closed = false                       // worker
    package var pending: [Socket] = []               // lock: accepted, waiting for the application's answer
    package var backingOff = false                   // lock: out of descriptors; retried by timer or a close
    package var handle: ProactorListener?            // lock: kept while the listener lives, so the application need not hold it

    package init(id: UInt64, socket: Socket?, backlog: Int) {
        self.socket = socket
        self.backlog = backlog
        super.init(id: id)
    }

    package override var hasWork: Bool { super.hasWork || closeRequested != nil }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
package final class ProactorSelfTask: ProactorTask, @unchecked Sendable {
    package var interrupts = 0                       // lock
    package var timeoutFired = false                 // lock
    package var inactivePending = false              // lock

    package override var hasWork: Bool { interrupts > 0 || timeoutFired || inactivePending }
}

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
class ProactorTask: @unchecked Sendable {
    let id: UInt64
    var queued = false                       // lock
    var working = false                      // lock
    var ready: ReadinessInterest = []        // lock: what the poller reported since last taken
    var deadline: ContinuousClock.Instant?   // lock: its entry in the timer heap
    var timerDue = false                     // lock
    var registered = false                   // lock: known to the poller

    init(id: UInt64) { self.id = id }

    /// Anything to do, besides what the subclass adds.
    var hasWork: Bool { !ready.isEmpty || timerDue }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
final class ConnectionTask: ProactorTask, @unchecked Sendable {
    enum Phase {
        /// Waiting for the first address to be tried (resolution done in connect()).
        case starting([SocketAddress], error: AMQPError?)
        /// A non-blocking connect to one address is under way; the rest come after.
        case connecting(remaining: [SocketAddress], last: Errno?)
        /// Bytes flow.
        case connected
        /// The socket is closed; the driver is finishing its events.
        case closed
    }

    let driver: ConnectionDriver             // worker
    var socket: Socket?                      // worker
    var phase: Phase                         // worker
    let target: String                       // for error texts
    var wakePending = false                  // lock
    var disconnect: AMQPError?               // lock
    var released = false                     // worker
    var freed = false                        // lock: out of the proactor's table

    init(id: UInt64, driver: ConnectionDriver, socket: Socket?, phase: Phase, target: String) {
        self.driver = driver
        self.socket = socket
        self.phase = phase
        self.target = target
        super.init(id: id)
    }

    override var hasWork: Bool { super.hasWork || wakePending || disconnect != nil }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
final class ListenerTask: ProactorTask, @unchecked Sendable {
    let socket: Socket?                      // nil when listening failed
    let backlog: Int
    var failure: AMQPError?                  // worker (set before the first schedule)
    var openReported = false                 // worker
    var closeRequested: AMQPError??          // lock: .some(error) once close() or disconnect asked
    var closed = false                       // worker
    var pending: [Socket] = []               // lock: accepted, waiting for the application's answer
    var backingOff = false                   // lock: out of descriptors; retried by timer or a close
    var handle: ProactorListener?            // lock: kept while the listener lives, so the application need not hold it

    init(id: UInt64, socket: Socket?, backlog: Int) {
        self.socket = socket
        self.backlog = backlog
        super.init(id: id)
    }

    override var hasWork: Bool { super.hasWork || closeRequested != nil }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change.
final class ProactorSelfTask: ProactorTask, @unchecked Sendable {
    var interrupts = 0                       // lock
    var timeoutFired = false                 // lock
    var inactivePending = false              // lock

    override var hasWork: Bool { interrupts > 0 || timeoutFired || inactivePending }
}

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
//
// Those same rules are why the stored properties opt out of run-time exclusivity checks
// (`@exclusivity(unchecked)`): two accesses never overlap. The ones backends in other modules use
// are reached through computed properties, because a read from another module is checked
// whatever the attribute says (`swift_beginAccess`, about 70 instructions a time; the io_uring
// backend made about 15 per message in request/response).
package class ProactorTask: @unchecked Sendable {
    package let id: UInt64
    @exclusivity(unchecked) package var queued = false                       // lock
    @exclusivity(unchecked) private var _working = false                     // lock
    @exclusivity(unchecked) package var ready: ReadinessInterest = []        // lock: what the poller reported since last taken
    @exclusivity(unchecked) package var deadline: ContinuousClock.Instant?   // lock: its entry in the timer heap
    @exclusivity(unchecked) package var timerDue = false                     // lock
    @exclusivity(unchecked) package var registered = false                   // lock: known to the poller
    @exclusivity(unchecked) private var _io: AnyObject?                      // worker: a completion backend's state for the task's socket

    /// Held by a thread (lock).
    package var working: Bool { get { _working } set { _working = newValue } }
    /// A completion backend's state for the task's socket (worker).
    package var io: AnyObject? { get { _io } set { _io = newValue } }

    package init(id: UInt64) { self.id = id }

    /// Anything to do, besides what the subclass adds.
    package var hasWork: Bool { !ready.isEmpty || timerDue }
}

// @unchecked Sendable as ProactorTask above: its "lock" fields only under the proactor lock, its
// "worker" fields only by the thread holding the task; `let`s never change. The driver and the
// layer are not Sendable: they are "worker" objects too, touched only by the thread holding the task.
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
    /// What sits between the socket and the driver (TLS), if anything (worker; set once).
    package let layer: (any TransportLayer)?
    @exclusivity(unchecked) private var _socket: Socket?              // worker
    @exclusivity(unchecked) private var _phase: Phase                 // worker
    package let target: String                       // for error texts
    @exclusivity(unchecked) package var wakePending = false           // lock
    @exclusivity(unchecked) package var disconnect: AMQPError?        // lock
    @exclusivity(unchecked) private var _released = false             // worker
    @exclusivity(unchecked) private var _freed = false                // lock: out of the proactor's table
    @exclusivity(unchecked) private var _lingerUntil: ContinuousClock.Instant?  // worker: finished, the layer still writing

    package var socket: Socket? { get { _socket } set { _socket = newValue } }
    package var phase: Phase { get { _phase } set { _phase = newValue } }
    package var released: Bool { get { _released } set { _released = newValue } }
    package var freed: Bool { get { _freed } set { _freed = newValue } }
    /// When a finished connection whose layer still has output is closed anyway (worker).
    package var lingerUntil: ContinuousClock.Instant? { get { _lingerUntil } set { _lingerUntil = newValue } }
    /// Whether bytes flow: `phase` is `.connected`, asked without copying the phase out.
    package var isConnected: Bool {
        if case .connected = _phase { return true }
        return false
    }

    package init(id: UInt64, driver: ConnectionDriver, layer: (any TransportLayer)?, socket: Socket?, phase: Phase, target: String) {
        self.driver = driver
        self.layer = layer
        _socket = socket
        _phase = phase
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

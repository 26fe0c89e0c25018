import AMQPCodec
import AMQPEngine
import AMQPProactor
import AMQPSystem
import Synchronization

/// A backend under test: a name and how to make a fresh proactor.
public struct ProactorBackend: Sendable, CustomStringConvertible {
    /// Shown in test names and failures.
    public let name: String
    /// Makes a new proactor for one scenario.
    public let make: @Sendable () throws -> any Proactor

    /// A backend called `name`, made by `make`.
    public init(name: String, make: @escaping @Sendable () throws -> any Proactor) {
        self.name = name
        self.make = make
    }

    /// The name.
    public var description: String { name }
}

/// Runs one scenario on one proactor: a pool of threads, a watchdog, the event grammar check on
/// every event, and a list of failures. Scenarios use it through ``run(threads:timeout:_:)``.
///
/// Threading: `Sendable`; its state is behind mutexes and atomics.
public final class ConformanceHarness: Sendable {
    /// The proactor under test.
    public let proactor: any Proactor
    private let failureList = LockedValue<[String]>([])
    let grammar = EventGrammar()

    init(proactor: any Proactor) { self.proactor = proactor }

    /// Records a failure.
    public func fail(_ message: String) {
        failureList.withLock { $0.append(message) }
    }

    /// Records a failure unless `condition` holds.
    public func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    /// Tells the grammar check that the application took `driver` out with
    /// ``Proactor/release(_:)``: it will not reach transport-closed.
    public func noteReleased(_ driver: ConnectionDriver) { grammar.released(driver) }

    /// Every failure so far, the grammar's included.
    public var failures: [String] { failureList.withLock { $0 } + grammar.violations }

    /// Runs `threads` threads on the proactor until it is inactive, handing each event to
    /// `handle` after the grammar check. After `timeout` the watchdog records a failure and
    /// disconnects everything, so a stuck scenario ends.
    public func run(threads: Int = 2, timeout: Duration = .seconds(30),
                    _ handle: @escaping @Sendable (ProactorBatchEvent, ProactorBatch) -> Void) {
        let finished = Atomic<Bool>(false)
        let watchdogDone = ConditionLock()
        let proactor = self.proactor
        let watchdog = try? SystemThread.spawn(name: "watchdog") { [self] in
            let deadline = ContinuousClock.now.advanced(by: timeout)
            let expired = watchdogDone.withLock { () -> Bool in
                while !finished.load(ordering: .acquiring) {
                    if !watchdogDone.wait(until: deadline) { return !finished.load(ordering: .acquiring) }
                }
                return false
            }
            if expired {
                fail("the scenario did not end within \(timeout): disconnecting")
                proactor.disconnect(AMQPError(condition: ErrorCondition.connectionForced, description: "watchdog"))
            }
        }
        let grammar = self.grammar
        do {
            try ProactorThreadPool.run(proactor, threads: threads) { batch in
                grammar.begin(batch)
                while let event = batch.next() {
                    grammar.record(event, batch)
                    handle(event, batch)
                }
                grammar.end(batch)
            }
        } catch {
            fail("could not start threads: \(error)")
        }
        finished.store(true, ordering: .releasing)
        watchdogDone.withLock { watchdogDone.broadcast() }
        watchdog?.join()
        grammar.finish()
    }
}

/// Checks the rules every backend's events follow, on every event of every scenario:
/// - one connection's batches never overlap (two threads never hold it at once);
/// - nothing follows a connection's transport-closed, which comes exactly once;
/// - inactive comes once the proactor runs out of work, and the scenario ends with it.
///
/// Threading: `Sendable`; its state is behind a mutex.
final class EventGrammar: Sendable {
    /// Keeps a driver alive, so that its identifier is never reused within a run. Only its
    /// identity is ever used, never the driver, so crossing threads inside it is safe.
    private final class Kept: @unchecked Sendable {
        let object: AnyObject
        init(_ object: AnyObject) { self.object = object }
    }

    private struct State {
        var drivers: [ObjectIdentifier: Kept] = [:]
        var closed: Set<ObjectIdentifier> = []
        var holding: Set<ObjectIdentifier> = []
        var inactive = 0
        var violations: [String] = []
    }

    private let state = LockedValue<State>(State())

    func begin(_ batch: ProactorBatch) {
        guard let driver = batch.driver else { return }
        let id = ObjectIdentifier(driver)
        let kept = Kept(driver)
        state.withLock { s in
            if s.holding.contains(id) { s.violations.append("a connection's batch was handed to two threads at once") }
            s.holding.insert(id)
            s.drivers[id] = kept
        }
    }

    func end(_ batch: ProactorBatch) {
        guard let driver = batch.driver else { return }
        _ = state.withLock { $0.holding.remove(ObjectIdentifier(driver)) }
    }

    func record(_ event: ProactorBatchEvent, _ batch: ProactorBatch) {
        switch event {
        case .amqp(let e):
            guard let driver = batch.driver else { return }
            let id = ObjectIdentifier(driver)
            let isClosed: Bool = { if case .transportClosed = e { return true } else { return false } }()
            let what = "\(e)"
            state.withLock { s in
                if s.closed.contains(id) { s.violations.append("an event after transport-closed: \(what)") }
                if isClosed { s.closed.insert(id) }
            }
        case .proactor(.inactive):
            state.withLock { $0.inactive += 1 }
        default:
            break
        }
    }

    func released(_ driver: ConnectionDriver) {
        _ = state.withLock { $0.closed.insert(ObjectIdentifier(driver)) }
    }

    /// After the run: every connection seen ended with transport-closed, and inactive came.
    func finish() {
        state.withLock { s in
            let open = s.drivers.keys.filter { !s.closed.contains($0) }.count
            if open > 0 { s.violations.append("\(open) connection(s) never reached transport-closed") }
            if s.inactive == 0 { s.violations.append("the run ended without inactive") }
        }
    }

    var violations: [String] { state.withLock { $0.violations } }
    var connections: Int { state.withLock { $0.drivers.count } }
    var inactiveCount: Int { state.withLock { $0.inactive } }
}

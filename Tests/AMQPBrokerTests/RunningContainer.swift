import AMQPBroker
import AMQPMessaging
import AMQPSystem
import Foundation
import XCTest

/// A container running on a thread of its own until ``stop()``: a test's broker, or its clients.
final class RunningContainer {
    let container: Container
    private let finished = ConditionLock()
    private let done = LockedValue(false)

    /// A container on `backend` ("epoll" or "io_uring", as ``TestBackends/names`` gives them).
    init(id: String, backend: String, threads: Int = 1, observability: ContainerObservability = ContainerObservability()) throws {
        let chosen = try XCTUnwrap(ContainerBackend(rawValue: backend), "unknown backend \(backend)")
        container = try Container(id: id, backend: chosen, observability: observability)
        // Scheduled work keeps run() going while no connection is open yet, or none is left;
        // stop() drops it.
        container.schedule(after: .seconds(86_400)) {}
        let (container, finished, done) = (container, finished, done)
        Thread {
            try? container.run(threads: threads)
            finished.lock()
            done.withLock { $0 = true }
            finished.broadcast()
            finished.unlock()
        }.start()
    }

    /// Stops the container and waits (at most 10 s) for its run to return.
    func stop() {
        container.stop()
        let deadline = ContinuousClock.now + .seconds(10)
        finished.lock()
        while !done.withLock({ $0 }) && ContinuousClock.now < deadline {
            _ = finished.wait(until: ContinuousClock.now + .milliseconds(100))
        }
        finished.unlock()
    }
}

/// A ``Broker`` listening on a free port of 127.0.0.1, on a 2-thread container.
final class RunningBroker {
    let broker: Broker
    let port: UInt16
    private let running: RunningContainer

    /// - Parameters:
    ///   - options: the listener's options (its SASL, say).
    ///   - observability: the broker container's logger and metrics.
    init(backend: String = "epoll", queueLimit: Int = 10_000, queueByteLimit: Int = 64 << 20, creditWindow: UInt32 = 100,
         maxMessageSize: UInt64? = nil, options: ConnectionOptions = ConnectionOptions(),
         observability: ContainerObservability = ContainerObservability()) throws {
        broker = Broker(queueLimit: queueLimit, queueByteLimit: queueByteLimit, creditWindow: creditWindow, maxMessageSize: maxMessageSize)
        running = try RunningContainer(id: "broker", backend: backend, threads: 2, observability: observability)
        let broker = broker
        let listener = try running.container.listen("amqp://127.0.0.1:0", options: options) { broker.handler() }
        port = try XCTUnwrap(listener.port)
    }

    var url: String { "amqp://127.0.0.1:\(port)" }

    func stop() { running.stop() }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
@discardableResult
func eventually(within timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        usleep(10_000)
    }
    return true
}

/// A broker on `backend` with `count` messages (ids m-0, m-1, …) in queue "q", sent by our
/// container, and a client container on the same backend.
func withFilledQueue(_ backend: String, count: Int = 20, _ body: (RunningBroker, RunningContainer) throws -> Void) throws {
    let broker = try RunningBroker(backend: backend)
    defer { broker.stop() }
    let clients = try RunningContainer(id: "clients", backend: backend)
    defer { clients.stop() }
    let accepted = LockedValue<[String]>([])
    try clients.container.connect(broker.url, handler: TestProducer(address: "q", prefix: "m", count: count, accepted: accepted))
    XCTAssertTrue(eventually { accepted.withLock { $0.count } == count }, "\(backend): the producer's \(count) messages were accepted")
    try body(broker, clients)
}

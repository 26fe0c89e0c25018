import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPProactor
import AMQPSystem
import Foundation
import InMemoryLogging
import Logging
import XCTest

/// Refusals: what retrying cannot fix stops reconnect at once and says why; what it can is retried.
extension ReconnectTests {
    /// Writes down, in order, what a client connection's handler is told.
    final class Recorder: MessagingHandler {
        let events: LockedValue<[String]>
        init(_ events: LockedValue<[String]>) { self.events = events }
        private func note(_ s: String) { events.withLock { $0.append(s) } }
        func onConnectionOpen(_ c: MessagingConnection) { note(c.isReconnect ? "reopen" : "open") }
        func onConnectionError(_ c: MessagingConnection, _ e: AMQPError) { note("connection error \(e.condition.rawValue)") }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) { note("transport error \(e.condition.rawValue)") }
        func onReconnectStopped(_ c: MessagingConnection, _ e: AMQPError) { note("stopped \(e.condition.rawValue): \(e.description ?? "")") }
        func onTransportClose(_ c: MessagingConnection) {
            note("close")
            c.container.stop()
        }
    }

    /// Answers each open with an open and a close carrying `error` (how brokers refuse a connection).
    final class Refuser: MessagingHandler {
        let error: AMQPError
        init(_ error: AMQPError) { self.error = error }
        func onConnectionOpen(_ c: MessagingConnection) { c.close(error) }
    }

    private func reconnecting(maxAttempts: Int) -> ConnectionOptions {
        var options = ConnectionOptions()
        var reconnect = ReconnectOptions()
        reconnect.delay = .milliseconds(10)
        reconnect.maxAttempts = maxAttempts
        options.reconnect = reconnect
        return options
    }

    /// Runs a client with reconnect against a server that refuses every connection with `error`;
    /// returns what the client's handler was told, how many connections the server saw, and the
    /// client's warnings (message, condition).
    private func refusedAtOpen(with error: AMQPError, maxAttempts: Int = 5) throws -> (events: [String], connections: Int, warnings: [String]) {
        let logs = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in logs })
        let container = try Container(id: "refused", observability: ContainerObservability(logger: logger))
        let connections = LockedValue(0)
        let listener = try container.listen("amqp://127.0.0.1:0") {
            connections.withLock { $0 += 1 }
            return Refuser(error)
        }
        let events = LockedValue<[String]>([])
        try container.connect("amqp://127.0.0.1:\(try XCTUnwrap(listener.port))", options: reconnecting(maxAttempts: maxAttempts),
                              handler: Recorder(events))
        container.schedule(after: .seconds(30)) { container.stop() }   // watchdog
        try container.run(threads: 2)
        let warnings = logs.entries.filter { $0.level == .warning && $0.metadata["amqp.peer"]?.description.hasPrefix("amqp://") == true }
            .map { "\($0.message) \($0.metadata["amqp.condition"]?.description ?? "")" }
        return (events.withLock { $0 }, connections.withLock { $0 }, warnings)
    }

    func testUnauthorizedAccessOnOpenStopsReconnectAtOnce() throws {
        let r = try refusedAtOpen(with: AMQPError(condition: ErrorCondition.unauthorizedAccess, description: "not you"))
        XCTAssertEqual(r.events, ["open", "connection error amqp:unauthorized-access", "stopped amqp:unauthorized-access: not you", "close"])
        XCTAssertEqual(r.connections, 1, "no retry")
        XCTAssertEqual(r.warnings, ["the peer closed the connection with an error amqp:unauthorized-access",
                                    "not reconnecting amqp:unauthorized-access"])
    }

    func testNotFoundOnOpenStopsReconnectAtOnce() throws {
        let r = try refusedAtOpen(with: AMQPError(condition: ErrorCondition.notFound, description: "no such virtual host"))
        XCTAssertEqual(r.events, ["open", "connection error amqp:not-found", "stopped amqp:not-found: no such virtual host", "close"])
        XCTAssertEqual(r.connections, 1, "no retry")
        XCTAssertEqual(r.warnings.last, "not reconnecting amqp:not-found")
    }

    /// A refusal that may pass (too many connections) is retried, with back-off: an open refused
    /// at once is not a connection made, so the attempts add up to maxAttempts.
    func testARefusalRetryingMayFixIsRetriedUntilMaxAttempts() throws {
        let r = try refusedAtOpen(with: AMQPError(condition: ErrorCondition.resourceLimitExceeded, description: "too many connections"), maxAttempts: 2)
        XCTAssertEqual(r.events, ["open", "connection error amqp:resource-limit-exceeded",
                                  "reopen", "connection error amqp:resource-limit-exceeded",
                                  "reopen", "connection error amqp:resource-limit-exceeded",
                                  "stopped amqp:resource-limit-exceeded: gave up after 2 reconnect attempts (maxAttempts); the last: too many connections",
                                  "close"])
        XCTAssertEqual(r.connections, 3, "the first try and 2 more")
    }

    /// Fails every SASL exchange with `code`, on a proactor of its own; counts its connections.
    final class SASLRefusingServer: Sendable {
        struct Refuse: SASLAuthenticator {
            let code: SASLCode
            func start(mechanism: Symbol, initialResponse: [UInt8]?, hostname: String?) -> SASLStep { .failure(code) }
        }
        let port: UInt16
        let connections = LockedValue(0)
        private let proactor: any Proactor
        private let pool: ProactorThreadPool
        private let listener: ProactorListener

        init(refusingWith code: SASLCode) throws {
            // The proactor API alone, so the server can require SASL (the container's listeners do not).
            proactor = try Container(id: "unused").proactor
            listener = proactor.listen(on: "127.0.0.1:0", backlog: 16)
            port = try XCTUnwrap(listener.port)
            var configuration = DriverConfiguration(containerID: "sasl-refusing")
            configuration.saslServer = SASLServerConfiguration(mechanisms: ["PLAIN", "ANONYMOUS"]) { Refuse(code: code) }
            pool = ProactorThreadPool(proactor)
            let connections = self.connections, accepting = configuration
            try pool.start(threads: 1) { batch in
                while let e = batch.next() {
                    if case .proactor(.listenerAccept(let l)) = e {
                        connections.withLock { $0 += 1 }
                        l.accept(configuration: accepting)
                    }
                }
            }
        }

        func stop() {
            listener.close()
            proactor.disconnect(nil)
            pool.stop()
            pool.join()
        }
    }

    private func saslRefused(with code: SASLCode, maxAttempts: Int) throws -> (events: [String], connections: Int) {
        let server = try SASLRefusingServer(refusingWith: code)
        defer { server.stop() }
        let container = try Container(id: "sasl-client")
        let events = LockedValue<[String]>([])
        try container.connect("amqp://user:wrong@127.0.0.1:\(server.port)", options: reconnecting(maxAttempts: maxAttempts),
                              handler: Recorder(events))
        container.schedule(after: .seconds(30)) { container.stop() }   // watchdog
        try container.run(threads: 2)
        return (events.withLock { $0 }, server.connections.withLock { $0 })
    }

    func testSASLAuthenticationFailureStopsReconnectAtOnce() throws {
        let r = try saslRefused(with: .auth, maxAttempts: 5)
        XCTAssertEqual(r.events, ["transport error amqp:unauthorized-access",
                                  "stopped amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism PLAIN)",
                                  "close"])
        XCTAssertEqual(r.connections, 1, "no retry")
    }

    /// sys-temp is the server saying "not now": retried.
    func testSASLTemporaryFailureIsRetried() throws {
        let r = try saslRefused(with: .sysTemp, maxAttempts: 2)
        XCTAssertEqual(r.events, ["transport error amqp:unauthorized-access", "transport error amqp:unauthorized-access",
                                  "transport error amqp:unauthorized-access",
                                  "stopped amqp:unauthorized-access: gave up after 2 reconnect attempts (maxAttempts); the last: SASL authentication failed: outcome sys-temp (mechanism PLAIN)",
                                  "close"])
        XCTAssertEqual(r.connections, 3)
    }
}

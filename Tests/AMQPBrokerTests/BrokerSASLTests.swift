import AMQPBroker
import AMQPCodec
import AMQPEngine
import AMQPMessaging
import AMQPSASL
import AMQPSystem
import InMemoryLogging
import Logging
import SharedFixtures
import XCTest

/// The broker behind a listener with users: SCRAM clients produce and consume, the broker's
/// handler logs who each connection is, and refused clients leave the others alone.
final class BrokerSASLTests: XCTestCase {
    func testSCRAMClientsAndTheIdentityTheBrokerSees() throws {
        let users = try SASLUsersFile(parsing: (try SASLUsersFile.entries(username: "alice", password: "wonderland")
            + SASLUsersFile.entries(username: "bob", password: "builder", hashes: [.sha256])).joined(separator: "\n"))
        for backend in TestBackends.names {
            let logs = InMemoryLogHandler()
            var logger = Logger(label: "broker", factory: { _ in logs })
            logger.logLevel = .info
            var options = ConnectionOptions()
            options.saslServer = SASLServerOptions(credentials: users)
            let broker = try RunningBroker(backend: backend, options: options, observability: ContainerObservability(logger: logger))
            defer { broker.stop() }
            let clients = try RunningContainer(id: "clients", backend: backend)
            defer { clients.stop() }

            let accepted = LockedValue<[String]>([])
            let producer = TestProducer(address: "q", prefix: "m", count: 5, accepted: accepted)
            try clients.container.connect("amqp://alice:wonderland@127.0.0.1:\(broker.port)", handler: producer)
            XCTAssertTrue(eventually { accepted.withLock { $0.count } == 5 }, backend)

            // Refused: a wrong password, and bob with SCRAM-SHA-512, for which he has no credential.
            let refused = LockedValue<[String]>([])
            for (url, mechanisms) in [("amqp://alice:nope@127.0.0.1:\(broker.port)", nil), ("amqp://bob:builder@127.0.0.1:\(broker.port)", ["SCRAM-SHA-512"])] {
                var o = ConnectionOptions()
                o.saslMechanisms = mechanisms
                try clients.container.connect(url, options: o, handler: ErrorRecorder(refused))
            }
            XCTAssertTrue(eventually { refused.withLock { $0.count } == 2 }, backend)
            XCTAssertEqual(refused.withLock { $0 }.sorted(), [
                "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512)",
                "amqp:unauthorized-access: SASL authentication failed: outcome auth (mechanism SCRAM-SHA-512)",
            ], backend)

            let seen = LockedValue<[Received]>([])
            var bob = ConnectionOptions()
            bob.saslMechanisms = ["SCRAM-SHA-256"]
            try clients.container.connect("amqp://bob:builder@127.0.0.1:\(broker.port)", options: bob, handler: TestConsumer(address: "q", seen: seen))
            XCTAssertTrue(eventually { seen.withLock { $0.count } == 5 }, backend)
            XCTAssertEqual(seen.withLock { $0.map(\.id) }, ["m-0", "m-1", "m-2", "m-3", "m-4"], backend)

            let connected = logs.entries.filter { $0.message.description == "client connected" }
                .map { "\($0.metadata["amqp.identity"]?.description ?? "") \($0.metadata["amqp.sasl.mechanism"]?.description ?? "")" }
            XCTAssertEqual(connected, ["alice SCRAM-SHA-512", "bob SCRAM-SHA-256"], backend)
        }
    }

    /// Notes the transport error of a connection the broker refuses.
    final class ErrorRecorder: MessagingHandler {
        let errors: LockedValue<[String]>
        init(_ errors: LockedValue<[String]>) { self.errors = errors }
        func onTransportError(_ c: MessagingConnection, _ e: AMQPError) {
            errors.withLock { $0.append("\(e.condition.rawValue): \(e.description ?? "")") }
        }
    }
}

import AMQPCodec
import AMQPNIO
import Logging
import ServiceLifecycle
import Testing

@Suite("AMQPURL")
struct URLTests {
    @Test("every part parsed, defaults filled, user and password percent-decoded")
    func parts() throws {
        let url = try AMQPURL("amqps://us%40er:p%3Ass@broker.example:5700/queue/a")
        #expect(url.useTLS)
        #expect(url.user == "us@er")
        #expect(url.password == "p:ss")
        #expect(url.host == "broker.example")
        #expect(url.port == 5700)
        #expect(url.address == "queue/a")
        let plain = try AMQPURL("amqp://[::1]")
        #expect(plain.host == "::1")
        #expect(plain.port == 5672)
        #expect(plain.address == nil)
        #expect(try AMQPURL("amqps://h").port == 5671)
        #expect("\(try AMQPURL("amqp://u:secret@h/q"))" == "amqp://u:***@h:5672/q")
    }

    @Test("bad URLs say what is wrong", arguments: [
        ("http://h", "invalid AMQP URL 'http://h': the scheme must be amqp:// or amqps://"),
        ("amqp://h:99999", "invalid AMQP URL 'amqp://h:99999': bad port '99999'"),
        ("amqp://:5672", "invalid AMQP URL 'amqp://:5672': no host"),
        ("amqp://[::1", "invalid AMQP URL 'amqp://[::1': unclosed [ in the host"),
        ("amqp://u%zz@h", "invalid AMQP URL 'amqp://u%zz@h': bad percent-encoding in the user"),
    ])
    func invalid(text: String, message: String) {
        #expect { _ = try AMQPURL(text) } throws: { ($0 as? AMQPClientError)?.description == message && ($0 as? AMQPClientError)?.code == .invalidURL }
    }
}

@Suite("ServiceLifecycle")
struct ServiceTests {
    @Test("graceful shutdown of a ServiceGroup closes the connection cleanly")
    func gracefulShutdown() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let sender = try await connection.openSender(address: "service")
        #expect(try await sender.send(Message(value: .string("up"))) == .accepted)
        let group = ServiceGroup(services: [connection], logger: TestEnvironment.logger)
        async let running: Void = group.run()
        try await Task.sleep(for: .milliseconds(200))
        await group.triggerGracefulShutdown()
        try await running
        #expect(await connection.failure() == nil)
        let error = await #expect(throws: AMQPClientError.self) { _ = try await sender.send(Message(value: .string("down"))) }
        #expect(error?.code == .connectionClosed)
    }

    @Test("a connection the peer closes while the application runs ends the service with why")
    func peerCloses() async throws {
        let (arrow, port) = try await ArrowTests.startArrow(["operation=receive", "count=10"])
        defer { arrow.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let group = ServiceGroup(services: [connection], logger: TestEnvironment.logger)
        async let running: Void = group.run()
        let sender = try await connection.openSender()
        for i in 0..<10 { #expect(try await sender.send(Message(value: .int(Int32(i)))) == .accepted) }
        // The arrow closes the connection after its 10 messages: the service group fails with it.
        do {
            try await running
            Issue.record("the service group ended without an error")
        } catch let error as AMQPClientError {
            #expect(error.code == .connectionClosed)
            #expect(error.message == "connection closed by the peer")
        }
        #expect(try await arrow.waitForExit() == 0)
    }
}

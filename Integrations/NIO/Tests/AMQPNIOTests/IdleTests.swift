import AMQPCodec
import AMQPNIO
import NIOCore
import NIOPosix
import Testing

/// The driver's deadline as a task scheduled on the channel's loop: heartbeats and the idle timeout.
@Suite("Heartbeats and idle timeout")
struct IdleTests {
    @Test("a peer that closes silent connections after 1 s keeps us through 3 s of idleness")
    func heartbeatsKeepTheConnection() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer(["--idle-timeout", "1"])
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let sender = try await connection.openSender(address: "idle")
        try await Task.sleep(for: .seconds(3))
        #expect(try await sender.send(Message(value: .string("still here"))) == .accepted)
        try await connection.close()
        #expect(!peer.output.contains { $0.hasPrefix("error") }, "the peer said: \(peer.output)")
    }

    @Test("a silent peer is dropped after our idle timeout, with amqp:resource-limit-exceeded")
    func idleTimeoutFires() async throws {
        // Accepts connections and never writes a byte.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = silent.localAddress!.port!
        var configuration = TestEnvironment.configuration()
        configuration.engine.idleTimeout = 500
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPClientError.self) {
            _ = try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(port)", configuration: configuration,
                                                 logger: TestEnvironment.logger)
        }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .transportFailed)
        #expect(error?.condition == "amqp:resource-limit-exceeded")
        #expect(error?.remoteError?.description == "no frames from the peer for 500 ms")
        #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(5), "took \(elapsed)")
        try await silent.close()
    }
}

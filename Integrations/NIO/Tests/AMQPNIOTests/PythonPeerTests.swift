import AMQPCodec
import AMQPNIO
import Testing

/// Outcomes, refusals and the type zoo against the Proton Python broker over TCP.
@Suite("Proton Python over TCP")
struct PythonPeerTests {
    static func connect(_ port: Int) async throws -> AMQPConnection {
        try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(port)", configuration: TestEnvironment.configuration(),
                                         logger: TestEnvironment.logger)
    }

    @Test("the type zoo comes from Proton, decodes, and goes back unchanged")
    func typeZoo() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await Self.connect(port)
        let receiver = try await connection.openReceiver(address: "zoo", capacity: 1)
        let zoo = try #require(try await receiver.receive())
        try await receiver.accept(zoo)
        guard case .value(.map(let body)) = zoo.message.body else { Issue.record("body is not a map: \(String(describing: zoo.message.body))"); return }
        let values = Dictionary(uniqueKeysWithValues: body.map { ($0.key, $0.value) })
        #expect(values.count == 25)
        #expect(values[.string("uint")] == .uint(4_000_000_000))
        #expect(values[.string("ulong")] == .ulong(1 << 63 + 5))
        #expect(values[.string("short")] == .short(-30000))
        #expect(values[.string("float")] == .float(1.5))
        #expect(values[.string("string")] == .string("h\u{e9}llo \u{1F600}"))
        #expect(values[.string("symbol")] == .symbol("a-symbol"))
        #expect(values[.string("char")] == .char("\u{e9}"))
        #expect(values[.string("binary")] == .binary(Binary([0, 1, 255])))
        #expect(zoo.message.properties?.subject == "types")

        let sender = try await connection.openSender(address: "zoo-check")
        #expect(try await sender.send(zoo.message) == .accepted)
        // The check is real: a changed subject is rejected, and the peer says which field.
        var changed = zoo.message
        changed.properties?.subject = "changed"
        guard case .rejected(let error) = try await sender.send(changed) else { Issue.record("a changed zoo was not rejected"); return }
        #expect(error?.condition == "amqp:precondition-failed")
        #expect(error?.description?.hasPrefix("subject differs: got 'changed', want 'types'") == true)
        try await connection.close()
    }

    @Test("rejected and released outcomes carry what the peer said")
    func outcomes() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await Self.connect(port)
        let rejecting = try await connection.openSender(address: "reject")
        let rejected = try await rejecting.send(Message(value: .string("no")))
        #expect(rejected == .rejected(AMQPError(condition: "amqp:precondition-failed", description: "rejected by test peer")))
        let releasing = try await connection.openSender(address: "release")
        #expect(try await releasing.send(Message(value: .string("later"))) == .released)
        try await rejecting.close()
        try await releasing.close()
        try await connection.close()
    }

    @Test("a refused link fails with the peer's condition and description")
    func refusedLink() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await Self.connect(port)
        let error = await #expect(throws: AMQPClientError.self) { _ = try await connection.openSender(address: "missing") }
        #expect(error?.code == .linkDetached)
        #expect(error?.condition == "amqp:not-found")
        #expect(error?.remoteError?.description == "no node named missing")
        // The connection is still usable.
        let sender = try await connection.openSender(address: "after-refusal")
        #expect(try await sender.send(Message(value: .string("fine"))) == .accepted)
        try await connection.close()
    }

    @Test("nothing listening: connect fails with .connectFailed")
    func connectRefused() async throws {
        let port = try TestEnvironment.freePort()
        let error = await #expect(throws: AMQPClientError.self) { _ = try await Self.connect(port) }
        #expect(error?.code == .connectFailed)
        #expect(error?.message.hasPrefix("cannot connect to 127.0.0.1:\(port): ") == true)
    }
}

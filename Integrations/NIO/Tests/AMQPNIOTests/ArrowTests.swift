import AMQPCodec
import AMQPNIO
import NIOCore
import NIOPosix
import Testing

/// The async client against Qpid Proton C's arrow over TCP, 10,000 messages each way.
@Suite("Proton C arrow over TCP")
struct ArrowTests {
    static let count = 10_000

    /// Starts proton-c-arrow as a server and waits until it accepts connections (it counts a
    /// connection that leaves without opening as a probe, not a failure). A free port can be
    /// taken by someone else before the arrow binds it (it then exits): so up to 3 ports are tried.
    static func startArrow(_ arguments: [String]) async throws -> (Peer, Int) {
        var said: [String] = []
        for _ in 0..<3 {
            let port = try TestEnvironment.freePort()
            let arrow = try Peer(try TestEnvironment.arrow(),
                                 ["connection-mode=server", "host=127.0.0.1", "port=\(port)", "path=q", "quiet=1"] + arguments,
                                 name: "proton-c-arrow")
            for _ in 0..<200 where arrow.process.isRunning {
                if let probe = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get() {
                    try await probe.close()
                    return (arrow, port)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            arrow.stop()
            said = arrow.output
        }
        throw PeerError("proton-c-arrow did not listen on any of 3 ports; it said: \(said)")
    }

    @Test("send 10,000 messages to the arrow: every outcome is accepted")
    func sendToArrow() async throws {
        let (arrow, port) = try await Self.startArrow(["operation=receive", "count=\(Self.count)"])
        defer { arrow.stop() }
        let connection = try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(port)/q", logger: TestEnvironment.logger)
        let sender = try await connection.openSender()
        let outcomes = try await withThrowingTaskGroup(of: SendOutcome.self) { group in
            for i in 0..<Self.count {
                group.addTask { try await sender.send(Message(value: .string("message \(i)"))) }
            }
            var all: [SendOutcome: Int] = [:]
            for try await outcome in group { all[outcome, default: 0] += 1 }
            return all
        }
        #expect(outcomes == [.accepted: Self.count])
        #expect(try await arrow.waitForExit() == 0)
        #expect(arrow.output.last == "proton-c-arrow: \(Self.count) transfers")
        try await connection.close()
    }

    @Test("receive 10,000 messages from the arrow, each accepted")
    func receiveFromArrow() async throws {
        let (arrow, port) = try await Self.startArrow(["operation=send", "count=\(Self.count)", "body-size=100"])
        defer { arrow.stop() }
        let connection = try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(port)/q", logger: TestEnvironment.logger)
        let receiver = try await connection.openReceiver(capacity: 500)
        let body = Message.Body.value(.string(String(repeating: "x", count: 100)))
        var received = 0, wrongBodies = 0
        for try await delivery in receiver {
            if delivery.message.body != body { wrongBodies += 1 }
            try await receiver.accept(delivery)
            received += 1
            if received == Self.count { break }
        }
        #expect(received == Self.count)
        #expect(wrongBodies == 0)
        #expect(try await arrow.waitForExit() == 0)
        #expect(arrow.output.last == "proton-c-arrow: \(Self.count) transfers")
        try await connection.close()
    }

    @Test("200 messages of 200,000 bytes each way: split into frames, reassembled across reads")
    func largeMessagesBothWays() async throws {
        let size = 200_000, count = 200
        let (receiving, receivePort) = try await Self.startArrow(["operation=receive", "count=\(count)"])
        defer { receiving.stop() }
        let out = try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(receivePort)/q", logger: TestEnvironment.logger)
        let sender = try await out.openSender()
        let big = Message(value: .string(String(repeating: "y", count: size)))
        let outcomes = try await withThrowingTaskGroup(of: SendOutcome.self) { group in
            for _ in 0..<count { group.addTask { try await sender.send(big) } }
            var all: [SendOutcome: Int] = [:]
            for try await outcome in group { all[outcome, default: 0] += 1 }
            return all
        }
        #expect(outcomes == [.accepted: count])
        #expect(try await receiving.waitForExit() == 0)
        #expect(receiving.output.last == "proton-c-arrow: \(count) transfers")
        try await out.close()

        let (sending, sendPort) = try await Self.startArrow(["operation=send", "count=\(count)", "body-size=\(size)"])
        defer { sending.stop() }
        let into = try await AMQPConnection.connect(to: "amqp://127.0.0.1:\(sendPort)/q", logger: TestEnvironment.logger)
        let receiver = try await into.openReceiver(capacity: 20)
        let body = Message.Body.value(.string(String(repeating: "x", count: size)))
        var received = 0, wrongBodies = 0
        for try await delivery in receiver {
            if delivery.message.body != body { wrongBodies += 1 }
            try await receiver.accept(delivery)
            received += 1
            if received == count { break }
        }
        #expect(received == count)
        #expect(wrongBodies == 0)
        #expect(try await sending.waitForExit() == 0)
        #expect(sending.output.last == "proton-c-arrow: \(count) transfers")
        try await into.close()
    }
}

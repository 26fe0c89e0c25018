import AMQPCodec
import AMQPNIO
import Testing

/// Cancelling a task blocked in `send` or in iteration leaves the connection usable and the peer
/// consistent.
@Suite("Cancellation")
struct CancellationTests {
    @Test("a send waiting for credit is cancelled: never sent, and the connection goes on")
    func cancelSendWaitingForCredit() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let starved = try await connection.openSender(address: "nocredit")
        let blocked = Task { try await starved.send(Message(value: .string("never"))) }
        try await Task.sleep(for: .milliseconds(300))
        blocked.cancel()
        let result = await blocked.result
        #expect(throws: AMQPClientError.self) { try result.get() }
        if case .failure(let error as AMQPClientError) = result { #expect(error.code == .cancelled) }

        // The same connection still sends and receives, and the peer's queue holds only what we sent.
        let sender = try await connection.openSender(address: "after-cancel")
        #expect(try await sender.send(Message(value: .string("one"))) == .accepted)
        let receiver = try await connection.openReceiver(address: "after-cancel", capacity: 5)
        let got = try #require(try await receiver.receive())
        #expect(got.message.body == .value(.string("one")))
        try await receiver.accept(got)
        try await starved.close()
        try await connection.close()
        #expect(!peer.output.contains { $0.hasPrefix("error") })
    }

    @Test("a send cancelled after its transfer went out: the peer's later outcome is settled by us")
    func cancelSendAfterTransfer() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let holding = try await connection.openSender(address: "hold")
        let blocked = Task { try await holding.send(Message(value: .string("held"))) }
        try await Task.sleep(for: .milliseconds(300))  // the transfer is out; the peer holds it unsettled
        blocked.cancel()
        if case .failure(let error as AMQPClientError) = await blocked.result { #expect(error.code == .cancelled) } else {
            Issue.record("the send did not end with .cancelled")
        }
        // Now the peer accepts what it held; we settle that outcome although nobody waits for it.
        let trigger = try await connection.openSender(address: "settle-held")
        #expect(try await trigger.send(Message(value: .string("go"))) == .accepted)
        try await peer.waitForLine(startingWith: "sender settled hold")
        #expect(try await trigger.send(Message(value: .string("again"))) == .accepted)
        try await connection.close()
        #expect(!peer.output.contains { $0.hasPrefix("error") })
    }

    @Test("iteration waiting for a message is cancelled: nothing is lost, the next receive gets it")
    func cancelIteration() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let receiver = try await connection.openReceiver(address: "quiet", capacity: 10)
        let waiting = Task { () throws -> Int in
            var count = 0
            for try await _ in receiver { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(300))
        waiting.cancel()
        let result = await waiting.result
        if case .failure(let error as AMQPClientError) = result { #expect(error.code == .cancelled) } else {
            Issue.record("iteration ended with \(result), not .cancelled")
        }

        let sender = try await connection.openSender(address: "quiet")
        #expect(try await sender.send(Message(value: .string("after"))) == .accepted)
        let got = try #require(try await receiver.receive())
        #expect(got.message.body == .value(.string("after")))
        try await receiver.accept(got)
        try await connection.close()
    }

    @Test("cancelling many sends in flight: every send ends accepted or cancelled, none hangs")
    func cancelSendsInFlight() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer()
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let sender = try await connection.openSender(address: "burst")
        let tasks = (0..<2000).map { i in Task { try await sender.send(Message(value: .int(Int32(i)))) } }
        try await Task.sleep(for: .milliseconds(20))
        for task in tasks { task.cancel() }
        var accepted = 0, cancelled = 0
        for task in tasks {
            switch await task.result {
            case .success(.accepted): accepted += 1
            case .failure(let error as AMQPClientError) where error.code == .cancelled: cancelled += 1
            case let other: Issue.record("unexpected result \(other)")
            }
        }
        #expect(accepted + cancelled == 2000)
        // Every accepted message is in the peer's queue (a send cancelled after its transfer went
        // out may be there too: it cannot be recalled).
        let receiver = try await connection.openReceiver(address: "burst", capacity: 100)
        var received = 0
        while received < accepted, let message = try await receiver.receive() {
            try await receiver.accept(message)
            received += 1
        }
        #expect(received == accepted)
        #expect(try await sender.send(Message(value: .string("last"))) == .accepted)
        try await connection.close()
    }
}

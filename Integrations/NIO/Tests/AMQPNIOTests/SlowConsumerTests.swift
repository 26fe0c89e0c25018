import AMQPCodec
import AMQPNIO
import Foundation
import Testing

/// A fast Proton sender and a slow consumer: the receiver's buffer stays at its capacity.
@Suite("Slow consumer")
struct SlowConsumerTests {
    static let count = 100_000
    static let capacity = 50

    /// Resident memory of this process, from /proc/self/statm.
    static func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("100,000 messages streamed to a consumer that pauses: at most `capacity` are ever buffered")
    func boundedBuffer() async throws {
        let (peer, port) = try await TestEnvironment.startPythonPeer(["--source-count", "\(Self.count)"])
        defer { peer.stop() }
        let connection = try await PythonPeerTests.connect(port)
        let receiver = try await connection.openReceiver(address: "source", capacity: Self.capacity)
        var expected: Int64 = 0
        var pausedBuffers: [Int] = []
        var residentAt20k = 0
        for try await delivery in receiver {
            guard case .value(.map(let body)) = delivery.message.body, body.first?.value == .long(expected) else {
                Issue.record("message \(expected) is \(String(describing: delivery.message.body))")
                break
            }
            try await receiver.accept(delivery)
            expected += 1
            if expected % 20_000 == 0 && expected < Int64(Self.count) {
                // Stop consuming for a while: the peer fills the credit and no more.
                try await Task.sleep(for: .milliseconds(500))
                pausedBuffers.append(try await receiver.bufferedCount())
                if expected == 20_000 { residentAt20k = try Self.residentBytes() }
            }
            if expected == Int64(Self.count) { break }
        }
        #expect(expected == Int64(Self.count))
        // Credit is topped up once half the buffer is free, so a pause fills it to between half and all.
        #expect(pausedBuffers.count == 4)
        #expect(pausedBuffers.allSatisfy { $0 > Self.capacity / 2 && $0 <= Self.capacity }, "buffered during pauses: \(pausedBuffers)")
        // Memory does not grow with the count: 80,000 more messages add less than 32 MiB.
        let growth = try Self.residentBytes() - residentAt20k
        #expect(growth < 32 << 20, "resident memory grew by \(growth) bytes between 20,000 and 100,000 messages")
        try await connection.close()
    }
}

@testable import AMQPNIO
import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
import Logging
import NIOCore
import NIOEmbedded
import Testing

/// Counts the reads that reach the socket end of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// The channel handler on NIO's EmbeddedChannel, against an in-memory server driver: what it
/// writes, and when.
@Suite("DriverChannelHandler")
struct ChannelHandlerTests {
    /// A client core on an embedded channel, and a server driver that answers it.
    final class Pair {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let core: ConnectionCore
        let server = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "server"))
        var writes = 0

        let reads = ReadCounter()

        init(sessionBufferLimit: Int? = nil) throws {
            var configuration = DriverConfiguration(containerID: "client")
            if let sessionBufferLimit { configuration.sessionBufferLimit = sessionBufferLimit }
            core = ConnectionCore(configuration: configuration, logger: Logger(label: "test"), outputHighWaterMark: 1 << 20,
                                  openCall: loop.makePromise())
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandlers([reads, core.handler])
        }

        /// Everything the client flushed, as separate writes.
        func takeWrites() throws -> [ByteBuffer] {
            var all: [ByteBuffer] = []
            while let b = try channel.readOutbound(as: ByteBuffer.self) { all.append(b) }
            return all
        }

        /// Moves the client's writes to the server, lets it answer, and feeds its answer back.
        func exchange() throws {
            for write in try takeWrites() { server.read(write.readableBytesView) }
            while let e = server.nextEvent() { _ = Responder(initialCredit: 10).respond(to: e) }
            let answer = Array(server.pendingOutput)
            server.writeDone(answer.count)
            if !answer.isEmpty { try channel.writeInbound(ByteBuffer(bytes: answer)) }
            loop.run()
        }
    }

    @Test("on connect: the header, open and begin leave in one write")
    func firstWriteCoalesced() throws {
        let pair = try Pair()
        try pair.channel.connect(to: .init(ipAddress: "127.0.0.1", port: 5672)).wait()
        let writes = try pair.takeWrites()
        #expect(writes.count == 1)
        #expect(Array(writes[0].readableBytesView.prefix(8)) == Array("AMQP".utf8) + [0, 1, 0, 0])
        #expect(writes[0].readableBytes > 8 + 8 + 8)  // a header and at least two frames
        _ = try pair.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("three links opened in one loop tick leave in one write")
    func callsCoalescedPerTick() throws {
        let pair = try Pair()
        try pair.channel.connect(to: .init(ipAddress: "127.0.0.1", port: 5672)).wait()
        try pair.exchange()
        #expect(try pair.core.opened.wait() == ())
        for i in 0..<3 { _ = pair.core.openSender(address: "q\(i)", name: nil, settled: false, call: PendingCall<Void>()) }
        #expect(try pair.takeWrites().isEmpty)  // nothing before the turn
        pair.loop.run()
        let writes = try pair.takeWrites()
        #expect(writes.count == 1)
        _ = try pair.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("reading stops while the session holds more unsettled bytes than its limit, and resumes on settling")
    func readBackPressure() throws {
        let pair = try Pair(sessionBufferLimit: 1000)
        try pair.channel.connect(to: .init(ipAddress: "127.0.0.1", port: 5672)).wait()
        try pair.exchange()
        let id = try #require(pair.core.openReceiver(address: "q", name: nil, capacity: 100, call: PendingCall<Void>()))
        pair.loop.run()
        try pair.exchange()  // attach and its answer
        try pair.exchange()  // our credit
        let link = try #require(pair.server.connection.allSessions.first?.allLinks.first)
        for _ in 0..<5 { link.send(Message(value: .binary(Binary([UInt8](repeating: 7, count: 600))))) }
        try pair.exchange()
        #expect(pair.core.receivers[id]?.buffered == 5)

        let before = pair.reads.count
        pair.channel.read()
        #expect(pair.reads.count == before)  // held: 5 x 600 bytes unsettled, over the 1000-byte limit

        while pair.core.receivers[id]!.buffered > 0 { pair.core.receive(on: id, call: PendingCall()) }
        for key in pair.core.receivers[id]!.unsettled.keys { try pair.core.settle(key: key, on: id, state: .accepted) }
        pair.loop.run()
        #expect(pair.reads.count == before + 1)  // the held read went out once the bytes were settled
        _ = try pair.channel.finish(acceptAlreadyClosed: true)
    }

    @Test("nothing is taken from the driver while the channel is not writable; then all of it in one write")
    func writability() throws {
        let pair = try Pair()
        try pair.channel.connect(to: .init(ipAddress: "127.0.0.1", port: 5672)).wait()
        try pair.exchange()
        pair.channel.isWritable = false
        for i in 0..<3 { _ = pair.core.openSender(address: "q\(i)", name: nil, settled: false, call: PendingCall<Void>()) }
        pair.loop.run()
        #expect(try pair.takeWrites().isEmpty)
        #expect(!pair.core.driver.pendingOutput.isEmpty)  // still in the driver
        pair.channel.isWritable = true
        pair.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try pair.takeWrites().count == 1)
        #expect(pair.core.driver.pendingOutput.isEmpty)
        _ = try pair.channel.finish(acceptAlreadyClosed: true)
    }
}

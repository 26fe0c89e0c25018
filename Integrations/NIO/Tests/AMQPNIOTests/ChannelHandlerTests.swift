@testable import AMQPNIO
import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
import Logging
import NIOCore
import NIOEmbedded
import Testing

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

        init(sessionBufferLimit: Int? = nil) throws {
            var configuration = DriverConfiguration(containerID: "client")
            if let sessionBufferLimit { configuration.sessionBufferLimit = sessionBufferLimit }
            core = ConnectionCore(configuration: configuration, logger: Logger(label: "test"), outputHighWaterMark: 1 << 20,
                                  openCall: loop.makePromise())
            channel = EmbeddedChannel(handler: core.handler, loop: loop)
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
}

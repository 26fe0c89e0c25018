import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
import XCTest

/// `ConnectionDriver.read(_: UnsafeRawBufferPointer)`, which decodes complete frames from the
/// host's memory instead of copying them into the driver's buffer first: whatever the split of
/// the stream, the driver must see exactly what the copying path (`readBuffer`/`readDone`) sees.
final class ReadInPlaceTests: XCTestCase {
    /// What a client wrote in a whole conversation: header, open, begin, attach, messages from
    /// empty to several frames long (max-frame-size 512), dispositions, detach, end, close.
    private func recordedClientStream() -> [UInt8] {
        var client = DriverConfiguration(containerID: "client")
        client.maxFrameSize = 512
        var server = DriverConfiguration(containerID: "server")
        server.maxFrameSize = 512
        let pair = DriverPair(client: client, server: server)
        var recorded: [UInt8] = []
        func pump() {
            for _ in 0..<10_000 {
                let out = pair.client.pendingOutput
                recorded += out
                let a = moveBytes(from: pair.client, to: pair.server)
                let b = moveBytes(from: pair.server, to: pair.client)
                while pair.client.nextEvent() != nil {}
                while pair.server.nextEvent() != nil {}
                if a == 0 && b == 0 { return }
            }
        }
        pair.client.connection.open()
        let session = pair.client.connection.session()
        session.begin()
        let sender = session.sender(name: "in-place", target: "q")
        sender.attach()
        pump()
        pair.server.connection.open()
        pair.server.connection.allSessions[0].begin()
        let receiver = pair.server.connection.allSessions[0].allLinks[0]
        receiver.localTarget = receiver.remoteAttach?.target?.target
        receiver.attach()
        receiver.flow(credit: 100)
        pump()
        for size in [0, 1, 7, 100, 480, 511, 512, 513, 3000] {
            sender.send(Message(value: .binary(Binary([UInt8](repeating: UInt8(size % 251), count: size)))), settled: size % 2 == 0)
        }
        pump()
        sender.detach()
        session.end()
        pair.client.connection.close()
        pump()
        return recorded
    }

    /// A server driver fed `stream` in pieces of `piece` bytes, answering as a peer would; returns
    /// a line per event and everything it wrote back.
    private func replay(_ stream: [UInt8], piece: Int, inPlace: Bool) -> (events: [String], output: [UInt8], messages: [String: [UInt8]]) {
        var configuration = DriverConfiguration(containerID: "server")
        configuration.maxFrameSize = 512
        let driver = ConnectionDriver(mode: .server, configuration: configuration)
        let responder = Responder(initialCredit: 100)
        var events: [String] = []
        var output: [UInt8] = []
        var messages: [String: [UInt8]] = [:]
        // The host's memory is reused (scribbled over) after every call: nothing may point into it.
        let host = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(piece, stream.count)), alignment: 1)
        defer { host.deallocate() }
        var at = 0
        while at < stream.count && !driver.isTailClosed {
            let n = min(piece, stream.count - at)
            if inPlace {
                host.copyBytes(from: stream[at..<(at + n)])
                driver.read(UnsafeRawBufferPointer(rebasing: host[0..<n]))
                host.initializeMemory(as: UInt8.self, repeating: 0xEE)
            } else {
                var moved = 0
                while moved < n && !driver.isTailClosed {
                    let space = driver.readBuffer()
                    let k = min(space.count, n - moved)
                    space.copyBytes(from: stream[(at + moved)..<(at + moved + k)])
                    driver.readDone(k)
                    moved += k
                }
            }
            at += n
            while let e = driver.nextEvent() {
                responder.respond(to: e)
                switch e {
                case .delivery(let d):
                    let tag = "\(Array(d.tag.bytes))"
                    let payload = d.readPayload()
                    events.append("delivery \(tag) partial \(d.isPartial) +\(payload.count)")
                    messages[tag, default: []] += payload
                    if !d.isPartial { d.settle() }
                case .transportError(let error):
                    events.append("transportError \(error.condition)")
                default:
                    events.append(String(describing: e).prefix { $0 != "(" } + "")
                }
            }
            output += driver.pendingOutput
            driver.writeDone(driver.pendingOutput.count)
        }
        return (events, output, messages)
    }

    func testEverySplitSeesWhatTheCopyingPathSees() {
        let stream = recordedClientStream()
        XCTAssertEqual(stream.count, 5698, "the conversation carries the messages")
        let whole = replay(stream, piece: .max, inPlace: false)
        XCTAssertEqual(whole.messages.count, 9)
        XCTAssertEqual(whole.messages.values.map(\.count).sorted(), [5, 6, 12, 105, 488, 519, 520, 521, 3008], "encoded binary bodies")
        XCTAssertFalse(whole.events.contains { $0.hasPrefix("transportError") }, "\(whole.events)")
        XCTAssertEqual(whole.events.filter { $0.contains("Remote") && !$0.contains("Open") && !$0.contains("Begin") },
                       ["linkRemoteDetach", "sessionRemoteEnd", "connectionRemoteClose"])
        for piece in [1, 2, 3, 4, 5, 7, 8, 9, 13, 64, 100, 511, 512, 513, 1000, 4096, .max] {
            let copied = replay(stream, piece: piece, inPlace: false)
            let inPlace = replay(stream, piece: piece, inPlace: true)
            XCTAssertTrue(inPlace.events == copied.events, "pieces of \(piece): \(inPlace.events.count) events against \(copied.events.count)")
            XCTAssertTrue(inPlace.output == copied.output, "pieces of \(piece): \(inPlace.output.count) bytes written against \(copied.output.count)")
            // Whatever the split, the same messages arrive whole.
            XCTAssertTrue(inPlace.messages == whole.messages, "pieces of \(piece)")
        }
    }

    func testBadFrameInTheMiddleClosesWithTheSameError() {
        let stream = recordedClientStream()
        // The stream up to its first transfer, then a frame that says it is 4 bytes long.
        let header = 8
        var cut = header
        var frames = 0
        while cut + 4 <= stream.count && frames < 4 {
            cut += Int(stream[cut]) << 24 | Int(stream[cut + 1]) << 16 | Int(stream[cut + 2]) << 8 | Int(stream[cut + 3])
            frames += 1
        }
        let bad = Array(stream[..<cut]) + [0, 0, 0, 4, 2, 0, 0, 0] + Array(stream[cut...])
        for piece in [1, 5, 8, 64, .max] {
            let copied = replay(bad, piece: piece, inPlace: false)
            let inPlace = replay(bad, piece: piece, inPlace: true)
            XCTAssertEqual(inPlace.events, copied.events, "pieces of \(piece)")
            XCTAssertEqual(inPlace.output, copied.output, "pieces of \(piece)")
            XCTAssertEqual(inPlace.events.filter { $0.hasPrefix("transport") },
                           ["transportError amqp:connection:framing-error", "transportTailClosed"], "pieces of \(piece)")
            // The frames before the bad one were taken, whatever the split: the first message too.
            XCTAssertEqual(inPlace.messages.count, 1, "pieces of \(piece)")
        }
    }

    func testBytesAfterTheInputClosedAreIgnored() {
        let driver = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "s"))
        driver.readClose()
        let bytes: [UInt8] = ProtocolHeader.amqp.bytes
        bytes.withUnsafeBytes { driver.read($0) }
        XCTAssertTrue(driver.isTailClosed)
        var errors = 0
        while let e = driver.nextEvent() { if case .transportError = e { errors += 1 } }
        XCTAssertEqual(errors, 0, "a probe that left before a byte is no error, and later bytes are not read")
    }
}

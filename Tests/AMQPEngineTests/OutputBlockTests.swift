import AMQPCodec
@testable import AMQPEngine
import AMQPEngineTesting
import XCTest

/// `ConnectionDriver.takeOutputBlock()`: output a host writes asynchronously from the driver's
/// own memory, which stays put and unchanged while the application goes on sending.
final class OutputBlockTests: XCTestCase {
    private func address(_ bytes: ArraySlice<UInt8>) -> UnsafeRawPointer? {
        bytes.withUnsafeBytes { $0.baseAddress.map { UnsafeRawPointer($0) } }
    }

    func testTheBlockStaysPutWhileNewOutputCollectsApart() throws {
        let (pair, sender) = pairWithQuiverMessagesSent(10)
        // Ten messages: 144 bytes for the first (a one-byte tag), 145 for each other.
        let block = pair.client.takeOutputBlock()
        XCTAssertEqual(block.count, 144 + 9 * 145)
        let copy = Array(block)
        let memory = address(block)
        XCTAssertEqual(pair.client.pendingOutput.count, 0, "the block is out, nothing after it yet")
        // The application goes on: its output collects apart, and the block does not change.
        for i in 10..<30 { sender.send(quiverMessage(Int64(i))) }
        XCTAssertEqual(pair.client.pendingOutput.count, 20 * 145)
        XCTAssertEqual(Array(block), copy)
        XCTAssertEqual(address(block), memory)
        // A partial write: asked again, the driver gives the rest of the same block, in place.
        pair.client.writeDone(1000)
        let rest = pair.client.takeOutputBlock()
        XCTAssertEqual(rest.count, block.count - 1000)
        XCTAssertEqual(address(rest), memory.map { $0 + 1000 })
        XCTAssertEqual(pair.client.pendingOutput.count, 20 * 145, "writeDone took from the block first")
        pair.client.writeDone(rest.count)
        // All of the block written: the next block is what came after it.
        let next = pair.client.takeOutputBlock()
        XCTAssertEqual(next.count, 20 * 145)
        XCTAssertEqual(pair.client.pendingOutput.count, 0)
        // The peer gets the two blocks in order, every message once.
        pair.server.read(copy)
        pair.server.read(Array(next))
        pair.client.writeDone(next.count)
        pair.pump()
        try assertServerReceivedQuiverMessages(pair, 30)
    }

    func testSpentBlocksStorageTakesNewOutputWithoutAllocating() {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 100)
        for i in 0..<5 { sender.send(quiverMessage(Int64(i))) }
        var first: ArraySlice<UInt8>? = pair.client.takeOutputBlock()
        let firstMemory = first.flatMap { address($0) }
        for i in 5..<10 { sender.send(quiverMessage(Int64(i))) }
        pair.client.writeDone(first!.count)
        first = nil   // the host lets go of the memory before the driver reuses it
        let second = pair.client.takeOutputBlock()
        XCTAssertEqual(second.count, 5 * 145)
        for i in 10..<15 { sender.send(quiverMessage(Int64(i))) }
        pair.client.writeDone(second.count)
        let third = pair.client.takeOutputBlock()
        XCTAssertEqual(third.count, 5 * 145)
        XCTAssertEqual(address(third), firstMemory, "the two arrays take turns")
    }

    func testTheHeadClosesOnlyOnceTheBlockIsWritten() {
        let pair = DriverPair()
        pair.client.connection.open()
        pair.pump()
        pair.server.connection.open()
        pair.pump()
        pair.client.connection.close()
        let block = pair.client.takeOutputBlock()
        XCTAssertEqual(block.count, 12, "the close frame")
        pair.client.readClose()
        XCTAssertFalse(pair.client.isHeadClosed, "the close is still being written")
        pair.client.writeDone(5)
        XCTAssertFalse(pair.client.isHeadClosed)
        XCTAssertEqual(pair.client.takeOutputBlock().count, 7)
        pair.client.writeDone(7)
        XCTAssertTrue(pair.client.isHeadClosed)
        while pair.client.nextEvent() != nil {}
        XCTAssertTrue(pair.client.isFinished)
    }

    func testReturnedBlockGoesBackInFrontOfNewOutput() throws {
        let (pair, sender) = pairWithQuiverMessagesSent(4)
        let block = pair.client.takeOutputBlock()
        pair.server.read(Array(block.prefix(300)))
        pair.client.writeDone(300)
        for i in 4..<8 { sender.send(quiverMessage(Int64(i))) }
        // The host stops writing asynchronously: the unwritten rest comes first again.
        pair.client.returnOutputBlock()
        XCTAssertEqual(pair.client.pendingOutput.count, block.count - 300 + 4 * 145)
        XCTAssertEqual(Array(pair.client.pendingOutput.prefix(block.count - 300)), Array(block.dropFirst(300)))
        pair.pump()
        try assertServerReceivedQuiverMessages(pair, 8)
    }

    /// A host that writes blocks in random pieces while the application keeps sending, and
    /// early writes take blocks mid-loop: the peer gets every message once, in order.
    func testRandomPartialWritesWithEarlyWritesLoseNothing() throws {
        let pair = DriverPair()
        let (sender, _) = pair.openLinkPair(credit: 2000)
        pair.serverEvents.removeAll()
        var rng = SystemRandomNumberGenerator()
        var inFlight: ArraySlice<UInt8> = []
        func writeSome() {
            if inFlight.isEmpty { inFlight = pair.client.takeOutputBlock() }
            guard !inFlight.isEmpty else { return }
            let n = Int.random(in: 1...inFlight.count, using: &rng)
            pair.server.read(Array(inFlight.prefix(n)))
            inFlight = []
            pair.client.writeDone(n)
        }
        pair.client.setEarlyWrite(threshold: 700) { _ in writeSome() }
        for i in 0..<1000 {
            sender.send(quiverMessage(Int64(i)))
            if i % 37 == 0 { writeSome() }
        }
        while !pair.client.takeOutputBlock().isEmpty { writeSome() }
        pair.pump()
        try assertServerReceivedQuiverMessages(pair, 1000)
    }
}

@testable import AMQPBroker
import AMQPCodec
import XCTest

/// The queue's message list: taking from the front and from the middle (holes), putting back
/// into a message's own hole, scanning from a cursor, and compacting.
final class MessageListTests: XCTestCase {
    private func list(_ sequences: [UInt64]) -> MessageList {
        var l = MessageList()
        for s in sequences { l.append(QueuedMessage(sequence: s, bytes: [UInt8(s % 256)], origin: 0)) }
        return l
    }

    private func drain(_ l: inout MessageList) -> [UInt64] {
        var out: [UInt64] = []
        while let m = l.removeFirst() { out.append(m.sequence) }
        return out
    }

    func testTakingFromTheMiddleLeavesTheRestInOrder() {
        var l = list(Array(0..<10))
        let (taken, next) = l.take(max: 3, from: 0) { $0.sequence % 3 == 2 }
        XCTAssertEqual(taken.map(\.sequence), [2, 5, 8])
        XCTAssertEqual(next, 9, "the sequence after the last one looked at")
        XCTAssertEqual(l.count, 7)
        XCTAssertEqual(l.firstSequence, 0)
        XCTAssertEqual(drain(&l), [0, 1, 3, 4, 6, 7, 9])
        XCTAssertTrue(l.isEmpty)
        XCTAssertNil(l.firstSequence)
    }

    func testAScanStartsAtItsCursorAndReportsWhereItStopped() {
        var l = list(Array(0..<10))
        var looked: [UInt64] = []
        let (none, next) = l.take(max: 5, from: 4) { looked.append($0.sequence); return false }
        XCTAssertEqual(none.count, 0)
        XCTAssertEqual(looked, [4, 5, 6, 7, 8, 9])
        XCTAssertEqual(next, 10)
        let (empty, same) = l.take(max: 5, from: 10) { _ in true }
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(same, 10, "nothing looked at: the cursor stays")
        // From a hole's sequence: the scan begins at the next message.
        _ = l.take(max: 1, from: 6) { _ in true }
        let (after, _) = l.take(max: 2, from: 6) { _ in true }
        XCTAssertEqual(after.map(\.sequence), [7, 8])
    }

    func testAMessageGoesBackIntoItsOwnHoleInOrder() {
        var l = list(Array(0..<6))
        let (taken, _) = l.take(max: 2, from: 0) { $0.sequence == 1 || $0.sequence == 4 }
        XCTAssertEqual(taken.map(\.sequence), [1, 4])
        l.insert(taken[1])
        l.insert(taken[0])
        XCTAssertEqual(l.count, 6)
        XCTAssertEqual(drain(&l), [0, 1, 2, 3, 4, 5])
    }

    func testInsertWithoutAHoleAndBeforeTheHead() {
        var l = list([10, 20, 30])
        l.insert(QueuedMessage(sequence: 25, bytes: [], origin: 0))
        l.insert(QueuedMessage(sequence: 5, bytes: [], origin: 0))
        l.insert(QueuedMessage(sequence: 40, bytes: [], origin: 0))
        XCTAssertEqual(l.firstSequence, 5)
        XCTAssertEqual(drain(&l), [5, 10, 20, 25, 30, 40])
    }

    func testCopiesLeaveEverythingAndUpdateTheCache() {
        var l = list(Array(0..<5))
        let (copies, next) = l.copy(max: 10, from: 2) { m in
            m.refusedBy = [7]   // stands for the cached head a filter stores
            return m.sequence != 3
        }
        XCTAssertEqual(copies.map(\.sequence), [2, 4])
        XCTAssertEqual(next, 5)
        XCTAssertEqual(l.count, 5)
        let (all, _) = l.take(max: 10, from: 0) { _ in true }
        XCTAssertEqual(all.map(\.refusedBy), [[], [], [7], [7], [7]])
    }

    /// 5,000 messages, every other one taken from the middle, then the rest from the front: the
    /// holes are compacted away and the order holds throughout.
    func testCompactionKeepsTheOrder() {
        var l = list(Array(0..<5_000))
        let (odd, _) = l.take(max: .max, from: 0) { $0.sequence % 2 == 1 }
        XCTAssertEqual(odd.count, 2_500)
        XCTAssertEqual(l.count, 2_500)
        var front: [UInt64] = []
        for _ in 0..<1_500 { front.append(l.removeFirst()!.sequence) }
        XCTAssertEqual(front, (0..<1_500).map { UInt64($0 * 2) })
        l.insert(odd[2_000])   // 4001, into a list compacted meanwhile
        XCTAssertEqual(drain(&l), (1_500..<2_500).flatMap { i -> [UInt64] in i == 2_000 ? [4_000, 4_001] : [UInt64(i * 2)] })
    }

    /// A message's head is decoded from its bytes once, and dropped when the bytes change.
    func testTheHeadIsDroppedWhenTheBytesChange() {
        var message = Message(value: .string("x"))
        message.applicationProperties = ["colour": .string("green")]
        var m = QueuedMessage(sequence: 0, bytes: message.encoded, origin: 0)
        m.head = MessageHead(decoding: m.bytes)
        XCTAssertEqual(m.head?.message?.applicationProperties?[string: "colour"], .string("green"))
        XCTAssertNil(m.head?.message?.body, "the body is not decoded")
        m.bytes = RedeliveryMark(failedAttempt: true).apply(to: m.bytes)
        XCTAssertNil(m.head)
    }
}

import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
import XCTest

/// A quiver-style message, as the arrows send: a string body of `body` bytes and the application
/// property `SendTime` set to `n`, which tells the messages apart.
func quiverMessage(_ n: Int64, body: Int = 100) -> Message {
    var m = Message(value: .string(String(repeating: "x", count: body)))
    m.applicationProperties = ["SendTime": .long(n)]
    return m
}

/// A pair with a link open (`credit` granted) and quiver messages 0..<`count` sent by the client,
/// not yet moved: the server's events cleared, the sender returned for more.
func pairWithQuiverMessagesSent(_ count: Int, credit: UInt32 = 100) -> (DriverPair, Link) {
    let pair = DriverPair()
    let (sender, _) = pair.openLinkPair(credit: credit)
    pair.serverEvents.removeAll()
    for i in 0..<count { sender.send(quiverMessage(Int64(i))) }
    return (pair, sender)
}

/// Checks that the server took quiver messages 0..<`count`, each once, in order, and that
/// neither side reported a transport error.
func assertServerReceivedQuiverMessages(_ pair: DriverPair, _ count: Int,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
    let messages = try pair.deliveries(pair.serverEvents).filter { !$0.isPartial }.map { try $0.message() }
    XCTAssertEqual(messages.count, count, file: file, line: line)
    XCTAssertEqual(messages, (0..<count).map { quiverMessage(Int64($0)) }, file: file, line: line)
    XCTAssertNil(pair.firstTransportError, file: file, line: line)
}

// libFuzzer target for selectors. Build and run as Docs/Selectors.md says:
//   swift build -c release --product FuzzSelector --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
//   .build-fuzz/release/FuzzSelector -max_total_time=60 Fuzz/FuzzSelector/corpus
// Without the fuzzer flags it builds as a plain program that runs the files it is given.
import AMQPCodec
import AMQPSelector
import FuzzSupport

/// Messages every compiled selector is evaluated against: one with every section and properties
/// of many types, one with nothing.
let messages: [Message] = {
    var m = Message(value: "body")
    m.header = Header(durable: true, priority: 7, ttl: 60_000, deliveryCount: 2)
    m.messageAnnotations = [.symbol("x-opt-jms-type"): "legacy"]
    m.properties = Properties(messageID: "ID:abc", userID: Binary(utf8: "alice"), to: "orders", subject: "news",
                              replyTo: "replies", correlationID: .ulong(7), contentType: "text/plain",
                              absoluteExpiryTime: Timestamp(millisecondsSince1970: 5000),
                              creationTime: Timestamp(millisecondsSince1970: 1000), groupID: "g1", groupSequence: 3)
    m.applicationProperties = AMQPMap([
        (.string("a"), .int(1)), (.string("b"), .long(-2)), (.string("c"), .string("red")),
        (.string("d"), .double(2.5)), (.string("e"), .bool(true)), (.string("f"), .null),
        (.string("g"), .string("Grüße 日本 😀")), (.string("h"), .ulong(.max)), (.string("i"), .binary([1, 2])),
        (.string("max"), .long(.max)), (.string("min"), .long(.min)), (.string("z"), .long(0)),
        (.string("s"), .string(String(repeating: "ab", count: 40) + "%_")),
    ])
    return [m, Message()]
}()

/// Compiles one input as selector text; whatever compiles must evaluate, never trap, and agree with
/// itself: `matches` is `evaluate == true`, and `NOT ( s )` is the three-valued negation of `s`.
@inline(never)
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    let selector: Selector
    do {
        selector = try Selector(text)
    } catch {
        let scalars = text.unicodeScalars.count
        if error.column < 1 || error.column > scalars + 1 { fatalError("column \(error.column) outside 1...\(scalars + 1): \(error)") }
        if error.reason.isEmpty { fatalError("error without a reason") }
        return 0
    }
    let negated = try? Selector("NOT ( " + text + " )")
    let blank = text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
    for message in messages {
        let result = selector.evaluate(message)
        if selector.matches(message) != (result == true) { fatalError("matches disagrees with evaluate") }
        if selector.evaluate(message) != result { fatalError("evaluation is not deterministic") }
        if let negated, !blank, negated.evaluate(message) != result.map({ !$0 }) {
            fatalError("NOT ( s ) is \(String(describing: negated.evaluate(message))), s is \(String(describing: result))")
        }
    }
    return 0
}

fuzzMain { data, size in fuzzOne(data, size) }

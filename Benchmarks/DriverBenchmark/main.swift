// The Swift side of Benchmarks/driver.sh: the same work as Benchmarks/ProtonC/driver-bench.c.
//
// Two ConnectionDrivers in one thread, bytes copied between them in memory. The client sends
// MESSAGES 113-byte messages at-least-once (the bytes Proton 0.37 encodes for a 100-character string
// body: empty header, empty properties, amqp-value); the server's receiver reads each one, accepts,
// settles and tops its credit back up to 1000; the sender checks each outcome is accepted and
// settles. Also the heap held by an idle open connection with one session and one link.
// The message case does what a quiver arrow does per message: the sender sets the application
// property SendTime (a long: the count sent so far) on its one Message with the 100-character
// string body (the C side keeps one pn_message_t) and sends it with Link.send(_ message:); the
// receiver decodes it with Delivery.message()
// and checks SendTime and the body. Allocations per message are counted in one extra run of each
// case (Benchmarks/CMallocStats/counting.c), charged to the side the pump is working for.
//
// Usage: DriverBenchmark [MESSAGES] [REPEATS] [IDLE_CONNECTIONS]   (default 1000000 5 1000)
// Output, one "<case> <value>" per line, in the order driver-bench.c prints them:
//   idle-connection-bytes <bytes>   heap per connection, one side (pair growth / 2)
//   idle-pair-bytes <bytes>
//   throughput <messages per second>   one line per repeat
//   message-throughput <messages per second>   one line per repeat
//   allocations-per-message <bytes|message> <sender|receiver> <count>
import AMQPCodec
import AMQPEngine
import AMQPEngineTesting
import CMallocStats
#if canImport(Glibc)
import Glibc
#endif

func fail(_ why: String) -> Never {
    let line = Array("DriverBenchmark: \(why)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let arguments = CommandLine.arguments.dropFirst().map { Int($0) ?? -1 }
let messages = arguments.count > 0 ? arguments[0] : 1_000_000
let repeats = arguments.count > 1 ? arguments[1] : 5
let idleConnections = arguments.count > 2 ? arguments[2] : 1000
guard messages > 0, repeats > 0, idleConnections > 0 else { fail("usage: DriverBenchmark [MESSAGES] [REPEATS] [IDLE_CONNECTIONS]") }

let payload: [UInt8] = {
    let m = Message(header: Header(), properties: Properties(), body: .value(.string(String(repeating: "x", count: 100))))
    let proton: [UInt8] = [0x00, 0x53, 0x70, 0x45, 0x00, 0x53, 0x73, 0x45, 0x00, 0x53, 0x77, 0xa1, 0x64] + Array(repeating: 0x78, count: 100)
    guard m.encoded == proton else { fail("our encoding differs from Proton's: \(m.encoded)") }
    return proton
}()

let senderSide: Int32 = 0, receiverSide: Int32 = 1
let messageBody = String(repeating: "x", count: 100)
let messageTemplate = Message(body: .value(.string(messageBody)))

/// Moves everything `from` has written into `to`, through `to`'s own read buffer, as a host
/// would, charging allocations to the side each call works for.
@discardableResult
func move(_ from: ConnectionDriver, _ fromSide: Int32, _ to: ConnectionDriver, _ toSide: Int32) -> Int {
    cmallocstats_side(fromSide)
    let out = from.pendingOutput
    guard !out.isEmpty else { return 0 }
    cmallocstats_side(toSide)
    out.withUnsafeBytes { src in
        var moved = 0
        while moved < src.count && !to.isTailClosed {
            let buf = to.readBuffer()
            let n = min(buf.count, src.count - moved)
            buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[moved..<(moved + n)]))
            to.readDone(n)
            moved += n
        }
    }
    cmallocstats_side(fromSide)
    from.writeDone(out.count)
    return out.count
}

/// One client/server pair and the application logic on each side.
final class Pair {
    let client = ConnectionDriver(mode: .client, configuration: DriverConfiguration(containerID: "client"))
    let server = ConnectionDriver(mode: .server, configuration: DriverConfiguration(containerID: "server"))
    // Plain fields, as the C harness's struct has: no runtime exclusivity check on the counters of
    // this one-thread object, so the harness does not weigh on the Swift side alone.
    @exclusivity(unchecked) var sender: Link!
    @exclusivity(unchecked) var goal = 0
    @exclusivity(unchecked) var sent = 0
    @exclusivity(unchecked) var received = 0
    @exclusivity(unchecked) var accepted = 0
    /// The message case: Message objects encoded and decoded on each side.
    @exclusivity(unchecked) var messages = false
    // The sender's one message, its SendTime set per send: the C harness keeps one pn_message_t
    // per side and sets its property per send, as Proton's arrow does, and so does `amqp arrow`.
    @exclusivity(unchecked) var outgoing: Message = {
        var m = messageTemplate
        m.applicationProperties = ["SendTime": .long(0)]
        return m
    }()
    let responder = Responder(initialCredit: 1000)

    init() {
        client.connection.open()
        let s = client.connection.session()
        s.begin()
        sender = s.sender(name: "sender", target: "q")
        sender.attach()
    }

    func sendAsCreditAllows() {
        // Moved out for the loop: sending a stored property would copy it per send.
        var m = Message()
        swap(&m, &outgoing)
        defer { swap(&m, &outgoing) }
        while sent < goal && sender.credit > 0 && sender.queued == 0 {
            if messages {
                m.applicationProperties?[string: "SendTime"] = .long(Int64(sent))
                sender.send(m)
            } else {
                sender.send(payload)
            }
            sent += 1
        }
    }

    func handleClient() -> Bool {
        var any = false
        while let e = client.nextEvent() {
            any = true
            switch e {
            case .linkFlow: sendAsCreditAllows()
            case .delivery(let d):
                guard d.remoteState == .accepted else { fail("delivery not accepted: \(String(describing: d.remoteState))") }
                accepted += 1
                d.settle()
            case .transportError(let e): fail("client: \(e)")
            default: break
            }
        }
        return any
    }

    func handleServer() -> Bool {
        var any = false
        while let e = server.nextEvent() {
            any = true
            switch e {
            case .delivery(let d) where !d.isPartial:
                if messages {
                    check(try? d.message())
                } else {
                    let bytes = d.readPayload()
                    guard bytes.count == payload.count else { fail("received \(bytes.count) bytes") }
                }
                received += 1
                d.accept()
                d.link.flow(credit: 1)
            case .transportError(let e): fail("server: \(e)")
            default: responder.respond(to: e)
            }
        }
        return any
    }

    /// The received message carries the SendTime the sender set and the whole body.
    func check(_ message: Message?) {
        guard let message else { fail("a received message does not decode") }
        guard case .long(let t)? = message.applicationProperties?[string: "SendTime"], t == Int64(received) else {
            fail("message \(received) has SendTime \(String(describing: message.applicationProperties))")
        }
        guard case .value(.string(let body))? = message.body, body.utf8.count == 100 else {
            fail("message \(received) has body \(String(describing: message.body))")
        }
    }

    /// Pumps until `done`; a round in which nothing moves before then is a stall.
    func pump(until done: () -> Bool) {
        while !done() {
            cmallocstats_side(senderSide)
            var progress = handleClient()
            progress = move(client, senderSide, server, receiverSide) > 0 || progress
            cmallocstats_side(receiverSide)
            progress = handleServer() || progress
            progress = move(server, receiverSide, client, senderSide) > 0 || progress
            if !progress && !done() { fail("stalled: sent \(sent) received \(received) accepted \(accepted)") }
        }
    }

    func run(_ count: Int, countingAllocations: Bool = false) -> Double {
        goal += count
        let start = ContinuousClock.now
        cmallocstats_count(countingAllocations ? 1 : 0)
        cmallocstats_side(senderSide)
        sendAsCreditAllows()
        pump { accepted == goal }
        cmallocstats_count(0)
        let elapsed = ContinuousClock.now - start
        guard sent == goal, received == goal else { fail("sent \(sent) received \(received) accepted \(accepted)") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(count) / seconds
    }
}

func heapInUse() -> Int {
    Int(cmallocstats_in_use())
}

// Idle connections first, before the throughput runs churn the heap.
do {
    _ = { let p = Pair(); p.pump { p.sender.credit == 1000 } }()
    var pairs: [Pair] = []
    pairs.reserveCapacity(idleConnections)
    let before = heapInUse()
    for _ in 0..<idleConnections {
        let p = Pair()
        p.pump { p.sender.credit == 1000 }
        pairs.append(p)
    }
    let grown = heapInUse() - before
    print("idle-connection-bytes \(grown / (2 * idleConnections))")
    print("idle-pair-bytes \(grown / idleConnections)")
    withExtendedLifetime(pairs) {}
}

/// A pair opened, in the bytes or the message case, closed cleanly by `close()`.
func openPair(messages: Bool) -> Pair {
    let p = Pair()
    p.messages = messages
    p.pump { p.sender.credit == 1000 }
    return p
}

func close(_ p: Pair) {
    p.client.connection.close()
    p.pump { p.server.connection.remoteState == .closed }
    p.server.connection.close()
    p.pump { p.client.isFinished && p.server.isFinished }
}

// DRIVER_BENCHMARK_ONLY=bytes|message runs that case alone, for profiling.
let only = getenv("DRIVER_BENCHMARK_ONLY").map { String(cString: $0) }
for (label, messageCase) in [("throughput", false), ("message-throughput", true)] where only == nil || only == (messageCase ? "message" : "bytes") {
    let pair = openPair(messages: messageCase)
    _ = pair.run(max(1, messages / 10))   // warm-up
    for _ in 0..<repeats {
        print("\(label) \(Int(pair.run(messages)))")
    }
    close(pair)
}

for (label, messageCase) in [("bytes", false), ("message", true)] where only == nil || only == label {
    let pair = openPair(messages: messageCase)
    let counted = 10_000
    _ = pair.run(counted)   // first-use allocations out of the way
    cmallocstats_reset()
    _ = pair.run(counted, countingAllocations: true)
    for (side, name) in [(senderSide, "sender"), (receiverSide, "receiver")] {
        let perMessage = Double(cmallocstats_allocations(side)) / Double(counted)
        print("allocations-per-message \(label) \(name) \((perMessage * 100).rounded() / 100)")
    }
    close(pair)
}

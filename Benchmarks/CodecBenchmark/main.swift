// Codec benchmark: encode and decode of a quiver-style message and of a 1 MiB data body, in ns per
// message. Prints the same four lines as Benchmarks/ProtonC/codec-bench.c so Benchmarks/codec.sh
// can put them side by side. Usage: CodecBenchmark [ITERATIONS_SMALL] [ITERATIONS_LARGE]
import AMQPCodec

#if canImport(Glibc)
import Glibc
#endif

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let args = CommandLine.arguments
let smallIterations = args.count > 1 ? Int(args[1]) ?? 200_000 : 200_000
let largeIterations = args.count > 2 ? Int(args[2]) ?? 200 : 200

// The same messages as the C program: a 100-byte string body with SendTime, and 1 MiB of data.
var small = Message(value: .string(String(repeating: "x", count: 100)))
small.applicationProperties = [.string("SendTime"): .long(1_700_000_000_000)]
let large = Message(data: Binary((0..<1_048_576).map { UInt8(truncatingIfNeeded: $0) }))

/// Sink that the optimizer cannot see through.
@inline(never) func consume(_ x: Int) { sink &+= x }
nonisolated(unsafe) var sink = 0  // single-threaded program: nothing else touches it

@inline(never)
func timeEncode(_ message: Message, _ iterations: Int) -> Double {
    // A sender reuses its output buffer; encoding appends to it.
    var buffer: [UInt8] = []
    buffer.reserveCapacity(message.encodedSize + 64)
    let warm = max(1, iterations / 10)
    for _ in 0..<warm { buffer.removeAll(keepingCapacity: true); message.encode(into: &buffer) }
    let start = now()
    for _ in 0..<iterations {
        buffer.removeAll(keepingCapacity: true)
        message.encode(into: &buffer)
    }
    let elapsed = now() - start
    consume(buffer.count)
    return Double(elapsed) / Double(iterations)
}

@inline(never)
func timeDecode(_ bytes: [UInt8], _ iterations: Int, _ read: (Message) -> Int) -> Double {
    let warm = max(1, iterations / 10)
    for _ in 0..<warm { consume(read(try! Message(decoding: bytes))) }
    let start = now()
    for _ in 0..<iterations {
        // Read what a receiver reads, as the C program does.
        consume(read(try! Message(decoding: bytes)))
    }
    return Double(now() - start) / Double(iterations)
}

func readSmall(_ m: Message) -> Int {
    guard case .value(.string(let s)) = m.body, case .long(let t)? = m.applicationProperties?[string: "SendTime"] else {
        fatalError("small message decoded wrong")
    }
    return s.utf8.count &+ Int(truncatingIfNeeded: t)
}

func readLarge(_ m: Message) -> Int {
    guard case .data(let sections) = m.body, sections.count == 1 else { fatalError("large message decoded wrong") }
    return sections[0].count
}

let smallBytes = small.encoded
let largeBytes = large.encoded
precondition(readSmall(try! Message(decoding: smallBytes)) == 100 &+ 1_700_000_000_000)
precondition(readLarge(try! Message(decoding: largeBytes)) == 1_048_576)

func oneDecimal(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

print("small-encode \(oneDecimal(timeEncode(small, smallIterations)))")
print("small-decode \(oneDecimal(timeDecode(smallBytes, smallIterations, readSmall)))")
print("large-encode \(oneDecimal(timeEncode(large, largeIterations)))")
print("large-decode \(oneDecimal(timeDecode(largeBytes, largeIterations, readLarge)))")

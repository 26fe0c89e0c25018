// Selector benchmark: ns per match of typical selectors against a message with three application
// properties, and ns per compile. Usage: SelectorBenchmark [ITERATIONS] [match]
// Build and run in release: swift run -c release SelectorBenchmark
//
// Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time, so a machine shared
// with other work (a CI runner, parallel builds) does not inflate them.
import AMQPCodec
import AMQPSelector

#if canImport(Glibc)
import Glibc
#endif

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Sink that the optimizer cannot see through.
@inline(never) func consume(_ x: Int) { sink &+= x }
nonisolated(unsafe) var sink = 0  // single-threaded program: nothing else touches it

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000
/// `match` as the second argument times matching only (for a profiler).
let matchOnly = CommandLine.arguments.count > 2 && CommandLine.arguments[2] == "match"

var message = Message(value: "hello")
message.header = Header(durable: true, priority: 6)
message.properties = Properties(messageID: "ID:1", subject: "news")
message.applicationProperties = AMQPMap([
    (.string("color"), .string("red")),
    (.string("weight"), .int(12)),
    (.string("size"), .string("L")),
])

@inline(never)
func timeMatch(_ selector: Selector, _ message: Message) -> Double {
    var hits = 0
    for _ in 0..<(iterations / 10) where selector.matches(message) { hits += 1 }
    let start = now()
    for _ in 0..<iterations where selector.matches(message) { hits += 1 }
    let elapsed = now() - start
    consume(hits)
    return Double(elapsed) / Double(iterations)
}

@inline(never)
func timeCompile(_ text: String) -> Double {
    let n = max(1, iterations / 100)
    let start = now()
    for _ in 0..<n { consume((try? Selector(text)) == nil ? 0 : 1) }
    return Double(now() - start) / Double(n)
}

func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
func format(_ ns: Double) -> String {
    let tenths = Int((ns * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) ns"
}

let selectors = [
    "color = 'red' AND weight > 10",
    "color = 'blue' AND weight > 10",
    "weight BETWEEN 10 AND 20 OR size IN ('S', 'M')",
    "color LIKE 'r%' AND size NOT IN ('XS', 'S')",
    "JMSPriority > 4 AND JMSType = 'news'",
    "(weight * 2 + 1) / 5 >= 5 AND missing IS NULL",
]

print("selector (against 3 application properties)             match       compile")
for text in selectors {
    let selector = try! Selector(text)
    let match = timeMatch(selector, message)
    print(pad(text, 56), pad(format(match), 11), matchOnly ? "" : format(timeCompile(text)))
}

// LIKE's worst shapes for a backtracking matcher, against 100,000 characters.
var long = Message()
long.applicationProperties = ["s": .string(String(repeating: "a", count: 100_000))]
let worst = [
    "s LIKE '" + String(repeating: "%a", count: 200) + "%b'",
    "s LIKE '%" + String(repeating: "a", count: 300) + "b%'",
]
for text in worst {
    let selector = try! Selector(text)
    let start = now()
    let n = 20
    for _ in 0..<n { consume(selector.matches(long) ? 1 : 0) }
    let us = Double(now() - start) / Double(n) / 1000
    print(pad(String(text.prefix(30)) + "… (100,000 a)", 56), "\(Int(us.rounded())) µs")
}

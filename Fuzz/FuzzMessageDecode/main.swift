// libFuzzer target for message decoding. Build and run as Docs/Fuzzing.md says:
//   swift build -c release --product FuzzMessageDecode --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
// Without the fuzzer flags it builds as a plain program that decodes the files it is given,
// so the target stays compiled in every build.
import AMQPCodec

#if canImport(Glibc)
import Glibc
#endif

/// Decodes one input as a message and, when that succeeds, checks the encode/decode round trip.
@inline(never)
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? Message(decoding: bytes) else { return 0 }
    let again: Message
    do {
        again = try Message(decoding: message.encoded)
    } catch {
        fatalError("re-encoded message does not decode: \(error)")
    }
    // NaN floats compare unequal to themselves, so compare encodings, not values.
    if again.encoded != message.encoded { fatalError("round trip changed the message") }
    if message.encodedSize != message.encoded.count { fatalError("encodedSize disagrees with encode") }
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
#else
// Plain mode: decode each file named on the command line.
var failures = 0
for path in CommandLine.arguments.dropFirst() {
    guard let f = fopen(path, "rb") else { print("cannot open \(path)"); failures += 1; continue }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    fclose(f)
    _ = bytes.withUnsafeBufferPointer { fuzzOne($0.baseAddress, $0.count) }
}
print("decoded \(CommandLine.arguments.count - 1) inputs")
exit(failures == 0 ? 0 : 1)
#endif

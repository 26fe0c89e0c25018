// libFuzzer target for message decoding. Build and run as Docs/Fuzzing.md says:
//   swift build -c release --product FuzzMessageDecode --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
// Without the fuzzer flags it builds as a plain program that decodes the files it is given,
// so the target stays compiled in every build.
import AMQPCodec
import FuzzSupport

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

fuzzMain { data, size in fuzzOne(data, size) }

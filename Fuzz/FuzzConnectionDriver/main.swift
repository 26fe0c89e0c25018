// libFuzzer target for the connection driver: each input is a whole inbound byte stream, as in
// Proton's own connection-driver fuzzing (../shared/test-vectors/fuzz-connection-driver seeds it).
// Build and run as Docs/Fuzzing.md says:
//   swift build -c release --product FuzzConnectionDriver --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
// Without the fuzzer flags it builds as a plain program that runs the files it is given.
import AMQPCodec
import AMQPEngine
import AMQPEngineTesting

import FuzzSupport

/// Plays a cooperative application so that inputs reach deep states: it opens whatever the peer
/// opens (``Responder``), grants credit, sends to the peer's receivers and settles what arrives.
func respond(to event: AMQPEvent) {
    let responder = Responder(initialCredit: 10)
    switch event {
    case .linkRemoteOpen(let l):
        responder.respond(to: event)
        if l.role == .sender { l.send([0x00, 0x53, 0x77, 0x40]) }
    case .delivery(let d):
        if d.link.role == .receiver {
            _ = d.readPayload()
            if !d.isPartial { d.accept(); d.link.flow(credit: 1) }
        }
    default:
        responder.respond(to: event)
    }
}

/// Feeds one input to a server-mode driver in chunks whose sizes come from the first byte, then
/// closes the input and requires the driver to finish: no trap, no hang, no stuck state. The
/// first byte's top bits also choose the host: reading into `readBuffer()` or handing over its own
/// memory (`read(_: UnsafeRawBufferPointer)`), writing `pendingOutput` or taking output blocks.
@inline(never)
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let chunk = Int(input[0] % 64) + 1
    let inPlace = input[0] & 0x80 != 0
    let blocks = input[0] & 0x40 != 0
    var config = DriverConfiguration(containerID: "fuzz")
    config.maxFrameSize = 16_384
    config.maxMessageSize = 1 << 20
    let driver = ConnectionDriver(mode: .server, configuration: config)
    var at = 1
    func drain(whole: Bool = false) {
        while let e = driver.nextEvent() { respond(to: e) }
        if blocks {
            // Half of each block at a time while reading, as a send that completes short would.
            let block = driver.takeOutputBlock()
            if !block.isEmpty { driver.writeDone(whole ? block.count : max(1, block.count / 2)) }
        } else {
            let out = driver.pendingOutput.count
            if out > 0 { driver.writeDone(out) }
        }
        while let e = driver.nextEvent() { respond(to: e) }
    }
    while at < size && !driver.isTailClosed {
        if inPlace {
            let n = min(chunk, size - at)
            driver.read(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: input[at..<(at + n)])))
            at += n
        } else {
            let buf = driver.readBuffer()
            let n = min(chunk, size - at, buf.count)
            buf.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: input[at..<(at + n)])))
            driver.readDone(n)
            at += n
        }
        drain()
    }
    driver.readClose()
    for _ in 0..<4 { drain(whole: true) }
    if !driver.isFinished { fatalError("driver did not finish: head closed \(driver.isHeadClosed), tail closed \(driver.isTailClosed)") }
    return 0
}

// Files replayed by hand get a leading 0: one-byte chunks, the slowest feed.
fuzzMain(filePrefix: [0]) { data, size in fuzzOne(data, size) }

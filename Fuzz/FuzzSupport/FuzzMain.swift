// What every fuzz target's `main` shares: under `-DFUZZING`, hand the target to libFuzzer's driver;
// otherwise run it once on each file named on the command line, so the target stays compiled (and
// usable for replaying a crash) in every ordinary build.
#if canImport(Glibc)
import Glibc
#endif

/// One fuzz input: bytes and count, as libFuzzer passes them. Returns 0.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ body: FuzzTarget) -> CInt
#endif

/// Runs `target` under libFuzzer (built with `-DFUZZING`), or on the files named on the command
/// line, each preceded by `filePrefix`.
public func fuzzMain(filePrefix: [UInt8] = [], _ target: FuzzTarget) -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(runDriver(&argc, &argv, target))
    #else
    var failures = 0
    for path in CommandLine.arguments.dropFirst() {
        guard let bytes = readFile(path) else { print("cannot open \(path)"); failures += 1; continue }
        let input = filePrefix + bytes
        _ = input.withUnsafeBufferPointer { target($0.baseAddress, $0.count) }
    }
    print("ran \(CommandLine.arguments.count - 1) inputs")
    exit(failures == 0 ? 0 : 1)
    #endif
}

private func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { return bytes }
        bytes += chunk[0..<n]
    }
}

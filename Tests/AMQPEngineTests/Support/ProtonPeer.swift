import AMQPCodec
@testable import AMQPEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SharedFixtures
import XCTest

/// Runs a ``ConnectionDriver`` against Qpid Proton's engine in a child process: `proton_peer.py`
/// (beside this directory) under ``ProtonPython/path``, its stdin and stdout being the AMQP byte
/// stream. The test thread owns the driver; one background thread drains the child's stdout.
///
/// Our driver runs without a trace closure (unless `AMQP_TRACE_FRM` asks for one), as in
/// production: a trace turns off its inbound transfer fast path. What the tests and the failure
/// messages need to see of the frames comes from the bytes moved (``WireLog``), decoded only when
/// asked for.
enum ProtonPeer {
    static let python = ProtonPython.path
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proton_peer.py")

    /// Skips without Proton, or fails when `AMQP_REQUIRE_PROTON=1`.
    static func require() throws -> Bool { try ProtonPython.require(for: "the interop test") }

    /// How our side of a run behaves, apart from the scenario's own event handling.
    struct Options {
        var configuration = DriverConfiguration(containerID: "swift-driver")
        /// Call `driver.tick(now:)` with the real clock; false makes our side silent (no heartbeats).
        var tick = true
        /// Answer the peer's open, begin, attach, detach, end and close in kind after the handler
        /// ran (when the handler did not already).
        var answerInKind = true
        /// Our whole run, after which the child is killed and the test fails.
        var timeout: Duration = .seconds(30)
    }

    /// The errors a scenario produces on purpose; ``assertPassed(_:file:line:)`` fails on any other.
    struct Expected {
        /// The condition of the transport error(s) Proton must report (proton_peer.py's
        /// `transport_error=`); nil: Proton must report none, and proton_peer.py fails on any.
        var protonTransportError: Symbol?
        /// The conditions of the transport errors our driver reports, in order.
        var transportErrors: [Symbol] = []
        /// Our connection's `remoteError`: the error in the peer's close, if any.
        var remoteError: AMQPError?
        /// Whether our driver must end finished (false for a run our side does not end).
        var finished = true

        /// A clean run: no errors on either side.
        static let none = Expected()
    }

    /// One finished run.
    final class Run {
        let scenario: String
        let expected: Expected
        let driver: ConnectionDriver
        /// The child's exit status (its verdict: 0 when its own checks held).
        var status: Int32 = -1
        /// The child's stderr: diagnostics, FAIL lines, the verdict and Proton's frame trace.
        var log = ""
        var timedOut = false
        let elapsed: Duration
        /// The bytes both ways, in order.
        let wire: WireLog
        /// Every transport error our driver reported.
        let transportErrors: [AMQPError]

        init(scenario: String, expected: Expected, driver: ConnectionDriver, elapsed: Duration, wire: WireLog,
             transportErrors: [AMQPError]) {
            self.scenario = scenario
            self.expected = expected
            self.driver = driver
            self.elapsed = elapsed
            self.wire = wire
            self.transportErrors = transportErrors
        }

        /// The frames both ways in the driver's trace format (`-> ` ours, `<- ` Proton's), decoded
        /// from the wire on first use.
        private(set) lazy var frames: [String] = wire.lines

        /// The last lines of both sides' logs, for failure messages.
        var diagnostics: String {
            let ours = frames.suffix(60).joined(separator: "\n")
            let theirs = log.split(separator: "\n", omittingEmptySubsequences: false).suffix(80).joined(separator: "\n")
            let bytes = wire.byteCount
            return "--- frames on the wire (last 60 of \(frames.count); \(bytes.outgoing) bytes out, \(bytes.incoming) in) ---\n"
                + "\(ours)\n--- proton_peer.py stderr ---\n\(theirs)"
        }
    }

    /// Runs `scenario` of proton_peer.py with Proton in the role opposite to `mode`.
    ///
    /// `handle` is the Swift side of the scenario: it gets each of our driver's events on this
    /// thread, before the answer-in-kind defaults (see ``Options/answerInKind``). `expecting` lists
    /// the errors the scenario produces on purpose: Proton is told which transport error it may
    /// report, and ``assertPassed(_:file:line:)`` checks ours.
    static func run(_ scenario: String, _ arguments: [String: String] = [:], as mode: ConnectionDriver.Mode,
                    options: Options = Options(), expecting expected: Expected = .none,
                    handle: (AMQPEvent, ConnectionDriver) -> Void) throws -> Run {
        // A child that exits early must turn our writes into EPIPE, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        var wire = WireLog()
        var configuration = options.configuration
        // No trace unless the user asks for one: a trace turns off the inbound transfer fast path.
        precondition(configuration.trace == nil, "ProtonPeer records the wire itself; a trace would bypass TransferCodec.decode")
        configuration.trace = ConnectionDriver.traceFromEnvironment(ProcessInfo.processInfo.environment["AMQP_TRACE_FRM"])
        let driver = ConnectionDriver(mode: mode, configuration: configuration)

        let toChild = Pipe(), fromChild = Pipe()
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("proton-peer-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: logURL) }
        let logHandle = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        var argv = [script.path, scenario, "mode=\(mode == .client ? "server" : "client")"]
        var arguments = arguments
        if let condition = expected.protonTransportError { arguments["transport_error"] = condition.rawValue }
        argv += arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        process.arguments = argv
        process.standardInput = toChild
        process.standardOutput = fromChild
        process.standardError = logHandle
        try process.run()
        try logHandle.close()

        let inbox = ByteInbox()
        let readFD = fromChild.fileHandleForReading.fileDescriptor
        Thread.detachNewThread { inbox.drain(readFD) }
        let writeFD = toChild.fileHandleForWriting.fileDescriptor
        var childInputOpen = true
        func closeChildInput() {
            guard childInputOpen else { return }
            childInputOpen = false
            try? toChild.fileHandleForWriting.close()
        }

        var errors: [AMQPError] = []
        func handleEvents() {
            while let event = driver.nextEvent() {
                if case .transportError(let e) = event { errors.append(e) }
                handle(event, driver)
                if options.answerInKind { answerInKind(event) }
            }
        }

        let clock = ContinuousClock()
        let start = clock.now
        var sawEOF = false
        var timedOut = false
        var nextTick: ContinuousClock.Instant?
        while true {
            handleEvents()
            // Output first: our open and whatever the handler did.
            while !driver.isHeadClosed {
                let out = driver.pendingOutput
                if out.isEmpty { break }
                if !childInputOpen || !writeAll(writeFD, out) {
                    driver.writeClose()
                } else {
                    wire.record(outgoing: true, out)
                    driver.writeDone(out.count)
                }
                handleEvents()
            }
            if driver.isHeadClosed { closeChildInput() }
            if driver.isFinished && sawEOF && !process.isRunning { break }
            let now = clock.now
            if now - start > options.timeout {
                timedOut = true
                break
            }
            var wait = Duration.milliseconds(20)
            if let nextTick { wait = max(.zero, min(wait, nextTick - now)) }
            let (bytes, eof) = inbox.take(waitingAtMost: wait)
            if !bytes.isEmpty {
                wire.record(outgoing: false, bytes)
                feed(driver, bytes)
            }
            if eof && !sawEOF {
                sawEOF = true
                driver.readClose()
            }
            if options.tick && !driver.isHeadClosed {
                nextTick = driver.tick(now: clock.now)
            }
        }
        let elapsed = clock.now - start
        if timedOut {
            closeChildInput()
            if process.isRunning { process.terminate() }
        }
        process.waitUntilExit()
        closeChildInput()
        // The reader thread reads fromChild's descriptor: let it see end of file before the pipe
        // (and with it the descriptor number) is released.
        let drainUntil = clock.now + .seconds(5)
        while !sawEOF && clock.now < drainUntil {
            sawEOF = inbox.take(waitingAtMost: .milliseconds(50)).eof
        }
        withExtendedLifetime(fromChild) {}
        let run = Run(scenario: scenario, expected: expected, driver: driver, elapsed: elapsed, wire: wire, transportErrors: errors)
        run.timedOut = timedOut
        run.status = process.terminationStatus
        run.log = String(decoding: (try? Data(contentsOf: logURL)) ?? Data(), as: UTF8.self)
        if ProcessInfo.processInfo.environment["PN_TRACE_FRM"] == "1" {
            print("proton_peer.py \(argv.dropFirst().joined(separator: " ")):\n\(run.log)")
        }
        return run
    }

    /// Fails unless the run ended in time, the peer's checks held (proton_peer.py fails on any
    /// Proton transport error the run did not expect), our driver finished with exactly the
    /// expected transport errors and remote error (``Expected``; none by default), and it wrote
    /// nothing after its close.
    static func assertPassed(_ run: Run, file: StaticString = #filePath, line: UInt = #line) {
        guard !run.timedOut else {
            // The rest would only restate it: the child was killed and our driver is mid-way.
            return XCTFail("\(run.scenario): no end within the timeout (\(run.elapsed)); proton_peer.py was killed\n\(run.diagnostics)",
                           file: file, line: line)
        }
        let failLines = run.log.split(separator: "\n").filter { $0.contains("FAIL: ") }.prefix(5).joined(separator: "\n")
        XCTAssertEqual(run.status, 0, "\(run.scenario): proton_peer.py's own checks failed:\n\(failLines)\n\(run.diagnostics)",
                       file: file, line: line)
        XCTAssertEqual(run.driver.isFinished, run.expected.finished, "\(run.scenario): our driver finished\n\(run.diagnostics)",
                       file: file, line: line)
        XCTAssertEqual(run.transportErrors.map(\.condition), run.expected.transportErrors,
                       "\(run.scenario): our transport errors: \(run.transportErrors)\n\(run.diagnostics)", file: file, line: line)
        XCTAssertEqual(run.driver.connection.remoteError, run.expected.remoteError,
                       "\(run.scenario): the error in Proton's close\n\(run.diagnostics)", file: file, line: line)
        // §2.7.9: nothing follows a close. Proton does not always notice (it acts on frames after a
        // close that arrive in the same read, and its peer exits once both closes are through), so
        // the wire is checked here.
        let ours = run.frames.filter { $0.hasPrefix("-> ") }
        if let close = ours.firstIndex(where: { $0.hasPrefix("-> [0] close(") }) {
            XCTAssertEqual(Array(ours[(close + 1)...]), [], "\(run.scenario): frames we wrote after our close\n\(run.diagnostics)",
                           file: file, line: line)
        }
    }

    /// Copies `bytes` into the driver through its own buffer (readBuffer/readDone).
    private static func feed(_ driver: ConnectionDriver, _ bytes: [UInt8]) {
        var rest = bytes[...]
        while !rest.isEmpty && !driver.isTailClosed {
            let buffer = driver.readBuffer()
            let n = min(buffer.count, rest.count)
            guard n > 0 else { return }
            rest.prefix(n).withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            driver.readDone(n)
            rest = rest.dropFirst(n)
        }
    }

    /// Blocking write of everything; false when the child's end is gone (EPIPE).
    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// What a polite peer does: answer the peer's open, begin, attach, detach, end and close.
    static func answerInKind(_ event: AMQPEvent) {
        switch event {
        case .connectionRemoteOpen(let c) where c.localState == .uninitialized:
            c.open()
        case .sessionRemoteBegin(let s) where s.localState == .uninitialized:
            s.begin()
        case .linkRemoteOpen(let l) where l.localState == .uninitialized:
            l.localSource = l.localSource ?? l.remoteAttach?.source
            l.localTarget = l.localTarget ?? l.remoteAttach?.target?.target
            l.attach()
        case .linkRemoteClose(let l) where l.localState == .active:
            l.close()
        case .linkRemoteDetach(let l) where l.localState == .active:
            l.detach()
        case .sessionRemoteEnd(let s) where s.localState == .active:
            s.end()
        case .connectionRemoteClose(let c) where c.localState != .closed:
            c.close()
        default:
            break
        }
    }
}

/// Bytes read from the child, handed from the reader thread to the test thread.
///
/// `@unchecked Sendable`: every stored property is read and written only while holding
/// `condition`'s lock, so the two threads never touch them at once.
final class ByteInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var eof = false

    /// Reader thread: reads `fd` until end of file, so the child never blocks writing.
    func drain(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            condition.lock()
            if n > 0 { bytes += buffer[0..<n] } else { eof = true }
            condition.signal()
            condition.unlock()
            if n <= 0 { return }
        }
    }

    /// Test thread: what has arrived, waiting up to `wait` for something; and whether the child's
    /// output has ended (reported once everything before it was taken).
    func take(waitingAtMost wait: Duration) -> (bytes: [UInt8], eof: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if bytes.isEmpty && !eof && wait > .zero {
            let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) * 1e-18
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
        let taken = bytes
        bytes.removeAll(keepingCapacity: true)
        return (taken, eof)
    }
}

import Foundation
import SharedFixtures
import XCTest

/// Qpid Proton's Python examples (Debian's `python3-qpid-proton` ships them in
/// /usr/share/proton/examples/python) run through `amqp broker` as their README.txt says, each
/// with `-a` naming the broker, on each backend; their output is checked line for line.
///
/// - client.py and sync_client.py with server.py: the server replies through a sender with no
///   target (the anonymous relay) to each client's dynamic reply queue;
/// - colour_send.py then selected_recv.py: a selector (`colour = 'green'`) takes the green ones,
///   and simple_recv.py then gets the red ones, in order;
/// - simple_send.py, queue_browser.py (browsing: `distribution-mode copy`), then simple_recv.py
///   gets every message the browser saw;
/// - helloworld.py, helloworld_blocking.py, db_send.py and db_recv.py (with db_ctrl.py).
///
/// The examples are copied to a fresh directory (db_send and db_recv keep their SQLite files
/// beside them); the ones with no `-a` option (helloworld, helloworld_blocking, queue_browser)
/// have their `localhost:5672` replaced by the broker's address there.
final class ProtonExamplesTests: XCTestCase {
    static let examples = "/usr/share/proton/examples/python"

    func testProtonPythonExamplesThroughTheBroker() throws {
        guard try ProtonPython.require(for: "Proton's Python examples") else { return }
        guard FileManager.default.fileExists(atPath: Self.examples + "/README.txt") else {
            let why = "\(Self.examples) is absent (apt-get install python3-qpid-proton)"
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { return XCTFail(why) }
            throw XCTSkip(why)
        }
        for backend in TestBackends.names {
            let port = ProtonArrow.freePort()
            let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
            defer { broker.terminate() }
            XCTAssertTrue(ProtonArrow.waitForListener(port: port), backend)
            let dir = try ExampleDirectory(port: port)
            defer { dir.remove() }
            try runExamples(dir, "127.0.0.1:\(port)", backend)
            broker.terminate()
            let end = broker.finish()
            XCTAssertEqual(end.status, 0, "\(backend): \(end.stderr)")
            XCTAssertEqual(end.lines.last, "amqp broker stopped", backend)
        }
    }

    private func runExamples(_ dir: ExampleDirectory, _ host: String, _ backend: String) throws {
        let address = "\(host)/examples"
        let requests = ["Twas brillig, and the slithy toves", "Did gire and gymble in the wabe.",
                        "All mimsy were the borogroves,", "And the mome raths outgrabe."]
        let answers = requests.map { "\($0) => \($0.uppercased())" }

        // Request/response: server.py answers through the anonymous relay.
        let server = try dir.start("server.py", ["-a", address])
        XCTAssertEqual(try dir.run("client.py", ["-a", address]).lines, answers, "\(backend): client.py")
        XCTAssertEqual(try dir.run("sync_client.py", ["-a", address]).lines, answers, "\(backend): sync_client.py")
        let served = server.interrupt()
        let received = zip(requests + requests, [1, 1, 1, 1, 2, 2, 2, 2]).enumerated().map { i, r in
            let correlation = r.1 == 2 ? "correlation_id='\(i - 3)', " : ""
            return "Received Message(reply_to='dynamic-\(r.1)', priority=4, \(correlation)body='\(r.0)')"
        }
        XCTAssertEqual(served.lines, ["Listening on amqp://\(address)"] + received, "\(backend): server.py: \(served.stderr)")

        XCTAssertEqual(try dir.run("helloworld.py", []).lines, ["Hello World!"], "\(backend): helloworld.py")
        XCTAssertEqual(try dir.run("helloworld_blocking.py", []).lines, ["Hello World!"], "\(backend): helloworld_blocking.py")

        // Selectors.
        XCTAssertEqual(try dir.run("colour_send.py", ["-a", address, "-m", "10"]).lines, ["all messages confirmed"], "\(backend): colour_send.py")
        XCTAssertEqual(try dir.run("selected_recv.py", ["-a", address, "-m", "5"]).lines, ["green 1", "green 3", "green 5", "green 7", "green 9"],
                       "\(backend): selected_recv.py")
        XCTAssertEqual(try dir.run("simple_recv.py", ["-a", address, "-m", "5"]).lines, ["red 2", "red 4", "red 6", "red 8", "red 10"],
                       "\(backend): simple_recv.py after selected_recv.py")

        // Browsing.
        XCTAssertEqual(try dir.run("simple_send.py", ["-a", address, "-m", "10"]).lines, ["all messages confirmed"], "\(backend): simple_send.py")
        XCTAssertEqual(try dir.run("queue_browser.py", []).lines, (1...10).map { "Message(priority=4, id=\($0), body={'sequence': \($0)})" },
                       "\(backend): queue_browser.py")
        XCTAssertEqual(try dir.run("simple_recv.py", ["-a", address, "-m", "10"]).lines, (1...10).map { "{'sequence': \($0)}" },
                       "\(backend): simple_recv.py after queue_browser.py")

        // db_send and db_recv, as the README sets them up.
        XCTAssertEqual(try dir.run("db_ctrl.py", ["init", "src_db"]).status, 0)
        XCTAssertEqual(try dir.run("db_ctrl.py", ["insert", "src_db"], input: (1...5).map { "Message-\($0)\n" }.joined()).status, 0)
        XCTAssertEqual(try dir.run("db_ctrl.py", ["init", "dst_db"]).status, 0)
        let sent = try dir.run("db_send.py", ["-a", address, "-m", "5"]).lines
        XCTAssertEqual(sent.filter { $0.hasPrefix("sent message") }, (1...5).map { "sent message \($0)" }, "\(backend): db_send.py: \(sent)")
        XCTAssertEqual(sent.filter { $0.hasPrefix("settled message") }, (1...5).map { "settled message \($0)" }, "\(backend): db_send.py: \(sent)")
        XCTAssertEqual(try dir.run("db_recv.py", ["-a", address, "-m", "5"]).lines, (1...5).map { "inserted message \($0)" }, "\(backend): db_recv.py")
        XCTAssertEqual(try dir.run("db_ctrl.py", ["list", "dst_db"]).lines, (1...5).map { "(\($0), 'Message-\($0)')" }, "\(backend): dst_db")
        XCTAssertEqual(try dir.run("db_ctrl.py", ["list", "src_db"]).lines, [], "\(backend): db_send deleted what was settled")
    }
}

/// A copy of Proton's Python examples in a fresh directory, the hard-coded `localhost:5672`
/// replaced by the broker's address, and the runs of its scripts.
struct ExampleDirectory {
    let url: URL

    init(port: UInt16) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("proton-examples-\(getpid())-\(port)")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: ProtonExamplesTests.examples) where name.hasSuffix(".py") {
            let text = try String(contentsOfFile: ProtonExamplesTests.examples + "/" + name, encoding: .utf8)
            try text.replacingOccurrences(of: "localhost:5672", with: "127.0.0.1:\(port)")
                .write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Runs `script` to its end (killed after `timeout` seconds): its status, stdout lines, stderr.
    func run(_ script: String, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> ExampleRun.Result {
        let run = try start(script, arguments, input: input)
        return run.wait(timeout: timeout)
    }

    /// Starts `script` in the background.
    func start(_ script: String, _ arguments: [String], input: String? = nil) throws -> ExampleRun {
        try ExampleRun(executable: ProtonPython.path, arguments: [url.appendingPathComponent(script).path] + arguments, directory: url,
                       input: input)
    }
}

/// One example's process, its output collected as it runs.
final class ExampleRun {
    struct Result {
        let status: Int32
        let lines: [String]
        let stderr: String
    }

    private let process = Process()
    private let stdout = StreamedOutput(), stderr = ProtonArrow.OutputCollector()

    init(executable: String, arguments: [String], directory: URL, input: String?) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        try process.run()
        let writer = inp.fileHandleForWriting
        if let input { writer.write(Data(input.utf8)) }
        try? writer.close()
        let (o, e, so, se) = (out.fileHandleForReading, err.fileHandleForReading, stdout, stderr)
        Thread {
            while true {
                let chunk = o.availableData
                if chunk.isEmpty { break }
                so.append(chunk)
            }
            so.end()
        }.start()
        Thread { se.finish(e.readDataToEndOfFile()) }.start()
    }

    /// The complete lines printed so far.
    var lines: [String] { stdout.lines }

    /// Waits until `count` lines are out or the process ends (or `timeout` seconds pass).
    @discardableResult
    func waitForLines(_ count: Int, timeout: TimeInterval = 30) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while stdout.lines.count < count && !stdout.ended && Date() < deadline { usleep(5_000) }
        return stdout.lines
    }

    /// Waits for the end (SIGKILL after `timeout` seconds).
    func wait(timeout: TimeInterval = 60) -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let e = stderr.wait()
        process.waitUntilExit()
        while !stdout.ended { usleep(1_000) }
        return Result(status: process.terminationStatus, lines: stdout.lines, stderr: String(decoding: e, as: UTF8.self))
    }

    /// SIGINT (a KeyboardInterrupt, which the Python examples that run until stopped catch), then the end.
    func interrupt() -> Result {
        if process.isRunning { process.interrupt() }
        return wait(timeout: 10)
    }

    /// SIGTERM (the C++ examples that run until stopped just end), then the end.
    func terminate() -> Result {
        if process.isRunning { process.terminate() }
        return wait(timeout: 10)
    }
}

/// A process's stdout as it comes.
///
/// @unchecked Sendable: `data` and `isEnded` are touched only with `lock` held.
final class StreamedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var isEnded = false

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    func end() { lock.withLock { isEnded = true } }
    var ended: Bool { lock.withLock { isEnded } }

    /// The complete lines so far (and, once the output ended, a last one without its newline).
    var lines: [String] {
        let (text, done) = lock.withLock { (String(decoding: data, as: UTF8.self), isEnded) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if !done || lines.last == "" { lines.removeLast() }
        return lines
    }
}

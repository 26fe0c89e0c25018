import Foundation
import SharedFixtures
import XCTest

/// The `amqp` command as users run it: through its own broker on each backend, paired with Qpid
/// Proton C's arrow both ways in both connection modes, and failing with one line.
final class AMQPCommandTests: XCTestCase {
    private var backends: [String] { TestBackends.names }

    /// `amqp broker` on a free port for the duration of `body`; it must stop cleanly on SIGTERM.
    private func withBroker(backend: String, _ body: (UInt16) throws -> Void) throws {
        let port = ProtonArrow.freePort()
        let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
        defer { broker.terminate() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "the broker never listened")
        try body(port)
        broker.terminate()
        let (status, lines, stderr) = broker.finish()
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(lines, ["amqp broker listening on 127.0.0.1:\(port) (proactor backend: \(backend))", "amqp broker stopped"])
    }

    func testSendAndReceiveThroughTheBrokerOnEachBackend() throws {
        for backend in backends {
            try withBroker(backend: backend) { port in
                let url = "amqp://127.0.0.1:\(port)/queue-\(backend)"
                let send = try BuiltProgram("amqp", ["send", url, "--count", "3000", "--size", "200", "--backend", backend]).finish()
                XCTAssertEqual(send.status, 0, send.stderr)
                XCTAssertEqual(send.lines, ["3000 messages sent and accepted"], "piped: results only, no progress")
                let receive = try BuiltProgram("amqp", ["receive", url, "--count", "3000", "--backend", backend]).finish()
                XCTAssertEqual(receive.status, 0, receive.stderr)
                XCTAssertEqual(receive.lines, ["3000 messages received"])
            }
        }
    }

    func testSendAndReceiveThroughProtonCsBrokerExampleOnEachBackend() throws {
        let port = ProtonArrow.freePort()
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: try ProtonBrokerExample.binary())
        broker.arguments = ["127.0.0.1", "\(port)"]
        broker.standardOutput = FileHandle.nullDevice
        try broker.run()
        defer { broker.terminate() }
        XCTAssertTrue(ProtonArrow.waitForListener(port: port), "Proton's broker never listened")
        for backend in backends {
            let url = "amqp://127.0.0.1:\(port)/examples-\(backend)"
            let send = try BuiltProgram("amqp", ["send", url, "--count", "2000", "--backend", backend]).finish()
            XCTAssertEqual(send.status, 0, send.stderr)
            XCTAssertEqual(send.lines, ["2000 messages sent and accepted"])
            let receive = try BuiltProgram("amqp", ["receive", url, "--count", "2000", "--backend", backend]).finish()
            XCTAssertEqual(receive.status, 0, receive.stderr)
            XCTAssertEqual(receive.lines, ["2000 messages received"])
        }
    }

    func testProtonCClientsThroughTheBrokerOnEachBackend() throws {
        for backend in backends {
            try withBroker(backend: backend) { port in
                let sender = try ProtonArrow.Running(["connection-mode=client", "operation=send", "host=127.0.0.1", "port=\(port)",
                                                      "path=pc", "count=2000"])
                let receiver = try ProtonArrow.Running(["connection-mode=client", "operation=receive", "host=127.0.0.1", "port=\(port)",
                                                        "path=pc", "count=2000"])
                let (ss, sl) = sender.finish(), (rs, rl) = receiver.finish()
                XCTAssertEqual([ss, rs], [0, 0], backend)
                XCTAssertEqual([sl.count, rl.count], [2000, 2000], backend)
            }
        }
    }

    func testFortyConcurrentProtonCClientsOnATwoThreadBroker() throws {
        try withBroker(backend: TestBackends.names.last ?? "epoll") { port in
            var clients: [ProtonArrow.Running] = []
            for q in 0..<20 {
                for op in ["send", "receive"] {
                    clients.append(try ProtonArrow.Running(["connection-mode=client", "operation=\(op)", "host=127.0.0.1", "port=\(port)",
                                                            "path=q\(q)", "count=500", "quiet=1"]))
                }
            }
            for (i, c) in clients.enumerated() { XCTAssertEqual(c.finish().status, 0, "client \(i)") }
        }
    }

    func testProgressOnATerminalOnly() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            // Scripts/install-deps.sh installs it (bsdutils); CI must never pass by skipping.
            let why = "no /usr/bin/script to make a terminal (apt-get install bsdutils)"
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_SHARED"] == "1" { return XCTFail(why) }
            throw XCTSkip(why)
        }
        try withBroker(backend: "epoll") { port in
            let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            let command = "\(dir.path)/amqp send amqp://127.0.0.1:\(port)/tty --count 10000 --size 10 --backend epoll"   // the queue holds 10,000
            let script = Process()
            let out = Pipe()
            script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            script.arguments = ["-qec", command, "/dev/null"]   // runs it on a pseudo-terminal
            script.standardOutput = out
            try script.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            script.waitUntilExit()
            XCTAssertEqual(script.terminationStatus, 0, text)
            XCTAssertTrue(text.contains("msg/s"), "a progress line with the rate: \(text.suffix(300))")
            XCTAssertTrue(text.contains("/10000 ["), "a bar for the known count: \(text.suffix(300))")
            XCTAssertTrue(text.hasSuffix("10000 messages sent and accepted\r\n"), "\(text.suffix(120))")
        }
    }

    /// Our arrow and Proton C's, each as sender and as receiver, each as client and as server.
    func testArrowPairsWithProtonCsArrow() throws {
        for (ourMode, ourOperation) in [("server", "receive"), ("server", "send"), ("client", "receive"), ("client", "send")] {
            let port = ProtonArrow.freePort()
            let theirMode = ourMode == "server" ? "client" : "server"
            let theirOperation = ourOperation == "send" ? "receive" : "send"
            let count = 1000
            let ours: BuiltProgram, theirs: ProtonArrow.Running
            if ourMode == "server" {
                ours = try BuiltProgram("amqp", ["arrow", "connection-mode=server", "operation=\(ourOperation)", "port=\(port)",
                                                 "count=\(count)", "body-size=50"], environment: ["AMQP_BACKEND": TestBackends.names.last ?? "epoll"])
                XCTAssertTrue(ProtonArrow.waitForListener(port: port))
                theirs = try ProtonArrow.Running(["connection-mode=client", "operation=\(theirOperation)", "port=\(port)", "count=\(count)"])
            } else {
                theirs = try ProtonArrow.Running(["connection-mode=server", "operation=\(theirOperation)", "port=\(port)", "count=\(count)"])
                XCTAssertTrue(ProtonArrow.waitForListener(port: port))
                ours = try BuiltProgram("amqp", ["arrow", "connection-mode=client", "operation=\(ourOperation)", "port=\(port)",
                                                 "count=\(count)", "body-size=50"], environment: ["AMQP_BACKEND": "epoll"])
            }
            let mine = ours.finish(), (theirStatus, theirLines) = theirs.finish()
            let label = "our \(ourMode) \(ourOperation), Proton's \(theirMode) \(theirOperation)"
            XCTAssertEqual(mine.status, 0, "\(label): \(mine.stderr)")
            XCTAssertEqual(theirStatus, 0, label)
            XCTAssertEqual(mine.lines.count, count, label)
            XCTAssertEqual(theirLines.count, count, label)
            // Sending lines are "<send-ms>,0"; receiving lines "<send-ms>,<receive-ms>", both in ms since the epoch.
            let receiving = ourOperation == "receive" ? mine.lines : theirLines
            XCTAssertTrue(receiving.allSatisfy { line in
                let f = line.split(separator: ",").compactMap { Int64($0) }
                return f.count == 2 && f[0] > 1_700_000_000_000 && f[1] >= f[0]
            }, "\(label): \(receiving.prefix(3))")
        }
    }

    func testEveryFailureIsOneLineOnStderr() throws {
        let dead = ProtonArrow.freePort()
        let cases: [([String], String)] = [
            (["send", "localhost:5672"], "amqp: invalid URL 'localhost:5672': no scheme (expected amqp:// or amqps://)"),
            (["send", "amqps://127.0.0.1/q", "--tls-ca", "/nonexistent/ca.pem"],
             "amqp: invalid TLS options: cannot load the trusted certificates from /nonexistent/ca.pem: No such file or directory"),
            (["send", "amqp://127.0.0.1:\(dead)/q", "--backend", "epoll"], "amqp: proton:io: "),
            (["send", "amqp://127.0.0.1/q", "--backend", "kqueue"], "amqp: unknown backend 'kqueue' (epoll, io_uring or auto)"),
            (["receive", "amqp://127.0.0.1/q", "--count", "0"], "amqp: --count must be at least 1"),
            (["arrow", "operation=send", "count=1", "transaction-size=10"], "amqp: arrow: transactions are not supported (transaction-size must be 0)"),
            (["arrow", "operation=send", "count=1", "channel-mode=passive"], "amqp: arrow: channel-mode=passive is not supported (only active)"),
            (["arrow", "operation=send", "rate=fast", "count=1"], "amqp: arrow: rate=fast is not a number"),
            (["frobnicate"], "amqp: Unexpected argument 'frobnicate'"),
        ]
        for (arguments, expected) in cases {
            let (status, lines, stderr) = try BuiltProgram("amqp", arguments).finish()
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertEqual(lines, [], "\(arguments)")
            let errorLines = stderr.split(separator: "\n")
            XCTAssertEqual(errorLines.count, 1, "\(arguments): \(stderr)")
            XCTAssertTrue(errorLines.first?.hasPrefix(expected) == true, "\(arguments): \(stderr)")
        }
    }

    func testTraceFramesPrintsEveryFrame() throws {
        try withBroker(backend: "epoll") { port in
            let send = try BuiltProgram("amqp", ["send", "amqp://127.0.0.1:\(port)/t", "--count", "2", "--backend", "epoll"],
                                        environment: ["AMQP_TRACE_FRM": "1"]).finish()
            XCTAssertEqual(send.status, 0)
            let frames = send.stderr.split(separator: "\n")
            XCTAssertTrue(frames.contains { $0.contains("-> [0] open") || $0.contains("-> [0] transfer") || $0.contains("-> amqp header") }, send.stderr)
            XCTAssertEqual(frames.filter { $0.contains("-> [0] transfer") }.count, 2, send.stderr)
        }
    }
}

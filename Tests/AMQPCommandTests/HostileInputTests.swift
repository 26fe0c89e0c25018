import Foundation
import SharedFixtures
import XCTest

/// Hostile connections to `amqp broker` (hostile.py: random bytes, lying sizes, deep nesting, huge
/// counts, SASL garbage, storms of sessions and of links, sockets that never speak), five rounds, while Proton
/// C's arrows move messages through it: every bad connection is closed within seconds, with an AMQP
/// close where the protocol allows one; the good clients finish; the broker's memory stays bounded.
final class HostileInputTests: XCTestCase {
    func testBadConnectionsAreClosedAndEveryoneElseIsServed() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("hostile.py").path
        for backend in TestBackends.names {
            let port = ProtonArrow.freePort()
            let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend,
                                                   "--open-timeout", "1"])
            defer { broker.terminate() }
            XCTAssertTrue(ProtonArrow.waitForListener(port: port))
            let count = 20_000
            let sender = try ProtonArrow.Running(["connection-mode=client", "operation=send", "port=\(port)", "path=good",
                                                  "count=\(count)", "quiet=1"])
            let receiver = try ProtonArrow.Running(["connection-mode=client", "operation=receive", "port=\(port)", "path=good",
                                                    "count=\(count)", "quiet=1"])
            let python = Process()
            let out = Pipe()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            python.arguments = [script, "\(port)", "\(broker.process.processIdentifier)", "5"]
            python.standardOutput = out
            try python.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            let lines = text.split(separator: "\n").map(String.init)
            XCTAssertEqual(python.terminationStatus, 0, "\(backend):\n\(text)")
            XCTAssertEqual(lines.last, "ok", "\(backend):\n\(text)")
            for protocolCase in ["a lying frame size", "a frame smaller than its header", "5000 nested lists",
                                 "a list claiming 2^31 elements", "a storm of 300 sessions", "a storm of 20000 links"] {
                XCTAssertTrue(lines.contains { $0.hasPrefix(protocolCase) && $0.hasSuffix("with an AMQP close") }, "\(backend): \(protocolCase)\n\(text)")
            }
            for silent in ["a socket that never speaks", "half a protocol header"] {
                XCTAssertTrue(lines.contains { $0.hasPrefix(silent) && $0.contains("closed after 1.") }, "\(backend): \(silent)\n\(text)")
            }
            if let memory = lines.first(where: { $0.hasPrefix("broker memory:") }) {
                let kb = memory.split(separator: " ").compactMap { Int($0) }
                XCTAssertEqual(kb.count, 3, memory)
                if kb.count == 3 { XCTAssertLessThan(kb[1] - kb[0], 64 * 1024, "\(backend): the broker grew by over 64 MB: \(memory)") }
            } else {
                XCTFail("no memory line: \(text)")
            }
            let (ss, _) = sender.finish(), (rs, _) = receiver.finish()
            XCTAssertEqual([ss, rs], [0, 0], "\(backend): the good clients were served throughout")
            broker.terminate()
            XCTAssertEqual(broker.finish().status, 0)
        }
    }
}

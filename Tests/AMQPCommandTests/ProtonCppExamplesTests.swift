import Foundation
import SharedFixtures
import XCTest

/// Qpid Proton's C++ examples of the same names as the Python ones (Debian's
/// libqpid-proton11-dev-examples puts their sources in /usr/share/proton/examples/cpp;
/// libqpid-proton-cpp12-dev has the library to build them), compiled once with g++ and run
/// through `amqp broker` on each backend, their output checked line for line:
///
/// - server with client, twice: server.cpp replies through a sender it opens to each reply
///   address (a dynamic queue); when a client goes, so does its queue, and the server's sender to
///   it stays attached, so the server goes on serving the next client;
/// - colour_send, then selected_recv (`colour = 'green'`; it runs until stopped), then
///   simple_recv gets the red ones;
/// - simple_send, queue_browser (`distribution-mode copy`; runs until stopped), then simple_recv
///   gets every message the browser saw; helloworld.
final class ProtonCppExamplesTests: XCTestCase {
    func testProtonCppExamplesThroughTheBroker() throws {
        let built = try ProtonCppExamples.built()
        for backend in TestBackends.names {
            let port = ProtonArrow.freePort()
            let broker = try BuiltProgram("amqp", ["broker", "--port", "\(port)", "--threads", "2", "--backend", backend])
            defer { broker.terminate() }
            XCTAssertTrue(ProtonArrow.waitForListener(port: port), backend)
            try runExamples(built, port, backend)
            broker.terminate()
            let end = broker.finish()
            XCTAssertEqual(end.status, 0, "\(backend): \(end.stderr)")
        }
    }

    private func runExamples(_ dir: URL, _ port: UInt16, _ backend: String) throws {
        func start(_ name: String, _ arguments: [String]) throws -> ExampleRun {
            try ExampleRun(executable: dir.appendingPathComponent(name).path, arguments: arguments, directory: dir, input: nil)
        }
        func run(_ name: String, _ arguments: [String]) throws -> [String] {
            let result = try start(name, arguments).wait(timeout: 60)
            XCTAssertEqual(result.status, 0, "\(backend): \(name): \(result.stderr)")
            return result.lines
        }
        let url = "//127.0.0.1:\(port)", address = "127.0.0.1:\(port)/examples"
        let requests = ["Twas brillig, and the slithy toves", "Did gire and gymble in the wabe.",
                        "All mimsy were the borogroves,", "And the mome raths outgrabe."]

        let server = try start("server", [url, "examples"])
        XCTAssertEqual(server.waitForLines(1), ["Server connected to \(url)"], backend)
        for round in 1...2 {
            XCTAssertEqual(try run("client", ["-a", address]), requests.map { "\($0) => \($0.uppercased())" }, "\(backend): client round \(round)")
        }
        let served = server.terminate()
        XCTAssertEqual(served.lines, ["Server connected to \(url)"] + (requests + requests).map { "Received \($0)" },
                       "\(backend): server: \(served.stderr)")
        XCTAssertEqual(served.stderr, "", "\(backend): the server ran until stopped")

        XCTAssertEqual(try run("helloworld", [url, "examples"]), ["Hello World!"], "\(backend): helloworld")

        XCTAssertEqual(try run("colour_send", ["-a", address, "-m", "10"]), ["all messages confirmed"], "\(backend): colour_send")
        let selected = try start("selected_recv", [url, "examples"])
        selected.waitForLines(5)
        usleep(300_000)   // nothing else comes
        XCTAssertEqual(selected.terminate().lines, ["green 1", "green 3", "green 5", "green 7", "green 9"], "\(backend): selected_recv")
        XCTAssertEqual(try run("simple_recv", ["-a", address, "-m", "5"]), ["red 2", "red 4", "red 6", "red 8", "red 10"],
                       "\(backend): simple_recv after selected_recv")

        XCTAssertEqual(try run("simple_send", ["-a", address, "-m", "10"]), ["all messages confirmed"], "\(backend): simple_send")
        let browser = try start("queue_browser", [url, "examples"])
        browser.waitForLines(10)
        usleep(300_000)
        let sequences = (1...10).map { "{\"sequence\"=\($0)}" }
        XCTAssertEqual(browser.terminate().lines, sequences, "\(backend): queue_browser")
        XCTAssertEqual(try run("simple_recv", ["-a", address, "-m", "10"]), sequences, "\(backend): simple_recv after queue_browser")
    }
}

/// Proton's C++ examples, compiled once per test run into a temporary directory.
enum ProtonCppExamples {
    static let sources = "/usr/share/proton/examples/cpp"
    static let names = ["server", "client", "helloworld", "colour_send", "selected_recv", "simple_send", "simple_recv", "queue_browser"]

    /// The directory of the binaries; a skip when the sources, the library or g++ are missing (a
    /// failure under AMQP_REQUIRE_PROTON=1, so CI cannot pass by skipping).
    static func built() throws -> URL {
        var missing: [String] = []
        if !FileManager.default.fileExists(atPath: sources + "/client.cpp") { missing.append("\(sources) (libqpid-proton11-dev-examples)") }
        if !FileManager.default.fileExists(atPath: "/usr/include/proton/container.hpp") { missing.append("Proton C++ (libqpid-proton-cpp12-dev)") }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/g++") { missing.append("g++") }
        if !missing.isEmpty {
            let why = "Proton's C++ examples need " + missing.joined(separator: ", ")
            if ProcessInfo.processInfo.environment["AMQP_REQUIRE_PROTON"] == "1" { throw ArrowUnavailable(description: why) }
            throw XCTSkip(why)
        }
        if let failure = compiled.failure { throw ArrowUnavailable(description: failure) }
        return compiled.directory
    }

    private static let compiled: (directory: URL, failure: String?) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("proton-cpp-examples-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Two at a time: the machine is shared.
        var failure: String?
        for pair in stride(from: 0, to: names.count, by: 2).map({ Array(names[$0..<min($0 + 2, names.count)]) }) {
            let jobs = pair.map { name -> (String, Process, Pipe) in
                let gxx = Process(), err = Pipe()
                gxx.executableURL = URL(fileURLWithPath: "/usr/bin/g++")
                gxx.arguments = ["-O1", "-std=c++11", "-I" + sources, "-o", dir.appendingPathComponent(name).path,
                                 sources + "/\(name).cpp", "-lqpid-proton-cpp"]
                gxx.standardError = err
                try? gxx.run()
                return (name, gxx, err)
            }
            for (name, gxx, err) in jobs {
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                gxx.waitUntilExit()
                if gxx.terminationStatus != 0 { failure = "g++ could not build \(name).cpp: \(text)" }
            }
        }
        return (dir, failure)
    }()
}

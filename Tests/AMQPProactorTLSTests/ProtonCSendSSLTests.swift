import AMQPCodec
import AMQPEngine
import AMQPEpoll
import AMQPProactor
import AMQPProactorConformance
import AMQPProactorTLS
import AMQPSystem
import AMQPTLS
import AMQPURing
import Foundation
import SharedFixtures
import Synchronization
import XCTest

/// Proton C's own TLS client, Debian's `send-ssl.c` example (compiled here against the system's
/// libqpid-proton, which is built with OpenSSL), sending to our TLS listener on epoll and
/// io_uring: anonymously (it does not verify us), and with SASL PLAIN over TLS, verifying our
/// certificate for `localhost` against the test CA (`SSL_CERT_FILE`).
final class ProtonCSendSSLTests: XCTestCase {
    static let source = "/usr/share/proton/examples/c/send-ssl.c"
    let count = 100

    func testAnonymousOnEpoll() throws { try run(backend: "epoll", plain: false) }
    func testAnonymousOnIOURing() throws { try run(backend: "io_uring", plain: false) }
    func testPlainOverTLSOnEpoll() throws { try run(backend: "epoll", plain: true) }
    func testPlainOverTLSOnIOURing() throws { try run(backend: "io_uring", plain: true) }

    /// `send-ssl`, built once per test run; nil when it cannot be.
    static let binary: String? = {
        guard FileManager.default.fileExists(atPath: source) else { return nil }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("send-ssl-\(getpid())").path
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O1", "-o", out, source, "-lqpid-proton"]
        gcc.standardError = FileHandle.nullDevice
        guard (try? gcc.run()) != nil else { return nil }
        gcc.waitUntilExit()
        return gcc.terminationStatus == 0 ? out : nil
    }()

    func run(backend: String, plain: Bool) throws {
        guard let binary = Self.binary else {
            throw Prerequisite.missing("cannot build \(Self.source) (libqpid-proton11-dev and libqpid-proton11-dev-examples; Scripts/install-deps.sh installs them)")
        }
        let pki: ConformancePKI
        switch ConformancePKI.shared {
        case .success(let made): pki = made
        case .failure(let failure): throw Prerequisite.missing("no test certificates (the openssl command is needed): \(failure)")
        }
        let proactor: any Proactor
        if backend == "io_uring" {
            guard TestBackends.ioURingRuns else { throw Prerequisite.ioURingMissing() }
            proactor = try URingProactor()
        } else {
            proactor = try EpollProactor.epoll()
        }
        let context = try TLSContext(configuration: .server(certificateChainFile: pki.serverCertificate, privateKeyFile: pki.serverKey))
        var configuration = DriverConfiguration(containerID: "swift-server")
        if plain {
            configuration.saslServer = .plain { $0.username == "alice" && $0.password == "secret" }
        }
        let app = Receiver(count: count, context: context, configuration: configuration)
        let listener = proactor.listen(on: "127.0.0.1:0", backlog: 4)
        app.listener.withLock { $0 = listener }

        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: binary)
        let port = "\(listener.port ?? 0)"
        sender.arguments = plain ? ["localhost", port, "q", "\(count)", "alice", "secret"] : ["127.0.0.1", port, "q", "\(count)"]
        var environment = ProcessInfo.processInfo.environment
        environment["SSL_CERT_FILE"] = pki.caFile                   // Proton's default domain verifies us
        sender.environment = environment
        let output = Pipe()
        sender.standardOutput = output
        sender.standardError = output
        try sender.run()
        let finished = Atomic<Bool>(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
            if !finished.load(ordering: .acquiring) {
                app.errors.withLock { $0.append(AMQPError(condition: ErrorCondition.internalError, description: "timed out")) }
                proactor.disconnect(nil)
            }
        }
        try ProactorThreadPool.run(proactor, threads: 2) { batch in
            while let event = batch.next() { app.handle(event, batch) }
        }
        finished.store(true, ordering: .releasing)
        // Our side is done once the connection closed; send-ssl exits right after.
        let deadline = Date().addingTimeInterval(10)
        while sender.isRunning && Date() < deadline { usleep(10_000) }
        if sender.isRunning { sender.terminate() }
        sender.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

        XCTAssertEqual(sender.terminationStatus, 0, "send-ssl (\(backend)):\n\(text)")
        XCTAssertTrue(text.contains("using TLSv1.3") && text.contains("\(count) messages sent and acknowledged"), text)
        XCTAssertEqual(app.received.load(ordering: .relaxed), count, backend)
        XCTAssertEqual(app.errors.withLock { $0 }, [], backend)
        let session = app.session.withLock { $0 }
        XCTAssertEqual(session?.transport, SASLTransport(isSecure: true), backend)
        XCTAssertEqual(session?.identity, plain ? "alice" : nil, "the SASL identity (\(backend))")
        print("proton C send-ssl to our \(backend) listener\(plain ? " (PLAIN)" : ""): \(text.split(separator: "\n").joined(separator: " | "))")
    }

    /// Our listener: accepts over TLS, takes `count` messages, closes the listener once the
    /// connection is over.
    final class Receiver: Sendable {
        let count: Int
        let context: TLSContext
        let configuration: DriverConfiguration
        let received = Atomic<Int>(0)
        let errors = LockedValue<[AMQPError]>([])
        let session = LockedValue<(transport: SASLTransport, identity: String?)?>(nil)
        let listener = LockedValue<ProactorListener?>(nil)

        init(count: Int, context: TLSContext, configuration: DriverConfiguration) {
            self.count = count
            self.context = context
            self.configuration = configuration
        }

        func handle(_ event: ProactorBatchEvent, _ batch: ProactorBatch) {
            switch event {
            case .proactor(.listenerAccept(let l)):
                _ = try? l.accept(configuration: configuration, tls: context)
            case .amqp(let e):
                guard let driver = batch.driver else { return }
                switch e {
                case .connectionRemoteOpen(let c):
                    session.withLock { $0 = (driver.saslTransport, driver.authenticatedIdentity) }
                    c.open()
                case .sessionRemoteBegin(let s): s.begin()
                case .linkRemoteOpen(let l):
                    l.localTarget = l.remoteAttach?.target?.target
                    l.attach()
                    l.flow(credit: UInt32(count))
                case .delivery(let d) where !d.isPartial && !d.locallySettled:
                    received.add(1, ordering: .relaxed)
                    d.accept()
                case .linkRemoteClose(let l): l.close()
                case .sessionRemoteEnd(let s): s.end()
                case .connectionRemoteClose(let c): c.close()
                case .transportError(let error): errors.withLock { $0.append(error) }
                case .transportClosed: listener.withLock { $0?.close() }
                default: break
                }
            default:
                break
            }
        }
    }
}

import AMQPEngine
import AMQPNIO
import Foundation
import Logging
import NIOPosix
import NIOCore

/// What Integrations/NIO/test.sh prepares for the tests: the Proton peers and the certificates.
enum TestEnvironment {
    static func required(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw PeerError("\(name) is not set: run the tests with Integrations/NIO/test.sh, which builds the peers and certificates")
        }
        return value
    }

    /// The proton-c-arrow executable (built by test.sh from Benchmarks/ProtonC/proton-c-arrow.c).
    static func arrow() throws -> String { try required("AMQP_NIO_ARROW") }
    /// The folder with ca.pem, server.pem/key, client.pem/key, other-ca.pem (made by test.sh).
    static func certificates() throws -> String { try required("AMQP_NIO_CERTS") }

    /// The Proton Python peer script beside this file.
    static var peerScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("proton_peer.py").path
    }

    /// A TCP port nobody listens on right now.
    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    /// A client configuration that traces frames when AMQP_TRACE_FRM is set.
    static func configuration() -> AMQPClientConfiguration {
        var configuration = AMQPClientConfiguration(containerID: "amqp-nio-tests")
        configuration.engine.trace = ConnectionDriver.traceFromEnvironment(ProcessInfo.processInfo.environment["AMQP_TRACE_FRM"])
        return configuration
    }

    static let logger: Logger = {
        var l = Logger(label: "amqp.nio.tests")
        l.logLevel = ProcessInfo.processInfo.environment["AMQP_NIO_LOG"] == nil ? .warning : .trace
        return l
    }()

    /// Starts the Proton Python broker and waits until it listens.
    /// A free port can be taken before the peer binds it (it then exits): up to 3 ports are tried.
    static func startPythonPeer(_ arguments: [String] = []) async throws -> (Peer, Int) {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try freePort()
            let peer = try Peer("/usr/bin/python3", [peerScript, "\(port)"] + arguments, name: "proton_peer.py")
            do {
                try await peer.waitForLine(startingWith: "listening")
                return (peer, port)
            } catch {
                peer.stop()
                lastError = error
            }
        }
        throw lastError!
    }
}

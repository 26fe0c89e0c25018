// swift-tools-version:6.1
import PackageDescription

// Core modules depend on nothing outside the toolchain; see Docs/Architecture.md.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-amqp",
    products: [
        .library(name: "AMQPCodec", targets: ["AMQPCodec"]),
        .library(name: "AMQPEngine", targets: ["AMQPEngine"]),
        .library(name: "AMQPSystem", targets: ["AMQPSystem"]),
        .library(name: "AMQPEngineTesting", targets: ["AMQPEngineTesting"]),
        .library(name: "AMQPProactor", targets: ["AMQPProactor"]),
        .library(name: "AMQPEpoll", targets: ["AMQPEpoll"]),
        .library(name: "AMQPURing", targets: ["AMQPURing"]),
        .library(name: "PollPoller", targets: ["PollPoller"]),
        .library(name: "AMQPProactorConformance", targets: ["AMQPProactorConformance"]),
        .library(name: "AMQPMessaging", targets: ["AMQPMessaging"]),
        .library(name: "AMQPBroker", targets: ["AMQPBroker"]),
        .library(name: "AMQPTLS", targets: ["AMQPTLS"]),
        .library(name: "AMQPProactorTLS", targets: ["AMQPProactorTLS"]),
        .library(name: "AMQPSASL", targets: ["AMQPSASL"]),
        .library(name: "AMQPSelector", targets: ["AMQPSelector"]),
        .executable(name: "driver-loop", targets: ["DriverLoop"]),
        .executable(name: "proactor-arrow", targets: ["ProactorArrow"]),
        .executable(name: "amqp", targets: ["AMQPCommand"]),
        .executable(name: "example-broker", targets: ["ExampleBroker"]),
        .executable(name: "example-send", targets: ["ExampleSend"]),
        .executable(name: "example-receive", targets: ["ExampleReceive"]),
        .executable(name: "example-multithreaded-client", targets: ["ExampleMultithreadedClient"]),
        .executable(name: "example-flow-control-client", targets: ["ExampleFlowControlClient"]),
        .executable(name: "example-request-response", targets: ["ExampleRequestResponse"]),
    ],
    // Only the container (AMQPMessaging) uses swift-log and swift-metrics, and only the amqp command
    // swift-argument-parser; the engine and the proactor stay free of any. The DocC plugin is a
    // build tool (Scripts/docs.sh): no module links it.
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "AMQPCodec",
            swiftSettings: strict
        ),
        .target(
            name: "AMQPEngine",
            dependencies: ["AMQPCodec"],
            swiftSettings: strict
        ),
        // The NIOEmbedded of this package: drivers wired in memory, a scripted peer, a responder.
        .target(
            name: "AMQPEngineTesting",
            dependencies: ["AMQPEngine", "AMQPCodec"],
            swiftSettings: strict
        ),
        // The C declarations Glibc's module leaves out (epoll, eventfd, accept4); AMQPSystem's alone.
        .target(name: "CAMQPSystem"),
        // The one library module that calls the C library; it knows nothing of AMQP. Debug builds
        // (swift test, the sanitizer runs) compile its fault-injection hook (Mocking.swift);
        // release builds, which the benchmarks use, compile the bare calls.
        .target(
            name: "AMQPSystem",
            dependencies: ["CAMQPSystem"],
            swiftSettings: strict + [.define("ENABLE_MOCKING", .when(configuration: .debug))]
        ),
        // The proactor contract and the machinery every backend shares (Docs/Pollers.md).
        .target(
            name: "AMQPProactor",
            dependencies: ["AMQPEngine", "AMQPCodec", "AMQPSystem"],
            swiftSettings: strict
        ),
        // The epoll backend.
        .target(
            name: "AMQPEpoll",
            dependencies: ["AMQPProactor", "AMQPSystem"],
            swiftSettings: strict
        ),
        // liburing 2.3 through pkg-config, and a header for what Swift cannot reach in it.
        .systemLibrary(
            name: "CURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // The system's OpenSSL 3 through pkg-config (Debian's libssl-dev), for TLS and SCRAM only:
        // the engine, the proactor and the backends never link it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // TLS that does no IO (Docs/Security.md): ciphertext in and out around OpenSSL, for any host
        // to put between its socket and a driver. Knows nothing of AMQP; the engine knows nothing of it.
        .target(
            name: "AMQPTLS",
            dependencies: ["COpenSSL"],
            swiftSettings: strict
        ),
        // TLS on every proactor backend: AMQPTLS's session as the proactor's TransportLayer
        // (Docs/Security.md). The proactor and its backends never import AMQPTLS or OpenSSL.
        .target(
            name: "AMQPProactorTLS",
            dependencies: ["AMQPProactor", "AMQPTLS", "AMQPEngine", "AMQPCodec"],
            swiftSettings: strict
        ),
        // SCRAM-SHA-256/512 client and server, the server's SASL options and the broker's users file
        // (Docs/Authentication.md); the crypto is OpenSSL's, so the engine stays free of it.
        .target(
            name: "AMQPSASL",
            dependencies: ["AMQPEngine", "AMQPCodec", "COpenSSL"],
            swiftSettings: strict
        ),
        // The io_uring backend: a completion-based proactor (Docs/Pollers.md).
        .target(
            name: "AMQPURing",
            dependencies: ["CURing", "AMQPProactor", "AMQPEpoll", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            swiftSettings: strict
        ),
        // The conformance suite every backend must pass; a user runs it against their own poller.
        .target(
            name: "AMQPProactorConformance",
            dependencies: ["AMQPProactor", "AMQPProactorTLS", "AMQPTLS", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            swiftSettings: strict
        ),
        // The container: messaging handlers, work queues, URLs; built on the public API only.
        .target(
            name: "AMQPMessaging",
            dependencies: ["AMQPProactor", "AMQPEpoll", "AMQPURing", "AMQPEngine", "AMQPCodec", "AMQPSystem",
                           "AMQPSASL", "AMQPTLS", "AMQPProactorTLS",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strict
        ),
        // JMS message selectors (the apache.org:selector-filter:string filter) over Message (Docs/Selectors.md).
        .target(
            name: "AMQPSelector",
            dependencies: ["AMQPCodec"],
            swiftSettings: strict
        ),
        // The seeds' multithreaded broker, on the container: shared bounded queues.
        .target(
            name: "AMQPBroker",
            dependencies: ["AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem", "AMQPSelector",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The `amqp` command: broker, send, receive, a quiver arrow (Docs/Command.md).
        .executableTarget(
            name: "AMQPCommand",
            dependencies: ["AMQPMessaging", "AMQPBroker", "AMQPEngine", "AMQPCodec", "AMQPSystem", "AMQPSASL", "AMQPTLS", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Integrations/AMQPCommand",
            swiftSettings: strict
        ),
        // The container's examples (Docs/Examples.md), each run by ExamplesTests.
        .target(name: "ExampleSupport", dependencies: ["AMQPCodec"], path: "Integrations/Examples/Support", swiftSettings: strict),
        .executableTarget(
            name: "ExampleBroker",
            dependencies: ["ExampleSupport", "AMQPBroker", "AMQPMessaging", "AMQPSystem"],
            path: "Integrations/Examples/Broker",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ExampleSend",
            dependencies: ["ExampleSupport", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/Examples/Send",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ExampleReceive",
            dependencies: ["ExampleSupport", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/Examples/Receive",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ExampleMultithreadedClient",
            dependencies: ["ExampleSupport", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/Examples/MultithreadedClient",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ExampleFlowControlClient",
            dependencies: ["ExampleSupport", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/Examples/FlowControlClient",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ExampleRequestResponse",
            dependencies: ["ExampleSupport", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/Examples/RequestResponse",
            swiftSettings: strict
        ),
        // Docs/Containers.md's container in under two hundred lines, on the public API only.
        .target(
            name: "MinimalContainer",
            dependencies: ["AMQPProactor", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/MinimalContainer",
            swiftSettings: strict
        ),
        // A user's own poller on poll(2), written against the public SPI only.
        .target(
            name: "PollPoller",
            dependencies: ["AMQPProactor", "AMQPSystem"],
            path: "Integrations/PollPoller",
            swiftSettings: strict
        ),
        // A quiver-style arrow on the proactor API: interop with Proton C and the proactor benchmark.
        .executableTarget(
            name: "ProactorArrow",
            dependencies: ["AMQPProactor", "AMQPProactorTLS", "AMQPTLS", "AMQPEpoll", "AMQPURing", "PollPoller", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/ProactorArrow",
            exclude: ["interop.sh"],
            swiftSettings: strict
        ),
        // The smallest host for a ConnectionDriver: one socket, poll(2), a loop.
        .executableTarget(
            name: "DriverLoop",
            dependencies: ["AMQPEngine", "AMQPCodec", "AMQPSystem"],
            path: "Integrations/DriverLoop",
            exclude: ["interop.sh"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "CodecBenchmark",
            dependencies: ["AMQPCodec"],
            path: "Benchmarks/CodecBenchmark",
            swiftSettings: strict
        ),
        .target(name: "CMallocStats", path: "Benchmarks/CMallocStats"),
        .executableTarget(
            name: "DriverBenchmark",
            dependencies: ["AMQPEngine", "AMQPCodec", "AMQPEngineTesting", "CMallocStats"],
            path: "Benchmarks/DriverBenchmark",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ProactorIdle",
            dependencies: ["AMQPProactor", "AMQPEpoll", "AMQPEngine", "AMQPEngineTesting", "AMQPSystem", "CMallocStats"],
            path: "Benchmarks/ProactorIdle",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SelectorBenchmark",
            dependencies: ["AMQPSelector", "AMQPCodec"],
            path: "Benchmarks/SelectorBenchmark",
            swiftSettings: strict
        ),
        // libFuzzer glue shared by the fuzz targets.
        .target(
            name: "FuzzSupport",
            path: "Fuzz/FuzzSupport",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzMessageDecode",
            dependencies: ["AMQPCodec", "FuzzSupport"],
            path: "Fuzz/FuzzMessageDecode",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzConnectionDriver",
            dependencies: ["AMQPEngine", "AMQPCodec", "AMQPEngineTesting", "FuzzSupport"],
            path: "Fuzz/FuzzConnectionDriver",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzSelector",
            dependencies: ["AMQPSelector", "AMQPCodec", "FuzzSupport"],
            path: "Fuzz/FuzzSelector",
            exclude: ["corpus"],
            swiftSettings: strict
        ),
        // For every test target: the ../shared lookup, and the Proton C peers built from the checkout.
        .target(
            name: "SharedFixtures",
            path: "Tests/SharedFixtures",
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPCodecTests",
            dependencies: ["AMQPCodec", "SharedFixtures"],
            exclude: ["proton_differential.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPEngineTests",
            dependencies: ["AMQPEngine", "AMQPEngineTesting", "SharedFixtures"],
            exclude: ["proton_peer.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPProactorTests",
            dependencies: ["AMQPProactor", "AMQPProactorConformance", "AMQPEpoll", "AMQPURing", "PollPoller", "AMQPEngine", "AMQPCodec", "AMQPSystem"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPURingTests",
            dependencies: ["AMQPURing", "AMQPProactor", "AMQPProactorConformance", "AMQPSystem"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPMessagingTests",
            dependencies: ["AMQPMessaging", "AMQPProactor", "AMQPEngine", "AMQPCodec", "AMQPSystem", "AMQPSASL", "AMQPTLS", "SharedFixtures",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "InMemoryLogging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPBrokerTests",
            dependencies: ["AMQPBroker", "AMQPMessaging", "AMQPEngine", "AMQPCodec", "AMQPSystem", "AMQPSASL", "SharedFixtures",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "InMemoryLogging", package: "swift-log")],
            exclude: ["broker_peer.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MinimalContainerTests",
            dependencies: ["MinimalContainer", "AMQPEpoll", "AMQPEngine", "AMQPCodec", "AMQPSystem", "SharedFixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPCommandTests",
            dependencies: ["SharedFixtures", "AMQPSASL"],
            exclude: ["proton_zoo.py", "hostile.py", "proton_drain.py", "proton_tls.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPSASLTests",
            dependencies: ["AMQPSASL", "AMQPEngine", "AMQPEngineTesting", "AMQPCodec"],
            exclude: ["scramp_peer.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPSelectorTests",
            dependencies: ["AMQPSelector", "AMQPCodec"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPSystemTests",
            dependencies: ["AMQPSystem"],
            swiftSettings: strict
        ),
        // The TLS layer in memory, and Proton (Python, SSLDomain) as the TLS peer of our proactors.
        .testTarget(
            name: "AMQPProactorTLSTests",
            dependencies: ["AMQPProactorTLS", "AMQPProactorConformance", "AMQPProactor", "AMQPEpoll", "AMQPURing", "AMQPTLS",
                           "AMQPEngine", "AMQPCodec", "AMQPSystem", "SharedFixtures"],
            exclude: ["proton_tls_peer.py"],
            swiftSettings: strict
        ),
        // AMQPTLS itself knows no AMQP; its tests also run whole driver connections over it.
        .testTarget(
            name: "AMQPTLSTests",
            dependencies: ["AMQPTLS", "AMQPEngine", "AMQPCodec", "AMQPEngineTesting", "SharedFixtures"],
            swiftSettings: strict
        ),
    ]
)

// swift-tools-version:6.1
import PackageDescription

// The SwiftNIO host for the engine, kept in its own package so that the root package (and its
// CI build) never pulls NIO in. See Docs/NIO.md.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-amqp-nio",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "AMQPNIO", targets: ["AMQPNIO"]),
        .executable(name: "amqp-nio-example", targets: ["AMQPNIOExample"]),
    ],
    dependencies: [
        // The identity of a path dependency is its folder name, which differs per checkout: name it.
        .package(name: "swift-amqp", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "AMQPNIO",
            dependencies: [
                .product(name: "AMQPEngine", package: "swift-amqp"),
                .product(name: "AMQPCodec", package: "swift-amqp"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "AMQPNIOExample",
            dependencies: [
                "AMQPNIO",
                .product(name: "AMQPCodec", package: "swift-amqp"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPNIOTests",
            dependencies: [
                "AMQPNIO",
                .product(name: "AMQPCodec", package: "swift-amqp"),
                .product(name: "AMQPEngine", package: "swift-amqp"),
                .product(name: "AMQPEngineTesting", package: "swift-amqp"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["proton_peer.py"],
            swiftSettings: strict
        ),
    ]
)

// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "delegation",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQP", targets: ["AMQP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // C boundary: the system librabbitmq (Debian librabbitmq-dev). Only AMQP imports it.
        .systemLibrary(
            name: "CRabbitMQ",
            path: "Shared/CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Shared/AMQP"
        ),

        // The message contracts every service and the ops tool share.
        .target(name: "Messages", path: "Shared/Messages"),
        .testTarget(name: "MessagesTests", dependencies: ["Messages", "TestSupport"], path: "Tests/MessagesTests"),

        // Test support: the private broker, its control tool and a TCP proxy that can stall.
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "TestSupport"],
            path: "Tests/AMQPTests"
        ),

        // The AMQP smoke run that deploy/demo performs.
        .executableTarget(
            name: "amqp-smoke",
            dependencies: ["AMQP", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Smoke"
        ),

        // Benchmarks (release build, run by deploy/bench).
        .executableTarget(
            name: "amqp-bench",
            dependencies: [
                "AMQP",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Benchmarks/AMQPBenchmark"
        ),
    ]
)

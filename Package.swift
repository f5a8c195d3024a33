// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "delegation",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQP", targets: ["AMQP"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter would pull in gRPC for nothing.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
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

        // The system zlib (Debian zlib1g-dev), for gzip and deflate message bodies. Only
        // ServiceRuntime imports it.
        .systemLibrary(name: "CZlib", path: "Shared/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The system libqrencode (Debian libqrencode-dev), for the delegates' passes. Only QRCode
        // imports it.
        .systemLibrary(name: "CQRencode", path: "Shared/CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .target(name: "QRCode", dependencies: ["CQRencode"], path: "Shared/QRCode"),
        // The delegates' passes: signed tokens, their short codes and QR codes.
        .target(name: "Passes", dependencies: ["QRCode", .product(name: "Crypto", package: "swift-crypto")], path: "Shared/Passes"),
        .testTarget(name: "PassesTests", dependencies: ["Passes", "QRCode", "TestSupport"], path: "Tests/PassesTests"),

        // The message contracts every service and the ops tool share.
        .target(name: "Messages", dependencies: [.product(name: "Crypto", package: "swift-crypto")], path: "Shared/Messages"),
        .testTarget(name: "MessagesTests", dependencies: ["Messages", "TestSupport"], path: "Tests/MessagesTests"),

        // What every service runs on: configuration, logging, store, consumer pipeline, outbox,
        // topology, HTTP health and metrics, graceful shutdown.
        .target(
            name: "ServiceRuntime",
            dependencies: [
                "AMQP", "Messages", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Shared/ServiceRuntime"
        ),
        .testTarget(
            name: "ServiceRuntimeTests",
            dependencies: [
                "ServiceRuntime", "ServiceCatalog", "TestSupport",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/ServiceRuntimeTests"),

        // What the service executables share: the `serve` and `check-config` commands.
        .target(
            name: "ServiceCommand",
            dependencies: [
                "ServiceRuntime", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "Shared/ServiceCommand"),

        // The registrations service: a library (handlers, store, rules) and a thin executable.
        .target(
            name: "RegistrationsCore",
            dependencies: [
                "ServiceRuntime", "Messages", "AMQP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Services/Registrations/Core"
        ),
        .executableTarget(
            name: "registrations",
            dependencies: [
                "RegistrationsCore", "ServiceRuntime", "ServiceCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Registrations/Main"
        ),
        .testTarget(name: "RegistrationsTests", dependencies: ["RegistrationsCore", "TestSupport"], path: "Tests/RegistrationsTests"),

        // iCalendar (RFC 5545) writing, shared by itineraries and notifications.
        .target(name: "ICalendar", dependencies: ["Messages"], path: "Shared/ICalendar"),
        .testTarget(name: "ICalendarTests", dependencies: ["ICalendar", "TestSupport"], path: "Tests/ICalendarTests"),

        // The itinerary planning service: a pure planner, the service library, the executable.
        .target(name: "ItineraryPlanner", dependencies: ["Messages", "ICalendar"], path: "Services/Itineraries/Planner"),
        .testTarget(name: "ItineraryPlannerTests", dependencies: ["ItineraryPlanner", "TestSupport"], path: "Tests/ItineraryPlannerTests"),
        .target(
            name: "ItinerariesCore",
            dependencies: [
                "ItineraryPlanner", "ServiceRuntime", "Messages", "ICalendar",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Services/Itineraries/Core"
        ),
        .executableTarget(
            name: "itineraries",
            dependencies: [
                "ItinerariesCore", "ItineraryPlanner", "ServiceRuntime", "Messages", "ServiceCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Itineraries/Main"
        ),
        .testTarget(name: "ItinerariesTests", dependencies: ["ItinerariesCore", "TestSupport"], path: "Tests/ItinerariesTests"),

        // The notifications service: who hears what, in which language, on which channel.
        .target(
            name: "NotificationsCore",
            dependencies: [
                "ServiceRuntime", "Messages", "ICalendar", "Passes",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/Notifications/Core",
            exclude: ["Channels/README.md"]
        ),
        .executableTarget(
            name: "notifications",
            dependencies: [
                "NotificationsCore", "ServiceRuntime", "Messages", "ServiceCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Notifications/Main"
        ),
        .testTarget(
            name: "NotificationsTests", dependencies: ["NotificationsCore", "ICalendar", "Passes", "TestSupport"],
            path: "Tests/NotificationsTests"),
        // The organisers' console: a read model of the event and the organisers' actions, as
        // pages (Hummingbird, Mustache), sessions for its own accounts.
        .target(
            name: "ConsoleCore",
            dependencies: [
                "ServiceRuntime", "Messages", "AMQP", "Passes",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Services/Console/Core"
        ),
        .executableTarget(
            name: "console",
            dependencies: [
                "ConsoleCore", "ServiceRuntime", "Messages", "ServiceCommand", "ServiceCatalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Console/Main"
        ),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "ConsoleCore", "Passes", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/ConsoleTests"),
        // Every service as it declares itself (its router's types, its partition, its port), for
        // the ops tool, the deployment and the system tests.
        .target(
            name: "ServiceCatalog",
            dependencies: ["ServiceRuntime", "RegistrationsCore", "ItinerariesCore", "NotificationsCore", "ConsoleCore"],
            path: "Services/Catalog"),

        // The ops tool: a library (tested) and the `delegation-ops` executable.
        .target(
            name: "OpsCore",
            dependencies: [
                "AMQP", "Messages", "ServiceRuntime", "ServiceCatalog", "RegistrationsCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/Ops/Core"
        ),
        .executableTarget(
            name: "delegation-ops",
            dependencies: [
                "OpsCore", "AMQP", "Messages", "ServiceRuntime", "ServiceCatalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Ops/Main"
        ),
        .testTarget(
            name: "OpsTests", dependencies: ["OpsCore", "RegistrationsCore", "NotificationsCore", "ItinerariesCore", "TestSupport"],
            path: "Tests/OpsTests"),
        // The whole system as processes, under faults.
        .testTarget(
            name: "SystemTests", dependencies: ["AMQP", "Messages", "Passes", "ServiceRuntime", "ServiceCatalog", "TestSupport"],
            path: "Tests/SystemTests", exclude: ["Browser"]),
        .testTarget(
            name: "DeploymentTests", dependencies: ["ServiceRuntime", "ServiceCatalog", "TestSupport"], path: "Tests/DeploymentTests"),

        // Test support: the private broker, its control tool and a TCP proxy that can stall.
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP", "Messages", "ServiceRuntime", "ServiceCatalog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/TestSupport",
            exclude: ["Servers"]
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

        // Benchmarks (release builds, run by deploy/bench, deploy/bench-planner, deploy/bench-notifications and
        // deploy/bench-console).
        .executableTarget(
            name: "planner-bench", dependencies: ["ItineraryPlanner", "Messages"], path: "Tests/Benchmarks/PlannerBenchmark"),
        .executableTarget(
            name: "notifications-bench",
            dependencies: [
                "NotificationsCore", "ServiceRuntime", "Messages", "AMQP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Benchmarks/NotificationsBenchmark"
        ),
        .executableTarget(
            name: "console-bench",
            dependencies: [
                "ConsoleCore", "ServiceRuntime", "Messages", "Passes",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/Benchmarks/ConsoleBenchmark"
        ),
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

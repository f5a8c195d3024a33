import AMQP
import Foundation
import GRDB
import Hummingbird
import Logging
import Messages
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Everything one service process runs, assembled from its configuration and handler:
/// the store, two broker connections (publishing and consuming), the topology, the consumer
/// pipeline, the outbox relay and the HTTP server, in one `ServiceGroup`.
///
/// On SIGTERM or SIGINT the group shuts down in order: the pipeline stops consuming and finishes
/// what it holds, the relay flushes the outbox, the HTTP server stops, then the connections
/// close.
public final class ServiceHost: Sendable {
    public let configuration: ServiceConfiguration
    public let store: ServiceStore
    public let metrics: ServiceMetrics
    public let publishing: AMQPConnection
    public let consuming: AMQPConnection
    private let handler: any MessageHandler
    private let logger: Logger
    private let routes: @Sendable (Router<BasicRequestContext>, ServiceStore) -> Void
    private let extraServices: @Sendable (Context) -> [any Service]

    /// What a service's own background services (e.g. a planner) get to work with.
    public struct Context: Sendable {
        public let configuration: ServiceConfiguration
        public let store: ServiceStore
        public let metrics: ServiceMetrics
        public let logger: Logger
        /// Ring after committing outbox rows, so the relay publishes them at once.
        public let outbox: Doorbell
    }
    private let listeningPort = Mutex<Int?>(nil)
    private let group = Mutex<ServiceGroup?>(nil)

    /// Opens the store, connects (waiting for the broker up to `connectPatience` seconds) and
    /// declares the topology.
    public init(
        configuration: ServiceConfiguration, handler: any MessageHandler, logger: Logger,
        migrations: (inout DatabaseMigrator) -> Void = { _ in },
        routes: @escaping @Sendable (Router<BasicRequestContext>, ServiceStore) -> Void = { _, _ in },
        extraServices: @escaping @Sendable (Context) -> [any Service] = { _ in [] },
        connectPatience: Double = 60
    ) async throws {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.routes = routes
        self.extraServices = extraServices
        store = try ServiceStore(path: configuration.storePath, synchronous: configuration.synchronous, migrations: migrations)
        metrics = ServiceMetrics(service: configuration.serviceName)
        var publishingConfiguration = configuration.amqp
        publishingConfiguration.connectionName = "\(configuration.serviceName) publisher"
        var consumingConfiguration = configuration.amqp
        consumingConfiguration.connectionName = "\(configuration.serviceName) consumer"
        publishing = try await Self.connect(publishingConfiguration, patience: connectPatience, logger: logger)
        consuming = try await Self.connect(consumingConfiguration, patience: connectPatience, logger: logger)
        try await publishing.declare(ServiceTopology.domain(exchange: configuration.exchange, archiveMaxAge: configuration.archiveMaxAge))
        try await publishing.declare(ServiceTopology.service(
            configuration.names, consumes: handler.consumes, retryDelays: configuration.retryDelays, deliveryLimit: configuration.deliveryLimit,
            sharding: configuration.sharding))
        logger.info("topology declared", metadata: [
            "inbox": "\(configuration.names.inbox)", "consumes": "\(handler.consumes.map(\.rawValue).joined(separator: ","))",
            "shard_of": "\(configuration.sharding?.exchange ?? "-")",
        ])
    }

    /// Connects, retrying while the broker is unreachable (not on refused credentials).
    private static func connect(_ configuration: AMQPConfiguration, patience: Double, logger: Logger) async throws -> AMQPConnection {
        let deadline = Date().addingTimeInterval(patience)
        var attempt = 0
        while true {
            do {
                return try await AMQPConnection.connect(configuration, logger: logger)
            } catch let error as AMQPError where error.isTransient && Date() < deadline {
                attempt += 1
                let delay = min(5, 0.2 * Double(attempt))
                logger.warning("broker not reachable yet; retrying", metadata: ["amqp.endpoint": "\(configuration.endpoint)", "error": "\(error)", "retry_in_s": "\(delay)"])
                try await Task.sleep(for: .seconds(delay))
            }
        }
    }

    /// The HTTP port actually bound (after `run` started listening).
    public var httpPort: Int? { listeningPort.withLock { $0 } }

    /// Runs until SIGTERM/SIGINT or `shutdown()`, then shuts down gracefully.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let doorbell = Doorbell()
        let pipeline = MessagePipeline(
            configuration: configuration, store: store, handler: handler, consuming: consuming, publishing: publishing,
            doorbell: doorbell, metrics: metrics, logger: logger)
        let relay = OutboxRelay(store: store, connection: publishing, configuration: configuration, doorbell: doorbell, metrics: metrics, logger: logger)
        let http = ServiceHTTP.application(
            configuration: configuration, readiness: .init(connections: [publishing, consuming], store: store), metrics: metrics, logger: logger,
            routes: { [routes, store] router in routes(router, store) }, onListening: { [self] port in
                listeningPort.withLock { $0 = port }
                logger.info("HTTP listening", metadata: ["http.address": "\(configuration.httpHost):\(port)"])
            })
        let extras = extraServices(Context(configuration: configuration, store: store, metrics: metrics, logger: logger, outbox: doorbell))
        // Shut down in reverse: the pipeline stops first, the relay flushes last.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: http), .init(service: relay)]
                + extras.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) }
                + [.init(service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: signals,
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Duration.seconds(configuration.shutdownTimeout)
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        group.withLock { $0 = serviceGroup }
        defer { group.withLock { $0 = nil } }
        do {
            try await serviceGroup.run()
        } catch {
            await publishing.close()
            await consuming.close()
            throw error
        }
        await consuming.close()
        await publishing.close()
        logger.info("stopped")
    }

    /// Triggers the same graceful shutdown as SIGTERM.
    public func shutdown() async {
        guard let serviceGroup = group.withLock({ $0 }) else { return }
        await serviceGroup.triggerGracefulShutdown()
    }
}

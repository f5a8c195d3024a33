import AMQP
import Foundation
import GRDB
import Hummingbird
import Logging
import Messages
import ServiceLifecycle
import Synchronization
import Tracing
import UnixSignals

/// Everything one service process runs, assembled from its configuration and its routes:
/// the store, two broker connections (publishing and consuming), the topology, the consumer
/// pipeline, the outbox relay and the HTTP server, in one `ServiceGroup`.
///
/// `init` opens the store only. `run` connects (waiting for the broker up to `connectPatience`
/// seconds, through its temporary states: unreachable, restarting, a queue's home node still
/// down), declares the topology, and runs the group. On SIGTERM or SIGINT the group shuts down
/// in order: the pipeline stops consuming and finishes what it holds, the relay flushes the
/// outbox, the HTTP server stops, then the connections close. Whatever `run` opened is closed on
/// every path out of it.
public final class ServiceHost: Sendable {
    public let configuration: ServiceConfiguration
    public let store: ServiceStore
    public let metrics: ServiceMetrics
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let routes: @Sendable (ServiceRoutes, ServiceStore) -> Void
    private let extraServices: @Sendable (Context) -> [any Service]
    private let connectPatience: Double
    private let tracer: any Tracer
    private let pipelineStatus = PipelineStatus()
    private let started = StartSignal()

    /// What a service's own background services (e.g. a planner) get to work with.
    public struct Context: Sendable {
        public let configuration: ServiceConfiguration
        public let store: ServiceStore
        public let metrics: ServiceMetrics
        public let logger: Logger
        /// Ring after committing outbox rows, so the relay publishes them at once.
        public let outbox: Doorbell
        /// Rung by the pipeline after each commit that applied messages: wait on it (or on a
        /// timer for the next due item) for new work.
        public let changes: ChangeSignal
        /// Spans of the work they do (a plan, a delivery), in the trace of what caused it
        /// (`MessageMetadata.trace`).
        public let tracer: any Tracer

        public init(
            configuration: ServiceConfiguration, store: ServiceStore, metrics: ServiceMetrics, logger: Logger,
            outbox: Doorbell = Doorbell(),
            changes: ChangeSignal = ChangeSignal(), tracer: any Tracer = InstrumentationSystem.tracer
        ) {
            self.configuration = configuration
            self.store = store
            self.metrics = metrics
            self.logger = logger
            self.outbox = outbox
            self.changes = changes
            self.tracer = tracer
        }
    }
    private let listeningPort = Mutex<Int?>(nil)
    private let group = Mutex<ServiceGroup?>(nil)

    /// Opens (and migrates) the store; `run` does the rest.
    public init(
        configuration: ServiceConfiguration, dispatcher: Dispatcher, logger: Logger,
        migrations: (inout DatabaseMigrator) -> Void = { _ in },
        routes: @escaping @Sendable (ServiceRoutes, ServiceStore) -> Void = { _, _ in },
        extraServices: @escaping @Sendable (Context) -> [any Service] = { _ in [] },
        connectPatience: Double = 60, tracer: any Tracer = InstrumentationSystem.tracer
    ) async throws {
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.logger = logger
        self.routes = routes
        self.extraServices = extraServices
        self.connectPatience = connectPatience
        self.tracer = tracer
        store = try ServiceStore(path: configuration.storePath, synchronous: configuration.synchronous, migrations: migrations)
        metrics = ServiceMetrics(service: configuration.serviceName)
    }

    /// The HTTP port actually bound (after `run` started listening).
    public var httpPort: Int? { listeningPort.withLock { $0 } }

    /// Returns once `run` has connected and declared the topology (messages published from then
    /// on reach the inbox), or throws what stopped it.
    public func waitUntilStarted() async throws { try await started.wait() }

    /// Connects, declares, and runs until SIGTERM/SIGINT or `shutdown()`, then shuts down
    /// gracefully.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let publishing: AMQPConnection
        let consuming: AMQPConnection
        do {
            try await refuseOpenAccess()
            (publishing, consuming) = try await connectAndDeclare()
        } catch {
            started.fail(error)
            throw error
        }
        do {
            try await runGroup(publishing: publishing, consuming: consuming, signals: signals)
        } catch {
            await publishing.close()
            await consuming.close()
            throw error
        }
        await consuming.close()
        await publishing.close()
        logger.info("stopped")
    }

    /// Outside loopback, the HTTP side must ask for tokens: before the first one is created,
    /// stop before listening (exit 78) rather than serve personal data to whoever reaches the
    /// address.
    private func refuseOpenAccess() async throws {
        guard !isLoopback(configuration.httpHost) else { return }
        guard try await store.database.read({ db in try APITokens.enforced(in: db) }) else {
            throw ConfigurationError(problems: [
                """
                HTTP would listen on \(configuration.httpHost), beyond loopback, without API tokens: create one first \
                (`\(configuration.kind) tokens create --name NAME --scope read`) or listen on 127.0.0.1
                """
            ])
        }
    }

    private func runGroup(publishing: AMQPConnection, consuming: AMQPConnection, signals: [UnixSignal]) async throws {
        let doorbell = Doorbell()
        let changes = ChangeSignal()
        let pipeline = MessagePipeline(
            configuration: configuration, store: store, dispatcher: dispatcher, consuming: consuming, publishing: publishing,
            doorbell: doorbell, changes: changes, metrics: metrics, status: pipelineStatus, logger: logger, tracer: tracer)
        let relay = OutboxRelay(
            store: store, connection: publishing, configuration: configuration, doorbell: doorbell, metrics: metrics, logger: logger,
            tracer: tracer)
        let http = try ServiceHTTP.application(
            configuration: configuration, readiness: .init(connections: [publishing, consuming], store: store, pipeline: pipelineStatus),
            store: store, metrics: metrics, logger: logger, outbox: doorbell,
            routes: { [routes, store] router in routes(router, store) },
            onListening: { [self] port in
                listeningPort.withLock { $0 = port }
                logger.info("HTTP listening", metadata: ["http.address": "\(configuration.httpHost):\(port)"])
            })
        let extras = extraServices(
            Context(
                configuration: configuration, store: store, metrics: metrics, logger: logger, outbox: doorbell, changes: changes,
                tracer: tracer))
        // Shut down in reverse: the pipeline stops first, the relay flushes last.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: http), .init(service: relay)]
                + extras.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) }
                + [
                    .init(
                        service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                ],
            gracefulShutdownSignals: signals,
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Duration.seconds(configuration.shutdownTimeout)
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        group.withLock { $0 = serviceGroup }
        defer { group.withLock { $0 = nil } }
        started.succeed()
        try await serviceGroup.run()
    }

    /// Triggers the same graceful shutdown as SIGTERM.
    public func shutdown() async {
        guard let serviceGroup = group.withLock({ $0 }) else { return }
        await serviceGroup.triggerGracefulShutdown()
    }

    // MARK: Starting

    /// The two connections, with the topology declared; both closed again if anything fails.
    private func connectAndDeclare() async throws -> (publishing: AMQPConnection, consuming: AMQPConnection) {
        let deadline = Date().addingTimeInterval(connectPatience)
        var publishingConfiguration = configuration.amqp
        publishingConfiguration.connectionName = "\(configuration.serviceName) publisher"
        var consumingConfiguration = configuration.amqp
        consumingConfiguration.connectionName = "\(configuration.serviceName) consumer"
        let publishing = try await whileBrokerSettles(until: deadline, "connecting") {
            try await AMQPConnection.connect(publishingConfiguration, logger: self.logger)
        }
        do {
            let consuming = try await whileBrokerSettles(until: deadline, "connecting") {
                try await AMQPConnection.connect(consumingConfiguration, logger: self.logger)
            }
            do {
                try await whileBrokerSettles(until: deadline, "declaring the topology") { try await self.declareTopology(on: publishing) }
                return (publishing, consuming)
            } catch {
                await consuming.close()
                throw error
            }
        } catch {
            await publishing.close()
            throw error
        }
    }

    private func declareTopology(on connection: AMQPConnection) async throws {
        try await connection.declare(ServiceTopology.domain(exchange: configuration.exchange, archiveMaxAge: configuration.archiveMaxAge))
        for binding in ServiceTopology.retiredBindings(exchange: configuration.exchange) { try await connection.unbind(binding) }
        try await connection.declare(
            ServiceTopology.service(
                configuration.names, consumes: dispatcher.consumes, retryDelays: configuration.retryDelays,
                deliveryLimit: configuration.deliveryLimit,
                sharding: configuration.sharding))
        logger.info(
            "topology declared",
            metadata: [
                "inbox": "\(configuration.names.inbox)", "consumes": "\(dispatcher.consumes.map(\.rawValue).joined(separator: ","))",
                "shard_of": "\(configuration.sharding?.exchange ?? "-")",
            ])
    }

    /// Runs `operation`, again while it fails for a reason the broker may get over by itself
    /// (`ServiceHost.isTemporary`), until `deadline`.
    private func whileBrokerSettles<T: Sendable>(until deadline: Date, _ doing: String, _ operation: () async throws -> T) async throws -> T
    {
        var attempt = 0
        while true {
            do {
                return try await operation()
            } catch let error as AMQPError where Self.isTemporary(error) && Date() < deadline {
                attempt += 1
                let delay = min(5, 0.2 * Double(attempt))
                logger.warning(
                    "broker not ready yet; retrying",
                    metadata: [
                        "doing": "\(doing)", "amqp.endpoint": "\(configuration.amqp.endpoint)", "error": "\(error)",
                        "retry_in_s": "\(delay)",
                    ])
                try await Task.sleep(for: .seconds(delay))
            }
        }
    }

    /// The broker's temporary states at start: unreachable or restarting (transient connection
    /// errors), a queue whose home node is still down or recovering (`NOT_FOUND` on a declare,
    /// which creates whatever does not exist), an internal error.
    static func isTemporary(_ error: AMQPError) -> Bool {
        if error.isTransient { return true }
        switch error {
        case .channelClosedByBroker(let code, _): return code == .notFound || code == .internalError
        case .connectionClosedByBroker(let code, _): return code == .internalError || code == .connectionForced
        default: return false
        }
    }
}

/// Tells waiters once `run` has started (or failed to).
private final class StartSignal: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Void, any Error>])
        case started
        case failed(any Error)
    }

    private let state = Mutex(State.waiting([]))

    func succeed() { settle(.started) }
    func fail(_ error: any Error) { settle(.failed(error)) }

    private func settle(_ outcome: State) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = outcome
            return waiters
        }
        for waiter in waiters {
            if case .failed(let error) = outcome { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let settled = state.withLock { state -> Result<Void, any Error>? in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                case .started: return .success(())
                case .failed(let error): return .failure(error)
                }
            }
            if let settled { continuation.resume(with: settled) }
        }
    }
}

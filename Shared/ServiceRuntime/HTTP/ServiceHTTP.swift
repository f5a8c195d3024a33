import AMQP
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Messages
import NIOCore

/// The service's HTTP side: `/health/live`, `/health/ready`, `/metrics`, plus the service's own
/// read-only routes, behind API tokens with scopes (`APITokens`) and, optionally, TLS.
public enum ServiceHTTP {
    /// What readiness checks: both broker connections open, the store file takes a committed
    /// write, and the pipeline is not paused.
    public struct Readiness: Sendable {
        let connections: [AMQPConnection]
        let store: ServiceStore
        let pipeline: PipelineStatus?
        let storeProbe: StoreProbeCache

        public init(connections: [AMQPConnection], store: ServiceStore, pipeline: PipelineStatus? = nil) {
            self.connections = connections
            self.store = store
            self.pipeline = pipeline
            storeProbe = StoreProbeCache(store: store)
        }

        func check() async -> (ready: Bool, checks: [String: String]) {
            var checks: [String: String] = [:]
            for connection in connections {
                checks["broker.\(connection.configuration.connectionName)"] = "\(connection.status)"
            }
            let brokerReady = connections.allSatisfy { $0.status == .open }
            let storeProblem = await storeProbe.problem()
            checks["store"] = storeProblem.map { "cannot commit: \($0)" } ?? "writable"
            var pipelineReady = true
            switch pipeline?.current {
            case .paused(let reason)?:
                checks["pipeline"] = "paused: the store cannot commit (\(reason))"
                pipelineReady = false
            case .consuming?:
                checks["pipeline"] = "consuming"
            case .starting?:
                checks["pipeline"] = "starting"
            case nil:
                break
            }
            return (brokerReady && storeProblem == nil && pipelineReady, checks)
        }
    }

    /// Builds the application; `routes` adds the service's own endpoints, each in the group of
    /// the scope it needs. `/health/*` answers anyone; `/metrics` needs a token (any scope) once
    /// tokens are in force. `onListening` gets the bound port (useful with port 0).
    public static func application(
        configuration: ServiceConfiguration, readiness: Readiness, store: ServiceStore, metrics: ServiceMetrics, logger: Logger,
        outbox: Doorbell = Doorbell(), routes: (ServiceRoutes) -> Void = { _ in },
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.get("/health/live") { _, _ in
            try json(["status": "live", "service": configuration.serviceName])
        }
        router.get("/health/ready") { _, _ in
            let (ready, checks) = await readiness.check()
            var body = checks
            body["status"] = ready ? "ready" : "not ready"
            return try json(body, status: ready ? .ok : .serviceUnavailable)
        }
        let guarded = router.group().add(middleware: TokenAuthenticator(store: store, metrics: metrics))
        func scoped(_ scope: AccessScope) -> RouterGroup<ServiceRequestContext> {
            guarded.group().add(middleware: ScopeMiddleware(scope: scope, store: store, metrics: metrics, logger: logger))
        }
        let read = scoped(.read)
        read.get("/metrics") { _, _ in
            // What only a look at the store and the connections tells, fresh for each scrape.
            metrics.ready(await readiness.check().ready)
            if let backlog = try? await store.database.read({ db in try Outbox.backlog(in: db) }) {
                metrics.outbox(backlog: backlog.count, oldestAge: backlog.oldest.map { Date().timeIntervalSince($0) } ?? 0)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        routes(
            ServiceRoutes(
                read: read, personalData: scoped(.personalData), admin: scoped(.admin), ownAccess: router.group(), outbox: outbox))
        // A connection that sends nothing for a minute is closed: clients that open connections
        // and idle cannot hold them without end (a scrape every 15 s keeps its own open).
        let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(60))
        let server: HTTPServerBuilder =
            try configuration.httpTLS.map { try .tls(.http1(configuration: http1), tlsConfiguration: $0.configuration()) }
            ?? .http1(configuration: http1)
        return Application(
            router: router, server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: configuration.serviceName),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// A JSON response, written as message bodies are (`MessageCoding`: ISO-8601 times in UTC).
    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try MessageCoding.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KiB).
    public static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let name = parts.first?.removingPercentEncoding else { continue }
            fields[name] = (parts.count > 1 ? parts[1] : "").removingPercentEncoding ?? ""
        }
        return fields
    }
}

/// The store's write probe for readiness, taken at most once a second however often readiness
/// is asked, and once for callers asking together: `/health/ready` answers anyone, and each
/// probe is a committed write through the writer the pipeline's commits need.
actor StoreProbeCache {
    let store: ServiceStore
    let freshFor: Duration
    private var last: (at: ContinuousClock.Instant, problem: String?)?
    private var running: Task<String?, Never>?
    /// Probes written (for tests).
    private(set) var taken = 0

    init(store: ServiceStore, freshFor: Duration = .seconds(1)) {
        self.store = store
        self.freshFor = freshFor
    }

    /// nil if the store took a committed write within `freshFor`, else why not.
    func problem() async -> String? {
        if let last, ContinuousClock.now - last.at < freshFor { return last.problem }
        if let running { return await running.value }
        let store = store
        let probe = Task { await store.probeWrite() }
        running = probe
        taken += 1
        let problem = await probe.value
        last = (ContinuousClock.now, problem)
        running = nil
        return problem
    }
}

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

        public init(connections: [AMQPConnection], store: ServiceStore, pipeline: PipelineStatus? = nil) {
            self.connections = connections
            self.store = store
            self.pipeline = pipeline
        }

        func check() async -> (ready: Bool, checks: [String: String]) {
            var checks: [String: String] = [:]
            for connection in connections {
                checks["broker.\(connection.configuration.connectionName)"] = "\(connection.status)"
            }
            let brokerReady = connections.allSatisfy { $0.status == .open }
            let storeProblem = await store.probeWrite()
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
        let server: HTTPServerBuilder =
            try configuration.httpTLS.map { try .tls(.http1(), tlsConfiguration: $0.configuration()) } ?? .http1()
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

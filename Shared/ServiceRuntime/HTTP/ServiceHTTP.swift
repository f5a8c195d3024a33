import AMQP
import Foundation
import Hummingbird
import Logging
import Messages
import NIOCore

/// The service's HTTP side: `/health/live`, `/health/ready`, `/metrics`, plus the service's own
/// read-only routes.
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

    /// Builds the application; `routes` adds the service's own endpoints. `onListening` gets the
    /// bound port (useful with port 0).
    public static func application(
        configuration: ServiceConfiguration, readiness: Readiness, metrics: ServiceMetrics, logger: Logger,
        routes: @Sendable (Router<BasicRequestContext>) -> Void = { _ in },
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/health/live") { _, _ in
            try json(["status": "live", "service": configuration.serviceName])
        }
        router.get("/health/ready") { _, _ in
            let (ready, checks) = await readiness.check()
            var body = checks
            body["status"] = ready ? "ready" : "not ready"
            return try json(body, status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        routes(router)
        return Application(
            router: router,
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
}

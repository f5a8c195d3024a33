import Logging
import OTel
import ServiceLifecycle
import ServiceRuntime
import Tracing

/// Exports the service's spans over OTLP/HTTP while it runs (`TracingSettings`).
enum SpanExport {
    /// Makes the process's tracer an OTLP exporter, runs `body`, then flushes what is still
    /// batched before returning.
    static func around(_ settings: TracingSettings, logger: Logger, _ body: () async throws -> Void) async throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        // The last flush, after the service's own shutdown (up to `<P>_SHUTDOWN_TIMEOUT`), stays
        // inside the units' TimeoutStopSec (45 s) even with the collector down.
        configuration.traces.batchSpanProcessor.exportTimeout = .seconds(10)
        configuration.traces.otlpExporter.endpoint = settings.endpoint
        configuration.traces.otlpExporter.protocol = settings.wireProtocol == .json ? .httpJSON : .httpProtobuf
        configuration.traces.otlpExporter.headers = settings.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let backend = try asConfigurationProblem { try OTel.makeTracingBackend(configuration: configuration) }
        InstrumentationSystem.bootstrap(backend.factory)
        // No signals: the service's own group takes SIGTERM; this one stops after it, flushing.
        let exporter = ServiceGroup(services: [backend.service], logger: logger)
        logger.info(
            "exporting spans", metadata: ["otlp.endpoint": "\(settings.endpoint)", "otlp.protocol": "\(settings.wireProtocol.rawValue)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await exporter.run() }
            do {
                try await body()
            } catch {
                await exporter.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
            await exporter.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    private static func asConfigurationProblem<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw ConfigurationError(problems: ["traces: \(error)"])
        }
    }
}

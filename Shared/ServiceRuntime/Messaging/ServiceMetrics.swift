import Prometheus

/// The service's Prometheus metrics, served at `/metrics`.
///
/// - `messages_consumed_total{service,type,outcome}`: outcome `handled`, `duplicate`, `retried`,
///   `dead_lettered`, `already_parked`, `requeued`, `returned` (given back while the store cannot
///   commit)
/// - `messages_published_total{service,type}`: outbox messages confirmed by the broker
/// - `messages_retried_total{service,type}`, `messages_dead_lettered_total{service,type,reason}`
/// - `handler_duration_seconds{service,type}`: time in the handler, per message
/// - `outbox_backlog{service}`: rows waiting to be published, and `outbox_oldest_age_seconds`:
///   how long the oldest of them has waited (0 when none); both read from the store at each scrape
/// - `inbox_lag_seconds{service}`: from publish to commit, for the last message consumed (how far
///   behind its queue the service is)
/// - `service_ready{service}`: 1 when `/health/ready` would answer 200, checked at each scrape
/// - `pipeline_paused{service}`: 1 while consuming is paused because the store cannot commit
/// - `http_requests_total{service,status}`: HTTP responses by status
/// - `http_requests_refused_total{service,reason}`: requests refused for want of a valid token
///   (`unauthorized`, 401) or of its scope (`forbidden`, 403)
public final class ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let service: String
    private let backlog: Gauge
    private let pausedGauge: Gauge
    private let oldestOutbox: Gauge
    private let inboxLag: Gauge
    private let readyGauge: Gauge

    public init(service: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.service = service
        backlog = registry.makeGauge(
            name: "outbox_backlog", labels: [("service", service)], help: "Outbox rows not yet confirmed by the broker")
        pausedGauge = registry.makeGauge(
            name: "pipeline_paused", labels: [("service", service)], help: "1 while consuming is paused: the store cannot commit")
        oldestOutbox = registry.makeGauge(
            name: "outbox_oldest_age_seconds", labels: [("service", service)], help: "Age of the oldest outbox row not yet confirmed")
        inboxLag = registry.makeGauge(
            name: "inbox_lag_seconds", labels: [("service", service)], help: "From publish to commit, for the last message consumed")
        readyGauge = registry.makeGauge(
            name: "service_ready", labels: [("service", service)], help: "1 when /health/ready answers 200 (checked at each scrape)")
    }

    public func consumed(_ type: String, outcome: String) {
        registry.makeCounter(
            name: "messages_consumed_total", labels: [("service", service), ("type", type), ("outcome", outcome)],
            help: "Messages taken from the inbox, by outcome"
        ).increment()
    }

    public func published(_ type: String, count: Int = 1) {
        registry.makeCounter(
            name: "messages_published_total", labels: [("service", service), ("type", type)],
            help: "Messages published from the outbox and confirmed"
        ).increment(by: Int64(count))
    }

    public func retried(_ type: String) {
        registry.makeCounter(
            name: "messages_retried_total", labels: [("service", service), ("type", type)],
            help: "Messages sent to a delay queue for another attempt"
        ).increment()
    }

    public func deadLettered(_ type: String, reason: String) {
        registry.makeCounter(
            name: "messages_dead_lettered_total", labels: [("service", service), ("type", type), ("reason", reason)],
            help: "Messages parked in the dead-letter queue"
        ).increment()
    }

    public func handlerDuration(_ type: String, _ duration: Duration) {
        registry.makeDurationHistogram(
            name: "handler_duration_seconds", labels: [("service", service), ("type", type)],
            buckets: [
                .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
                .milliseconds(100), .milliseconds(500), .seconds(1),
            ],
            help: "Time spent in the handler per message"
        ).recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    public func httpRequest(status: Int) {
        registry.makeCounter(
            name: "http_requests_total", labels: [("service", service), ("status", "\(status)")], help: "HTTP responses, by status"
        ).increment()
    }

    func refused(_ reason: AccessRefusal.Kind) {
        registry.makeCounter(
            name: "http_requests_refused_total", labels: [("service", service), ("reason", reason.rawValue)],
            help: "HTTP requests refused: no valid token (unauthorized) or not its scope (forbidden)"
        ).increment()
    }

    func outbox(backlog rows: Int, oldestAge: Double) {
        backlog.set(Double(rows))
        oldestOutbox.set(oldestAge)
    }

    func inboxLag(_ seconds: Double) { inboxLag.set(max(0, seconds)) }

    func ready(_ ready: Bool) { readyGauge.set(ready ? 1.0 : 0.0) }

    public func paused(_ paused: Bool) { pausedGauge.set(paused ? 1.0 : 0.0) }

    /// The exposition text.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

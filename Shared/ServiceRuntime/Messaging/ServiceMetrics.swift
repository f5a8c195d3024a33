import Prometheus

/// The service's Prometheus metrics, served at `/metrics`.
///
/// - `messages_consumed_total{service,type,outcome}`: outcome `handled`, `duplicate`, `retried`,
///   `dead_lettered`, `already_parked`, `requeued`, `returned` (given back while the store cannot
///   commit)
/// - `messages_published_total{service,type}`: outbox messages confirmed by the broker
/// - `messages_refused_total{service,type}`: outbox messages the broker refused (no permission
///   for their routing key), each held a minute and tried again while the others go on
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
            descriptor: .metric("outbox_backlog", help: "Outbox rows not yet confirmed by the broker"), labels: [("service", service)])
        pausedGauge = registry.makeGauge(
            descriptor: .metric("pipeline_paused", help: "1 while consuming is paused: the store cannot commit"),
            labels: [("service", service)])
        oldestOutbox = registry.makeGauge(
            descriptor: .metric("outbox_oldest_age_seconds", help: "Age of the oldest outbox row not yet confirmed"),
            labels: [("service", service)])
        inboxLag = registry.makeGauge(
            descriptor: .metric("inbox_lag_seconds", help: "From publish to commit, for the last message consumed"),
            labels: [("service", service)])
        readyGauge = registry.makeGauge(
            descriptor: .metric("service_ready", help: "1 when /health/ready answers 200 (checked at each scrape)"),
            labels: [("service", service)])
    }

    public func consumed(_ type: String, outcome: String) {
        registry.makeCounter(
            descriptor: .metric("messages_consumed_total", help: "Messages taken from the inbox, by outcome"),
            labels: [("service", service), ("type", type), ("outcome", outcome)]
        ).increment()
    }

    public func published(_ type: String, count: Int = 1) {
        registry.makeCounter(
            descriptor: .metric("messages_published_total", help: "Messages published from the outbox and confirmed"),
            labels: [("service", service), ("type", type)]
        ).increment(by: Int64(count))
    }

    func refused(_ type: String) {
        registry.makeCounter(
            descriptor: .metric("messages_refused_total", help: "Outbox messages the broker refused, held and tried again later"),
            labels: [("service", service), ("type", type)]
        ).increment()
    }

    public func retried(_ type: String) {
        registry.makeCounter(
            descriptor: .metric("messages_retried_total", help: "Messages sent to a delay queue for another attempt"),
            labels: [("service", service), ("type", type)]
        ).increment()
    }

    public func deadLettered(_ type: String, reason: String) {
        registry.makeCounter(
            descriptor: .metric("messages_dead_lettered_total", help: "Messages parked in the dead-letter queue"),
            labels: [("service", service), ("type", type), ("reason", reason)]
        ).increment()
    }

    public func handlerDuration(_ type: String, _ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: .metric("handler_duration_seconds", help: "Time spent in the handler per message"),
            labels: [("service", service), ("type", type)],
            buckets: [
                .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
                .milliseconds(100), .milliseconds(500), .seconds(1),
            ]
        ).recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    public func httpRequest(status: Int) {
        registry.makeCounter(
            descriptor: .metric("http_requests_total", help: "HTTP responses, by status"),
            labels: [("service", service), ("status", "\(status)")]
        ).increment()
    }

    func refused(_ reason: AccessRefusal.Kind) {
        registry.makeCounter(
            descriptor: .metric(
                "http_requests_refused_total", help: "HTTP requests refused: no valid token (unauthorized) or not its scope (forbidden)"),
            labels: [("service", service), ("reason", reason.rawValue)]
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

extension MetricNameDescriptor {
    /// A metric named in full (`notification_send_seconds`), split as the registry wants it: the
    /// unit is the last word when it is one Prometheus names (`total`, `seconds`), else there is
    /// none. The name served is the one given.
    public static func metric(_ name: String, help: String) -> MetricNameDescriptor {
        for unit in ["total", "seconds"] where name.hasSuffix("_\(unit)") {
            return MetricNameDescriptor(metricName: String(name.dropLast(unit.count + 1)), unitName: unit, helpText: help)
        }
        return MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

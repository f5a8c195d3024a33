import AMQP
import Foundation
import Logging

/// The settings every service shares, read from the environment with a prefix per service
/// (`REGISTRATIONS_…`) and a few shared names (`AMQP_URL`, `LOG_LEVEL`).
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `AMQP_URL` / `<P>_AMQP_URL` | `amqp://guest:guest@127.0.0.1:5672/` | broker (the service's own user in production) |
/// | `<P>_STORE_PATH` | `./<service>.sqlite` | the service's SQLite file |
/// | `<P>_STORE_SYNCHRONOUS` | `full` | `full` (fsync every commit) or `normal` |
/// | `<P>_HTTP_HOST` / `<P>_HTTP_PORT` | `127.0.0.1` / per service | health, metrics, read API (another address than loopback needs an API token) |
/// | `<P>_HTTP_TLS_CERTIFICATE` / `<P>_HTTP_TLS_KEY` | (none: plain HTTP) | PEM files: serve HTTPS |
/// | `<P>_PREFETCH` | 64 | deliveries in flight |
/// | `<P>_BATCH_SIZE` | 32 | deliveries handled in one transaction at most |
/// | `<P>_RETRY_DELAYS` | `1,5,30,120` | seconds before each retry; attempts = count + 1 |
/// | `<P>_DELIVERY_LIMIT` | 5 | redeliveries before the broker dead-letters (crash loops) |
/// | `<P>_SHUTDOWN_TIMEOUT` | 20 | seconds to finish in-flight work on SIGTERM |
/// | `EXCHANGE` | `delegation` | the domain topic exchange |
/// | `ARCHIVE_MAX_AGE` | `30D` | retention of the archive stream |
/// | `LOG_LEVEL` / `LOG_FORMAT` | `info` / `json` | `trace`…`critical`; `json` or `text` |
/// | `<P>_NAME` | the service | instance name: prefixes its queues (`<name>.inbox`…), e.g. for shards |
/// | `<P>_SHARDED` | `false` | `true`: this instance is one shard (see below) |
/// | `<P>_FAULT` | none | testing only: `crash-after-commit:N` kills the process (SIGKILL) after its N-th commit, before the acks |
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` | (none: no spans exported) | OTLP/HTTP collector (see `TracingSettings`) |
///
/// With `<P>_SHARDED=true`, the `<exchange>.<service>.shards` consistent-hash exchange gives the instance its
/// share of the partition keys.
public struct ServiceConfiguration: Sendable {
    public enum Synchronous: String, Sendable { case full, normal }
    public enum LogFormat: String, Sendable { case json, text }

    /// The instance's name (`<P>_NAME`): its queues and connections are named after it.
    public var serviceName: String
    /// The service it is an instance of: messages it emits get ids derived from this, so that
    /// whichever shard handles a message emits the same ids.
    public var kind: String
    /// Set when this instance is one shard of several.
    public var sharding: ServiceTopology.Sharding?
    public var amqp: AMQPConfiguration
    public var exchange: String
    public var archiveMaxAge: String
    public var storePath: String
    public var synchronous: Synchronous
    public var httpHost: String
    public var httpPort: Int
    /// Certificate and key for HTTPS; nil serves plain HTTP.
    public var httpTLS: HTTPTLS?
    public var prefetch: Int
    public var batchSize: Int
    public var retryDelays: [Double]
    public var deliveryLimit: Int
    public var shutdownTimeout: Double
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Testing only: crash (SIGKILL) after this many commits, before acking.
    public var crashAfterCommit: Int?
    /// Where spans go; nil exports none (the trace context still passes through).
    public var tracing: TracingSettings?

    /// The environment prefix, e.g. `REGISTRATIONS`.
    public static func prefix(for service: String) -> String { service.uppercased().replacingOccurrences(of: "-", with: "_") }

    public init(
        serviceName: String, kind: String? = nil, sharding: ServiceTopology.Sharding? = nil, amqp: AMQPConfiguration,
        exchange: String = "delegation", archiveMaxAge: String = "30D",
        storePath: String, synchronous: Synchronous = .full, httpHost: String = "127.0.0.1", httpPort: Int = 0,
        httpTLS: HTTPTLS? = nil, prefetch: Int = 64, batchSize: Int = 32, retryDelays: [Double] = [1, 5, 30, 120], deliveryLimit: Int = 5,
        shutdownTimeout: Double = 20, logLevel: Logger.Level = .info, logFormat: LogFormat = .json, crashAfterCommit: Int? = nil,
        tracing: TracingSettings? = nil
    ) {
        self.serviceName = serviceName
        self.kind = kind ?? serviceName
        self.sharding = sharding
        self.amqp = amqp
        self.exchange = exchange
        self.archiveMaxAge = archiveMaxAge
        self.storePath = storePath
        self.synchronous = synchronous
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.httpTLS = httpTLS
        self.prefetch = prefetch
        self.batchSize = batchSize
        self.retryDelays = retryDelays
        self.deliveryLimit = deliveryLimit
        self.shutdownTimeout = shutdownTimeout
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.crashAfterCommit = crashAfterCommit
        self.tracing = tracing
    }

    /// Reads the shared settings of `description`'s service; `reader` keeps collecting problems
    /// for the service's own.
    public static func read(_ description: ServiceDescription, from reader: inout EnvironmentReader) -> ServiceConfiguration {
        let service = description.name
        let defaultHTTPPort = description.defaultHTTPPort
        let p = prefix(for: service)
        let url = reader.optionalString("\(p)_AMQP_URL") ?? reader.string("AMQP_URL", default: "amqp://guest:guest@127.0.0.1:5672/")
        var amqp = AMQPConfiguration()
        do {
            amqp = try AMQPConfiguration(url: url)
        } catch {
            reader.problem("\(p)_AMQP_URL / AMQP_URL: \(error)")
        }
        amqp.connectionName = service
        amqp.heartbeat = reader.integer("\(p)_AMQP_HEARTBEAT", default: amqp.heartbeat, in: 0...3600)
        let level = reader.string("LOG_LEVEL", default: "info").lowercased()
        let logLevel = Logger.Level(rawValue: level)
        if logLevel == nil { reader.problem("LOG_LEVEL='\(level)' must be one of trace, debug, info, notice, warning, error, critical") }
        var crashAfterCommit: Int?
        if let fault = reader.optionalString("\(p)_FAULT") {
            if fault.hasPrefix("crash-after-commit:"), let n = Int(fault.dropFirst("crash-after-commit:".count)), n > 0 {
                crashAfterCommit = n
            } else {
                reader.problem("\(p)_FAULT='\(fault)' must be crash-after-commit:N")
            }
        }
        let name = reader.string("\(p)_NAME", default: service)
        amqp.connectionName = name
        let exchange = reader.string("EXCHANGE", default: "delegation")
        var sharding: ServiceTopology.Sharding?
        if reader.boolean("\(p)_SHARDED", default: false) {
            sharding = description.sharding(exchange: exchange)
        }
        let certificate = reader.optionalString("\(p)_HTTP_TLS_CERTIFICATE")
        let key = reader.optionalString("\(p)_HTTP_TLS_KEY")
        var httpTLS: HTTPTLS?
        switch (certificate, key) {
        case (let certificate?, let key?):
            httpTLS = HTTPTLS(certificatePath: certificate, keyPath: key)
            if let problem = httpTLS?.problem { reader.problem("\(p)_HTTP_TLS_CERTIFICATE / _KEY: \(problem)") }
        case (nil, nil):
            break
        default:
            reader.problem("\(p)_HTTP_TLS_CERTIFICATE and \(p)_HTTP_TLS_KEY go together")
        }
        return ServiceConfiguration(
            serviceName: name, kind: service, sharding: sharding,
            amqp: amqp,
            exchange: exchange,
            archiveMaxAge: reader.string("ARCHIVE_MAX_AGE", default: "30D"),
            storePath: reader.string("\(p)_STORE_PATH", default: "./\(service).sqlite"),
            synchronous: reader.choice("\(p)_STORE_SYNCHRONOUS", default: .full, from: [Synchronous.full, .normal]),
            httpHost: reader.string("\(p)_HTTP_HOST", default: "127.0.0.1"),
            httpPort: reader.integer("\(p)_HTTP_PORT", default: defaultHTTPPort, in: 0...65535),
            httpTLS: httpTLS,
            prefetch: reader.integer("\(p)_PREFETCH", default: 64, in: 1...10_000),
            batchSize: reader.integer("\(p)_BATCH_SIZE", default: 32, in: 1...1_000),
            retryDelays: reader.secondsList("\(p)_RETRY_DELAYS", default: [1, 5, 30, 120]),
            deliveryLimit: reader.integer("\(p)_DELIVERY_LIMIT", default: 5, in: 1...1_000),
            shutdownTimeout: reader.seconds("\(p)_SHUTDOWN_TIMEOUT", default: 20, in: 1...3600),
            logLevel: logLevel ?? .info,
            logFormat: reader.choice("LOG_FORMAT", default: .json, from: [LogFormat.json, .text]),
            crashAfterCommit: crashAfterCommit,
            tracing: TracingSettings.read(serviceName: name, from: &reader)
        )
    }

    /// Queue and exchange names of this service.
    public var names: ServiceNames { ServiceNames(service: serviceName, exchange: exchange) }
}

/// The broker objects a service owns, named after it.
public struct ServiceNames: Sendable, Hashable {
    public let service: String
    public let exchange: String

    public init(service: String, exchange: String = "delegation") {
        self.service = service
        self.exchange = exchange
    }

    /// The quorum inbox the service consumes.
    public var inbox: String { "\(service).inbox" }
    /// Fanout exchange for failed messages, and the parking-lot queue behind it.
    public var deadLetterExchange: String { "\(service).dead-letter" }
    public var deadLetterQueue: String { "\(service).dead-letters" }
    /// Delay queue for retry `attempt` (1-based).
    public func retryQueue(_ attempt: Int) -> String { "\(service).retry.\(attempt)" }
    /// The stream every domain message is archived in.
    public var archive: String { "\(exchange).archive" }
    /// Where messages of a type no service knows end up: an exchange, and the queue behind it
    /// (named apart, so that reading it, which only ops may, is a permission of its own).
    public var unroutedExchange: String { "\(exchange).unrouted" }
    public var unroutedQueue: String { "\(exchange).unrouted.messages" }
    /// The exchange that tells known types from unknown ones, and the sink for the known.
    public var typeCheck: String { "\(exchange).type-check" }
    public var knownTypes: String { "\(exchange).known-types" }
}

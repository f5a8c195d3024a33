import Foundation

/// Whether a service exports spans, and where: OpenTelemetry's own variables, which the OTLP
/// exporter (swift-otel) reads as well; only what is checked here is listed.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | none | the collector's traces URL (`http://127.0.0.1:4318/v1/traces`) |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | none | the collector's base URL (`/v1/traces` is appended) |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` / `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `http/protobuf` | or `http/json` (gRPC is not built in) |
/// | `OTEL_SERVICE_NAME` | the instance name | the `service.name` of its spans |
/// | `OTEL_EXPORTER_OTLP_HEADERS` | none | `name=value,…` (values percent-encoded): a collector's credentials; a secret (`_FILE` works) |
/// | `OTEL_SDK_DISABLED` / `OTEL_TRACES_EXPORTER` | `false` / `otlp` | `true` / `none` export nothing |
///
/// Others the exporter reads: `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER` (default: parent-based, always on),
/// `OTEL_BSP_SCHEDULE_DELAY` (export batches every 5 s by default), `OTEL_BSP_EXPORT_TIMEOUT`
/// (10 s here: the last flush at shutdown stays inside the units' stop timeout),
/// `OTEL_RESOURCE_ATTRIBUTES`. Without an endpoint nothing is exported, and the trace context
/// of each message still passes through the service unchanged.
public struct TracingSettings: Sendable, Equatable {
    public enum WireProtocol: String, Sendable { case protobuf = "http/protobuf", json = "http/json" }

    /// The traces URL, as the exporter resolves it.
    public var endpoint: String
    public var wireProtocol: WireProtocol
    public var serviceName: String
    /// Sent with every export (credentials: never printed).
    public var headers: [String: String]

    public init(endpoint: String, wireProtocol: WireProtocol = .protobuf, serviceName: String, headers: [String: String] = [:]) {
        self.endpoint = endpoint
        self.wireProtocol = wireProtocol
        self.serviceName = serviceName
        self.headers = headers
    }

    /// nil when no endpoint is set or tracing is switched off.
    static func read(serviceName: String, from reader: inout EnvironmentReader) -> TracingSettings? {
        let exporter = reader.string("OTEL_TRACES_EXPORTER", default: "otlp").lowercased()
        if !["otlp", "none"].contains(exporter) { reader.problem("OTEL_TRACES_EXPORTER='\(exporter)' must be otlp or none") }
        let disabled = reader.boolean("OTEL_SDK_DISABLED", default: false) || exporter == "none"
        let endpoint: String
        if let traces = reader.optionalString("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            endpoint = traces
        } else if let base = reader.optionalString("OTEL_EXPORTER_OTLP_ENDPOINT") {
            endpoint = base.hasSuffix("/") ? base + "v1/traces" : base + "/v1/traces"
        } else {
            return nil
        }
        if !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) || URL(string: endpoint)?.host == nil {
            reader.problem("OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT='\(endpoint)' must be an http:// or https:// URL")
        }
        let name = reader.optionalString("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? reader.optionalString("OTEL_EXPORTER_OTLP_PROTOCOL")
        let wireProtocol = WireProtocol(rawValue: name ?? WireProtocol.protobuf.rawValue)
        if wireProtocol == nil {
            reader.problem("OTEL_EXPORTER_OTLP_PROTOCOL='\(name ?? "")' must be http/protobuf or http/json (gRPC is not built in)")
        }
        var headers: [String: String] = [:]
        for pair in (reader.optionalString("OTEL_EXPORTER_OTLP_HEADERS") ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard parts.count == 2, !name.isEmpty, let value = parts[1].trimmingCharacters(in: .whitespaces).removingPercentEncoding else {
                reader.problem("OTEL_EXPORTER_OTLP_HEADERS must be name=value pairs separated by commas (values percent-encoded)")
                break
            }
            headers[name] = value
        }
        guard !disabled else { return nil }
        return TracingSettings(
            endpoint: endpoint, wireProtocol: wireProtocol ?? .protobuf,
            serviceName: reader.string("OTEL_SERVICE_NAME", default: serviceName), headers: headers)
    }
}

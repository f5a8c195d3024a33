import AMQP
import Foundation
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// One registration is one trace across the running system: an integration publishes it with a
/// W3C `traceparent`, and every service exports their spans (OTLP/HTTP, JSON) to a small
/// receiver. Every span of the registration's path (consumed, handled, committed, published,
/// planned, rendered, sent by SMTP) carries the integration's trace id, and the first one is a
/// child of the integration's span.
@Suite(.serialized) struct TracingTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let integrationSpan = "00f067aa0ba902b7"

    @Test func oneRegistrationIsOneTraceAcrossTheThreeServices() async throws {
        let receiver = try await WebhookTestServer(answer: "{}")
        defer { receiver.stop() }
        try await RunningSystem.inVirtualHost("tracing") { system, smtp, publisher, _ in
            let exporting = [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            ]
            for service in SystemServices.all { try system.start(service.name, extra: exporting) }
            let programme = try OutgoingMessage.domain(Samples.programme(), exchange: "delegation", appID: "tracing-test")
            try await publisher.publish(
                programme.body, exchange: "delegation", routingKey: programme.routingKey, properties: programme.properties, mandatory: true)
            var submission = try OutgoingMessage.domain(
                Samples.submission(reference: "traced"), exchange: "delegation", messageID: "traced-1", appID: "tracing-test")
            submission.properties.headers["traceparent"] = .string("00-\(Self.traceID)-\(Self.integrationSpan)-01")
            try await publisher.publish(
                submission.body, exchange: "delegation", routingKey: submission.routingKey, properties: submission.properties,
                mandatory: true)

            let expected: Set<String> = [
                "registrations: registration.submitted process", "registrations: handle", "registrations: commit",
                "registrations: registration.accepted publish",
                "itineraries: registration.accepted process", "itineraries: plan", "itineraries: itinerary.planned publish",
                "notifications: itinerary.planned process", "notifications: deliver itinerary-planned", "notifications: render",
                "notifications: send email", "notifications: notification.delivered publish", "notifications: deliver accepted",
                // The console reads the same messages into its pages, in the same trace.
                "console: registration.accepted process", "console: itinerary.planned process",
            ]
            var spans: [ExportedSpan] = []
            let complete = await eventually(within: 90) {
                spans = receiver.calls.flatMap { ExportedSpan.all(in: $0.body) }
                let traced = spans.filter { $0.traceID == Self.traceID }
                let names = Set(traced.map { "\($0.service): \($0.name)" })
                // A child span ends (and is exported) before its parent: wait for the parents too.
                let ids = Set(traced.map(\.spanID)).union([Self.integrationSpan])
                return expected.isSubset(of: names) && traced.allSatisfy { ids.contains($0.parentSpanID ?? "") }
            }
            let traced = spans.filter { $0.traceID == Self.traceID }
            #expect(
                complete,
                "missing: \(expected.subtracting(traced.map { "\($0.service): \($0.name)" }).sorted()); \(spans.count) spans received")
            #expect(Set(traced.map(\.service)) == Set(SystemServices.all.map(\.name)))
            let first = traced.first { $0.service == "registrations" && $0.name == "registration.submitted process" }
            #expect(first?.parentSpanID == Self.integrationSpan, "a child of the integration's span")
            // Each span's parent is in the trace (or is the integration's): no hop starts afresh.
            let ids = Set(traced.map(\.spanID)).union([Self.integrationSpan])
            #expect(traced.filter { !ids.contains($0.parentSpanID ?? "") }.map(\.name) == [])
            // The e-mail went out, and no span carries the person's data.
            #expect(!smtp.messages.isEmpty)
            let bodies = receiver.calls.map(\.body).joined()
            #expect(!bodies.contains("@example"), "no e-mail address in any span")
            // SIGTERM: the service stops, then flushes what its exporter still holds, and exits 0.
            for service in SystemServices.all { #expect(await system.stop(service.name) == 0, "\(service.name)") }
        }
    }
}

/// A span as an OTLP/JSON export request carries it: trace and span ids as hex (OTLP/JSON), or
/// base64 (the protobuf JSON mapping), read either way.
struct ExportedSpan {
    var service: String
    var name: String
    var traceID: String
    var spanID: String
    var parentSpanID: String?

    static func all(in body: String) -> [ExportedSpan] {
        guard let request = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return [] }
        var spans: [ExportedSpan] = []
        for resource in request["resourceSpans"] as? [[String: Any]] ?? [] {
            let attributes = (resource["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
            let service = attributes.first { $0["key"] as? String == "service.name" }
            let name = (service?["value"] as? [String: Any])?["stringValue"] as? String ?? "?"
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    spans.append(
                        ExportedSpan(
                            service: name, name: span["name"] as? String ?? "?", traceID: hex(span["traceId"]),
                            spanID: hex(span["spanId"]), parentSpanID: (span["parentSpanId"] as? String).map { hex($0) }))
                }
            }
        }
        return spans
    }

    private static func hex(_ value: Any?) -> String {
        guard let text = value as? String else { return "" }
        if text.count % 2 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        return Data(base64Encoded: text).map { $0.map { String(format: "%02x", $0) }.joined() } ?? text
    }
}

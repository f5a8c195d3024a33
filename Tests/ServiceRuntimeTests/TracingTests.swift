import AMQP
import Foundation
import InMemoryTracing
import Messages
import ServiceRuntime
import TestSupport
import Testing
import Tracing

/// The W3C trace context: what is accepted from a header, and how the settings read.
@Suite struct TraceContextTests {
    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func onlyAWellFormedTraceparentIsKept() {
        #expect(TraceContext(traceparent: Self.parent)?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        let refused = [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", "<script>-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ]
        for value in refused { #expect(TraceContext(traceparent: value) == nil, "\(value)") }
        // A later version may add fields.
        #expect(TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later") != nil)
        #expect(TraceContext(traceparent: Self.parent, tracestate: String(repeating: "a", count: 513))?.tracestate == nil)
    }

    @Test func theContextTravelsInHeaders() throws {
        let context = try #require(TraceContext(traceparent: Self.parent, tracestate: "vendor=1"))
        var headers: AMQPTable = ["schema-version": "1.2"]
        context.write(into: &headers)
        #expect(TraceContext(headers: headers) == context)
        #expect(TraceContext(headers: ["traceparent": .int64(7)]) == nil)
    }

    @Test func spansAreExportedOnlyWithAnEndpoint() throws {
        func read(_ values: [String: String]) -> (TracingSettings?, [String]) {
            var reader = EnvironmentReader(values)
            let settings = ServiceConfiguration.read(
                ServiceDescription(name: "itineraries", consumes: [], partition: .event, defaultHTTPPort: 0), from: &reader
            ).tracing
            return (settings, reader.problems)
        }
        #expect(read([:]).0 == nil)
        let base = read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"])
        #expect(base.0 == TracingSettings(endpoint: "http://127.0.0.1:4318/v1/traces", serviceName: "itineraries"))
        let own = read([
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example:4318/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_SERVICE_NAME": "itineraries-eu", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
        ])
        #expect(
            own.0 == TracingSettings(endpoint: "https://collector.example:4318/traces", wireProtocol: .json, serviceName: "itineraries-eu"))
        let folder = try TemporaryFolder()
        let secret = folder.url.appendingPathComponent("headers")
        try Data("authorization=Bearer%20s3cret, x-tenant = delegation\n".utf8).write(to: secret)
        let credentials = read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS_FILE": secret.path])
        #expect(credentials.0?.headers == ["authorization": "Bearer s3cret", "x-tenant": "delegation"])
        #expect(read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_EXPORTER_OTLP_HEADERS": "no-value"]).1.count == 1)
        #expect(read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"]).0 == nil)
        #expect(read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"]).0 == nil)
        #expect(
            read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]).1.contains {
                $0.contains("gRPC is not built in")
            })
        #expect(read(["OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"]).1.contains { $0.contains("must be an http:// or https:// URL") })
        #expect(read(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "zipkin"]).1.count == 1)
    }
}

/// The runtime's spans against the real broker, with a tracer that propagates W3C headers: a
/// delivery is a child of its sender's span, and what its handler emits goes out in its trace.
@Suite struct PipelineTracingTests {
    @Test func aHandledMessageIsOneTraceFromDeliveryToWhatItEmits() async throws {
        let tracer = W3CTracer()
        let log = LogCapture()
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        try await PipelineTests.withHost(tracer: tracer, logger: log.logger) { bed, _ in
            try await bed.publish(
                Samples.submission(reference: "traced"), messageID: "traced",
                headers: ["schema-version": "1.2", "traceparent": .string("00-\(traceID)-00f067aa0ba902b7-01")])
            try await bed.publish(Samples.submission(reference: "untraced"), messageID: "untraced")
            #expect(await bed.waitFor(RegistrationRejected.self, count: 2).count == 2)
            let spans = try #require(
                await eventually(within: 10) { tracer.finished.count >= 8 } ? tracer.finished : nil, "\(tracer.finished.map(\.name))")
            let process = try #require(spans.first { $0.name == "registration.submitted process" && $0.trace == traceID })
            #expect(process.parent == "00f067aa0ba902b7")
            #expect(process.kind == .consumer)
            #expect(process.attributes["messaging.message.id"]?.toSpanAttribute() == "traced")
            let handle = try #require(spans.first { $0.name == "handle" && $0.parent == process.id })
            #expect(spans.contains { $0.name == "commit" && $0.parent == process.id })
            let publish = try #require(spans.first { $0.name == "registration.rejected publish" && $0.parent == handle.id })
            #expect(publish.trace == traceID)
            // The emitted message carries the publishing span's context.
            let emitted = bed.deliveries(ofType: .registrationRejected).compactMap { TraceContext(headers: $0.headers) }
            #expect(emitted.contains { $0.traceparent == "00-\(traceID)-\(publish.id)-01" })
            // A message published without a context starts a trace of its own.
            let untraced = try #require(spans.first { $0.name == "registration.submitted process" && $0.trace != traceID })
            #expect(untraced.parent == nil)
            #expect(emitted.contains { $0.traceID == untraced.trace })
            // A parked message's log line names its trace, for on-call to look it up.
            let failing = "5bf92f3577b34da6a3ce929d0e0e4737"
            try await bed.publish(
                Samples.submission(reference: "permanent"), messageID: "parked",
                headers: ["schema-version": "1.2", "traceparent": .string("00-\(failing)-00f067aa0ba902b7-01")])
            #expect(try await PipelineTests.waitForDeadLetters(bed, count: 1).count == 1)
            // (The pipeline logs its batch's outcomes once they are settled: the line may come a
            // moment after the message reached the dead-letter queue.)
            let logged = await eventually(within: 10) { log.all.contains { $0.message == "message parked in the dead-letter queue" } }
            let parked = log.all.first { $0.message == "message parked in the dead-letter queue" }
            #expect(logged && parked?.metadata["trace.id"] == failing)
        }
    }
}

/// `InMemoryTracer` with W3C propagation (`traceparent`), random ids of the W3C lengths.
final class W3CTracer: Tracer {
    let inner = InMemoryTracer(
        idGenerator: .init(
            nextTraceID: { String((0..<32).map { _ in "0123456789abcdef".randomElement() ?? "0" }) },
            nextSpanID: { String((0..<16).map { _ in "0123456789abcdef".randomElement() ?? "0" }) }))

    struct Finished {
        var name: String
        var trace: String
        var id: String
        var parent: String?
        var kind: SpanKind
        var attributes: SpanAttributes
    }

    var finished: [Finished] {
        inner.finishedSpans.map {
            Finished(
                name: $0.operationName, trace: $0.spanContext.traceID, id: $0.spanContext.spanID, parent: $0.spanContext.parentSpanID,
                kind: $0.kind, attributes: $0.attributes)
        }
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> InMemorySpan {
        inner.startSpan(operationName, context: context(), ofKind: kind, at: instant(), function: function, file: fileID, line: line)
    }

    func forceFlush() { inner.forceFlush() }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject("00-\(span.traceID)-\(span.spanID)-01", forKey: "traceparent", into: &carrier)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier) else { return }
        let fields = parent.split(separator: "-")
        guard fields.count == 4 else { return }
        context.inMemorySpanContext = InMemorySpanContext(traceID: String(fields[1]), spanID: String(fields[2]), parentSpanID: nil)
    }
}

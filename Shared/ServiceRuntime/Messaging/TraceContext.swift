import AMQP
import Foundation
import Tracing

/// The W3C trace context of a message (`traceparent`, `tracestate`): read from its AMQP
/// headers, kept with what it causes (outbox rows, work a service does later, such as a plan
/// or a notification) and written into the headers of what is published after, so that one
/// registration is one trace across the services.
///
/// A service that traces nothing passes the context on unchanged, so a trace survives a hop
/// through it.
public struct TraceContext: Sendable, Hashable, Codable {
    public var traceparent: String
    public var tracestate: String?

    static let parentHeader = "traceparent"
    static let stateHeader = "tracestate"

    /// nil unless `traceparent` has the W3C form (`00-<32 hex>-<16 hex>-<2 hex>`, later versions
    /// may append fields); a `tracestate` over 512 characters is dropped, as the standard allows.
    public init?(traceparent: String, tracestate: String? = nil) {
        guard Self.isWellFormed(traceparent) else { return nil }
        self.traceparent = traceparent
        self.tracestate = tracestate.flatMap { $0.isEmpty || $0.utf8.count > 512 ? nil : $0 }
    }

    /// A message's context, from its headers; nil when it carries none (or a malformed one).
    public init?(headers: AMQPTable) {
        guard let parent = headers[Self.parentHeader]?.stringValue else { return nil }
        self.init(traceparent: parent, tracestate: headers[Self.stateHeader]?.stringValue)
    }

    /// The context of a span (`span.context`), as the tracer propagates it; nil when the tracer
    /// records nothing (tracing off).
    public init?(_ context: ServiceContext, tracer: any Tracer) {
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: DictionaryInjector())
        guard let parent = carrier[Self.parentHeader] else { return nil }
        self.init(traceparent: parent, tracestate: carrier[Self.stateHeader])
    }

    /// A parent for spans started under it.
    public func serviceContext(tracer: any Tracer) -> ServiceContext {
        var context = ServiceContext.topLevel
        var carrier = [Self.parentHeader: traceparent]
        if let tracestate { carrier[Self.stateHeader] = tracestate }
        tracer.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    /// Writes the context into message headers.
    public func write(into headers: inout AMQPTable) {
        headers[Self.parentHeader] = .string(traceparent)
        headers[Self.stateHeader] = tracestate.map { .string($0) }
    }

    /// The trace id (the second field of `traceparent`).
    public var traceID: Substring { traceparent.split(separator: "-").dropFirst().first ?? "" }

    private static func isWellFormed(_ parent: String) -> Bool {
        let fields = parent.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 4, parent.utf8.count <= 256 else { return false }
        let lengths = [2, 32, 16, 2]
        for (field, length) in zip(fields, lengths) where field.utf8.count != length || !field.utf8.allSatisfy(\.isHexDigit) {
            return false
        }
        // Version ff is forbidden; all-zero trace and span ids are invalid.
        return fields[0] != "ff" && fields[1].contains { $0 != "0" } && fields[2].contains { $0 != "0" }
            && (fields[0] != "00" || fields.count == 4)
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool { (48...57).contains(self) || (97...102).contains(self) }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

extension Tracer {
    /// A span of the runtime's messaging work: `messaging.*` attributes (ids, never bodies).
    func startMessagingSpan(
        _ name: String, parent: ServiceContext, kind: SpanKind, operation: String, destination: String, messageID: String?,
        correlationID: String?
    ) -> Span {
        let span = startSpan(name, context: parent, ofKind: kind)
        span.attributes["messaging.system"] = "rabbitmq"
        span.attributes["messaging.operation.type"] = operation
        span.attributes["messaging.destination.name"] = destination
        if let messageID { span.attributes["messaging.message.id"] = messageID }
        if let correlationID { span.attributes["messaging.message.conversation_id"] = correlationID }
        return span
    }
}

import AMQP
import Foundation
import Messages
import ServiceRuntime

/// Re-sends archived messages to one service, to rebuild what it lost or missed.
///
/// Every domain message is kept in the archive stream (`<exchange>.archive`). A replay reads
/// it from `since`, keeps the messages published up to `until` whose type matches `types` and
/// that the service consumes, and publishes each, with its original message id and
/// properties, to that service's inbox only (through the default exchange), with confirms.
/// Services drop a message id they have seen, so a replay never doubles an effect; a service
/// whose store was lost applies everything again, in the original order.
public enum Replay {
    public struct Options: Sendable {
        public var since: Date
        public var until: Date?
        /// A shell pattern on the type (`registration.*`); nil: every type the service consumes.
        public var types: String?
        public var dryRun = false
        /// The stream has no end: the replay stops once nothing has arrived for this long.
        public var idle: Double = 2

        public init(since: Date, until: Date? = nil, types: String? = nil, dryRun: Bool = false, idle: Double = 2) {
            self.since = since
            self.until = until
            self.types = types
            self.dryRun = dryRun
            self.idle = idle
        }
    }

    public struct Summary: Sendable, Equatable, Codable {
        /// Messages read from the archive in the time range.
        public var read = 0
        /// Of those, sent to the service (or that would be, with `dryRun`).
        public var replayed = 0
        /// Per type, what was replayed.
        public var byType: [String: Int] = [:]
    }

    public static func run(
        to service: ServiceDescription, exchange: String, options: Options, connection configuration: AMQPConfiguration,
        progress: @Sendable (Summary) -> Void = { _ in }
    ) async throws -> Summary {
        let names = service.names(exchange: exchange)
        let consumed = Set(service.consumes.map(\.rawValue))
        let pattern = options.types.map(Glob.init)
        return try await withConnection(configuration, name: "delegation-ops replay (read)") { reader in
            try await withConnection(configuration, name: "delegation-ops replay (write)") { writer in
                guard try await reader.queueExists(names.archive) else {
                    throw OpsError.notFound("the archive stream \(names.archive) does not exist; run `delegation-ops topology apply`")
                }
                if !options.dryRun, try await !writer.queueExists(names.inbox) {
                    throw OpsError.notFound("\(names.inbox) does not exist: start \(service.name) once, or run `delegation-ops topology apply`")
                }
                // Streams deliver from the chunk holding `since`; earlier messages are skipped below.
                let consumer = try await reader.consume(queue: names.archive, prefetch: 500, arguments: ["x-stream-offset": .timestamp(options.since)])
                var summary = Summary()
                var iterator = consumer.makeAsyncIterator()
                while let delivery = try await next(&iterator, within: options.idle) {
                    delivery.ack()
                    let published = delivery.properties.timestamp
                    if let published, published < options.since.addingTimeInterval(-1) { continue }
                    if let until = options.until, let published, published > until { break }
                    summary.read += 1
                    let type = delivery.properties.type ?? delivery.routingKey
                    guard consumed.contains(type), pattern?.matches(type) ?? true else { continue }
                    if !options.dryRun {
                        var properties = delivery.properties
                        properties.headers = delivery.properties.headers.merging(["x-replayed-at": .timestamp(Date())])
                        try await writer.publish(delivery.body, exchange: "", routingKey: names.inbox, properties: properties, mandatory: true)
                    }
                    summary.replayed += 1
                    summary.byType[type, default: 0] += 1
                    if summary.replayed % 100 == 0 { progress(summary) }
                }
                await consumer.cancel()
                progress(summary)
                return summary
            }
        }
    }

    /// The next delivery, or nil when none comes within `seconds`.
    private static func next(_ iterator: inout AsyncThrowingStream<Delivery, any Error>.AsyncIterator, within seconds: Double) async throws -> Delivery? {
        let box = IteratorBox(iterator)
        defer { iterator = box.iterator }
        return try await withThrowingTaskGroup(of: Delivery?.self) { group in
            group.addTask { try await box.next() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// Lets one pending `next()` race a timer. The stream's iterator is only ever advanced by one
/// task at a time.
private final class IteratorBox: @unchecked Sendable {
    var iterator: AsyncThrowingStream<Delivery, any Error>.AsyncIterator
    init(_ iterator: AsyncThrowingStream<Delivery, any Error>.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> Delivery? { try await iterator.next() }
}

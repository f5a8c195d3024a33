import AMQP
import Foundation
import Messages
import ServiceCatalog
import ServiceRuntime

/// Re-sends archived messages to one service, to rebuild what it lost or missed.
///
/// Every domain message is kept in the archive stream (`<exchange>.archive`). A replay reads
/// it from `since`, keeps the messages published up to `until` whose type matches `types` and
/// that the service consumes (or takes from replays only: `ServiceDescription.replayed`), and publishes each, with its original message id and
/// properties, to that service's inbox only (through the default exchange), with confirms.
/// Services drop a message id they have seen, so a replay never doubles an effect; a service
/// whose store was lost applies everything again, in the original order. Each copy carries the
/// archived message's publish time as `x-received-at`, so that a rebuilt registrations store
/// judges deadlines as the original did (as far as the publisher's clock can be trusted).
///
/// With `shards` (re-sharding a service that runs as N shards, docs/operations.md), each message
/// goes through the service's consistent-hash exchange instead, so that every shard gets the
/// keys it owns now, and the messages every shard takes (the programme, for notifications) go
/// to each shard's inbox.
public enum Replay {
    public struct Options: Sendable {
        public var since: Date
        public var until: Date?
        /// A shell pattern on the type (`registration.*`); nil: every type the service consumes.
        public var types: String?
        public var dryRun = false
        /// The stream has no end: the replay stops once nothing has arrived for this long.
        public var idle: Double = 2
        /// The service runs as this many shards (`<service>-1`…): replay through its shards
        /// exchange.
        public var shards: Int?

        public init(since: Date, until: Date? = nil, types: String? = nil, dryRun: Bool = false, idle: Double = 2, shards: Int? = nil) {
            self.since = since
            self.until = until
            self.types = types
            self.dryRun = dryRun
            self.idle = idle
            self.shards = shards
        }
    }

    public struct Summary: Sendable, Equatable, Codable {
        /// Messages read from the archive in the time range.
        public var read = 0
        /// Of those, sent to the service (or that would be, with `dryRun`).
        public var replayed = 0
        /// Per type, what was replayed.
        public var byType: [String: Int] = [:]
        /// Whether registrations was asked to send its data keys again first.
        public var keysRequested = false
    }

    public static func run(
        to service: ServiceDescription, exchange: String, options: Options, connection configuration: AMQPConfiguration,
        progress: @Sendable (Summary) -> Void = { _ in }
    ) async throws -> Summary {
        let names = service.names(exchange: exchange)
        let consumed = Set((service.consumes + service.replayed).map(\.rawValue))
        let pattern = options.types.map(Glob.init)
        return try await withConnection(configuration, name: "delegation-ops replay (read)") { reader in
            try await withConnection(configuration, name: "delegation-ops replay (write)") { writer in
                guard try await reader.queueExists(names.archive) else {
                    throw OpsError.notFound("the archive stream \(names.archive) does not exist; run `delegation-ops topology apply`")
                }
                let targets = try destinations(service, exchange: exchange, shards: options.shards)
                if !options.dryRun {
                    for inbox in targets.inboxes where try await !writer.queueExists(inbox) {
                        throw OpsError.notFound("\(inbox) does not exist: start it once, or run `delegation-ops topology apply`")
                    }
                    if let shards = targets.shards, try await !writer.exchangeExists(shards) {
                        throw OpsError.notFound(
                            "the exchange \(shards) does not exist: run `delegation-ops topology apply --shards \(service.name)=N`")
                    }
                }
                var summary = Summary()
                // A service that reads sealed personal data needs the data keys, which the archive
                // does not keep: registrations sends them again (a message whose key comes later
                // is retried until it has come).
                if service.consumes.contains(.registrationDataKey), !options.dryRun {
                    let request = try OutgoingMessage.domain(
                        RegistrationDataKeysRequested(requestedBy: "delegation-ops replay", requestedAt: Date()), exchange: exchange,
                        appID: "delegation-ops")
                    try await writer.publish(
                        request.body, exchange: exchange, routingKey: request.routingKey, properties: request.properties, mandatory: true)
                    summary.keysRequested = true
                }
                // Streams deliver from the chunk holding `since`; earlier messages are skipped below.
                let consumer = try await reader.consume(
                    queue: names.archive, prefetch: 500, arguments: ["x-stream-offset": .timestamp(options.since)])
                var iterator = consumer.makeAsyncIterator()
                while let delivery = try await next(&iterator, within: options.idle) {
                    delivery.ack()
                    let published = delivery.properties.timestamp
                    if let published, published < options.since.addingTimeInterval(-1) { continue }
                    if let until = options.until, let published, published > until { break }
                    summary.read += 1
                    // (The archive keeps the routing key each message was published with: its type,
                    // as the services read it on the domain exchange.)
                    let type = delivery.routingKey
                    guard consumed.contains(type), pattern?.matches(type) ?? true else { continue }
                    if !options.dryRun {
                        var properties = delivery.properties
                        properties.type = type
                        properties.headers = delivery.properties.headers.merging(["x-replayed-at": .timestamp(Date())])
                        // What the archive knows of when the message first came: its publish
                        // time. (A header of that name from the sender is never trusted.)
                        properties.headers[FailureHeader.receivedAt] = published.map { .timestamp($0) }
                        if let shards = targets.shards, !service.everyShard.contains(where: { $0.rawValue == type }) {
                            try await writer.publish(
                                delivery.body, exchange: shards, routingKey: type, properties: properties, mandatory: true)
                        } else {
                            for inbox in targets.inboxes {
                                try await writer.publish(
                                    delivery.body, exchange: "", routingKey: inbox, properties: properties, mandatory: true)
                            }
                        }
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

    /// Where replayed messages go: the service's inbox; or, for a service run as `shards`, its
    /// shards exchange and (for the messages every shard takes) each shard's inbox.
    private static func destinations(_ service: ServiceDescription, exchange: String, shards: Int?) throws -> (
        shards: String?, inboxes: [String]
    ) {
        guard let shards else { return (nil, [service.names(exchange: exchange).inbox]) }
        guard service.name == service.kind, shards > 0 else {
            throw OpsError.usage("with shards, replay to the service (\(service.kind)), not to one instance")
        }
        let inboxes = (1...shards).compactMap { SystemServices.named("\(service.kind)-\($0)")?.names(exchange: exchange).inbox }
        return (service.sharding(exchange: exchange).exchange, inboxes)
    }

    /// The next delivery, or nil when none comes within `seconds`.
    private static func next(_ iterator: inout AsyncThrowingStream<Delivery, any Error>.AsyncIterator, within seconds: Double) async throws
        -> Delivery?
    {
        let box = IteratorBox(iterator)
        defer { iterator = box.iterator }
        return try await OpsTime.within(seconds) { try await box.next() }
    }
}

/// Lets one pending `next()` race a timer. The stream's iterator is only ever advanced by one
/// task at a time.
private final class IteratorBox: @unchecked Sendable {
    var iterator: AsyncThrowingStream<Delivery, any Error>.AsyncIterator
    init(_ iterator: AsyncThrowingStream<Delivery, any Error>.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> Delivery? { try await iterator.next() }
}

import AMQP
import Crypto
import Foundation
import Messages
import ServiceRuntime

/// A message parked in a service's dead-letter queue (`<service>.dead-letters`), as the ops tool
/// shows it.
public struct FailedMessage: Sendable {
    /// Stable across runs: derived from the service, the message id, the failure time and the
    /// body, never from what changes when the message is looked at (delivery counts).
    public let id: String
    public let service: String
    /// The message type (`type` property, else the original routing key).
    public let type: String
    /// `invalid-body`, `unsupported-version`, `unexpected-type`, `permanent`,
    /// `retries-exhausted` (set by the service), or `crash-loop` (the broker's delivery limit).
    public let kind: String
    public let reason: String
    public let failedAt: Date?
    public let properties: MessageProperties
    public let body: Data

    public var messageID: String? { properties.messageID }
    public var deaths: [DeathRecord] { DeathRecord.decode(from: properties.headers) }

    /// Messages that failed the same way: same service, type, kind and reason (numbers and
    /// quoted values in the reason do not count).
    public var group: String { Self.digest("\(service)|\(type)|\(kind)|\(Self.reasonPattern(reason))", length: 8) }

    /// The type as the service saw it: the one a service's parked copy names; for a message
    /// the broker dead-lettered, the routing key it first came with from the domain exchange
    /// (that is its type, whatever its `type` property claims: the services read it so).
    static func type(of delivery: Delivery) -> String {
        let headers = delivery.properties.headers
        if headers[FailureHeader.kind] != nil, let type = delivery.properties.type { return type }
        if let first = delivery.deaths.last {
            if !first.exchange.isEmpty, let key = first.routingKeys.first { return key }
        } else if !delivery.envelope.exchange.isEmpty, headers[FailureHeader.kind] == nil {
            return delivery.routingKey  // (unrouted: as published)
        }
        return delivery.properties.type ?? headers[FailureHeader.originalRoutingKey]?.stringValue ?? delivery.deaths.last?.routingKeys.first
            ?? delivery.routingKey
    }

    init(delivery: Delivery, service: String) {
        let headers = delivery.properties.headers
        let deaths = delivery.deaths
        self.service = service
        properties = delivery.properties
        body = delivery.body
        type = Self.type(of: delivery)
        if let kind = headers[FailureHeader.kind]?.stringValue {
            self.kind = kind
            reason = headers[FailureHeader.reason]?.stringValue ?? "(no reason given)"
            failedAt = headers[FailureHeader.time].flatMap { if case .timestamp(let date) = $0 { return date } else { return nil } }
        } else if service == ParkingLot.unroutedName {
            kind = "unknown-type"
            let exchange = delivery.envelope.exchange.isEmpty ? "the default exchange" : delivery.envelope.exchange
            reason =
                "no service consumes '\(type)': published to \(exchange) with a type outside the contract "
                + "(a typo, or a publisher ahead of the services)"
            failedAt = delivery.properties.timestamp
        } else if let death = deaths.first {
            kind = death.reason == .deliveryLimit ? "crash-loop" : "broker-\(death.reason.text)"
            reason =
                death.reason == .deliveryLimit
                ? "delivered \(delivery.deliveryCount > 0 ? "\(delivery.deliveryCount) times" : "too often") without being settled: "
                    + "the service stopped while handling it each time"
                : "dead-lettered by the broker from \(death.queue) (\(death.reason.text))"
            failedAt = death.time
        } else {
            kind = "unknown"
            reason = "no failure headers and no x-death: published to the dead-letter queue by hand?"
            failedAt = nil
        }
        let identity = "\(service)|\(delivery.properties.messageID ?? "")|\(failedAt.map { MessageCoding.formatSortable($0) } ?? "")|"
        id = Self.digest(identity, body: delivery.body, length: 12)
    }

    static func digest(_ text: String, body: Data = Data(), length: Int) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(text.utf8))
        hasher.update(data: body)
        return hasher.finalize().hexString.prefix(length).description
    }

    /// The reason with numbers and quoted values blanked, so that "delegates[3].email" and
    /// "delegates[7].email" fail the same way.
    static func reasonPattern(_ reason: String) -> String {
        reason.replacing(/'[^']*'|"[^"]*"/, with: "…").replacing(/[0-9]+/, with: "N")
    }
}

/// Which failed messages a command acts on.
public enum FailedSelection: Sendable, Equatable {
    case ids(Set<String>)
    case group(String)
    case all
    /// By type and reason text, as `failed list` filters.
    case matching(type: String?, reason: String?)

    public func contains(_ message: FailedMessage) -> Bool {
        switch self {
        case .ids(let ids): return ids.contains(message.id) || message.messageID.map(ids.contains) == true
        case .group(let group): return message.group == group
        case .all: return true
        case .matching(let type, let reason):
            return (type.map { Glob($0).matches(message.type) } ?? true)
                && (reason.map { message.reason.localizedCaseInsensitiveContains($0) || message.kind == $0 } ?? true)
        }
    }
}

/// One line of `failed list`: a group of messages that failed the same way.
public struct FailedGroup: Sendable, Codable, Equatable {
    public var group: String
    public var service: String
    public var type: String
    public var kind: String
    /// The reason of the first message of the group.
    public var reason: String
    public var count: Int
    public var firstSeen: Date?
    public var lastSeen: Date?
    /// Ids of the group's messages (for `failed show` and `failed retry`).
    public var ids: [String]
}

/// A queue where messages wait for a person: a service's dead-letter queue, or the queue of
/// messages whose type no service consumes (which cannot be retried: there is no inbox for them).
public struct ParkingLot: Sendable, Hashable {
    public static let unroutedName = "unrouted"

    /// The service instance, or `unrouted`.
    public let name: String
    public let queue: String
    /// Where a retry sends a message; nil when there is none.
    public let inbox: String?

    public init(_ service: ServiceNames) {
        name = service.service
        queue = service.deadLetterQueue
        inbox = service.inbox
    }

    /// `<exchange>.unrouted.messages`.
    public static func unrouted(exchange: String) -> ParkingLot {
        ParkingLot(name: unroutedName, queue: ServiceNames(service: "", exchange: exchange).unroutedQueue, inbox: nil)
    }

    private init(name: String, queue: String, inbox: String?) {
        self.name = name
        self.queue = queue
        self.inbox = inbox
    }
}

public enum FailedMessages {
    /// Every message in `service`'s dead-letter queue, read without removing any (each is
    /// fetched unacknowledged and returned to the queue when the connection closes).
    public static func browse(_ service: ServiceNames, connection configuration: AMQPConfiguration, limit: Int = 100_000) async throws
        -> [FailedMessage]
    {
        try await browse(ParkingLot(service), connection: configuration, limit: limit)
    }

    /// Every message in `lot`, read without removing any.
    public static func browse(_ lot: ParkingLot, connection configuration: AMQPConfiguration, limit: Int = 100_000) async throws
        -> [FailedMessage]
    {
        let (messages, before) = try await withConnection(configuration, name: "delegation-ops browse") { connection in
            guard try await connection.queueExists(lot.queue) else { return ([FailedMessage](), 0) }
            let before = try await connection.queueState(lot.queue).messageCount
            var messages: [FailedMessage] = []
            while messages.count < limit, let (delivery, _) = try await connection.get(queue: lot.queue) {
                messages.append(FailedMessage(delivery: delivery, service: lot.name))
            }
            return (messages, before)
        }
        try await awaitReturned(lot.queue, count: before, connection: configuration)
        return messages
    }

    /// Messages fetched and not acked go back to their queue when the connection closes, but a
    /// quorum queue takes them back asynchronously. Waits (up to 3 s) until `count` are ready
    /// again, so that the next command sees what this one left.
    static func awaitReturned(_ queue: String, count: Int, connection configuration: AMQPConfiguration) async throws {
        guard count > 0 else { return }
        try await withConnection(configuration, name: "delegation-ops check") { connection in
            let deadline = Date().addingTimeInterval(3)
            while try await connection.queueState(queue).messageCount < count, Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Groups by service, type, kind and reason; the largest first.
    public static func groups(_ messages: [FailedMessage]) -> [FailedGroup] {
        var groups: [String: FailedGroup] = [:]
        for message in messages {
            var group =
                groups[message.group]
                ?? FailedGroup(
                    group: message.group, service: message.service, type: message.type, kind: message.kind, reason: message.reason,
                    count: 0, ids: [])
            group.count += 1
            group.ids.append(message.id)
            if let time = message.failedAt {
                group.firstSeen = min(group.firstSeen ?? time, time)
                group.lastSeen = max(group.lastSeen ?? time, time)
            }
            groups[message.group] = group
        }
        return groups.values.sorted { ($0.count, $1.group) > ($1.count, $0.group) }
    }

    /// Progress of a retry or purge, for the caller to print.
    public struct Progress: Sendable {
        public var examined = 0
        public var selected = 0
        public var done = 0
    }

    /// Moves the selected messages of `service`'s dead-letter queue back into its inbox: each
    /// copy is published (to the inbox only, through the default exchange) and confirmed, the
    /// retry written to the audit log, and only then is the dead-lettered original acked. A run
    /// that is killed leaves every message either still parked or already copied (a message
    /// copied but not yet acked is copied again next time; the service drops the second copy
    /// by its message id).
    ///
    /// `crashAfterCopy` (testing only, `DELEGATION_OPS_FAULT=crash-after-copy:N`) kills the
    /// process right after the N-th copy is confirmed and logged, before its original is acked.
    public static func retry(
        _ selection: FailedSelection, in service: ServiceNames, connection configuration: AMQPConfiguration, audit: AuditLog?,
        dryRun: Bool = false,
        crashAfterCopy: Int? = nil, progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws -> [FailedMessage] {
        let (retried, left) = try await withConnection(configuration, name: "delegation-ops retry (read)") { reader in
            try await withConnection(configuration, name: "delegation-ops retry (write)") { writer in
                let before = try await reader.queueState(service.deadLetterQueue).messageCount
                var state = Progress()
                var retried: [FailedMessage] = []
                while let (delivery, _) = try await reader.get(queue: service.deadLetterQueue) {
                    state.examined += 1
                    let message = FailedMessage(delivery: delivery, service: service.service)
                    guard selection.contains(message) else { continue }  // left unacked: back in the queue at close
                    state.selected += 1
                    if !dryRun {
                        try await writer.publish(
                            message.body, exchange: "", routingKey: service.inbox,
                            properties: retryProperties(message, by: audit?.user ?? "unknown"),
                            mandatory: true)
                        try audit?.record(action: "retry", message: message, detail: "to \(service.inbox)")
                        if state.done + 1 == crashAfterCopy { kill(getpid(), SIGKILL) }
                        delivery.ack()
                        state.done += 1
                    }
                    retried.append(message)
                    progress(state)
                }
                return (retried, before - state.done)
            }
        }
        try await awaitReturned(service.deadLetterQueue, count: left, connection: configuration)
        return retried
    }

    /// Removes the selected messages of `service`'s dead-letter queue, after writing every one of
    /// them (properties, headers and body) to `file` as JSON lines and syncing it to disk.
    public static func purge(
        _ selection: FailedSelection, in service: ServiceNames, connection configuration: AMQPConfiguration, to file: URL, audit: AuditLog?
    ) async throws -> [FailedMessage] {
        try await purge(selection, in: ParkingLot(service), connection: configuration, to: file, audit: audit)
    }

    /// As above, for any parking lot (the unrouted messages too).
    public static func purge(
        _ selection: FailedSelection, in lot: ParkingLot, connection configuration: AMQPConfiguration, to file: URL, audit: AuditLog?
    ) async throws -> [FailedMessage] {
        let before = try await withConnection(configuration, name: "delegation-ops purge (count)") { connection in
            try await connection.queueState(lot.queue).messageCount
        }
        let outcome: (purged: [FailedMessage], left: Int)
        do {
            outcome = try await purgeSelected(selection, in: lot, connection: configuration, before: before, to: file, audit: audit)
        } catch {
            try? await awaitReturned(lot.queue, count: before, connection: configuration)
            throw error
        }
        try await awaitReturned(lot.queue, count: outcome.left, connection: configuration)
        return outcome.purged
    }

    private static func purgeSelected(
        _ selection: FailedSelection, in lot: ParkingLot, connection configuration: AMQPConfiguration, before: Int, to file: URL,
        audit: AuditLog?
    ) async throws -> (purged: [FailedMessage], left: Int) {
        try await withConnection(configuration, name: "delegation-ops purge") { connection in
            var selected: [(FailedMessage, Delivery)] = []
            while let (delivery, _) = try await connection.get(queue: lot.queue) {
                let message = FailedMessage(delivery: delivery, service: lot.name)
                if selection.contains(message) { selected.append((message, delivery)) }
            }
            guard !selected.isEmpty else { return ([FailedMessage](), before) }
            try writeLines(selected.map { Self.record($0.0) }, to: file)
            for (message, delivery) in selected {
                try audit?.record(action: "purge", message: message, detail: "saved to \(file.path)")
                delivery.ack()
            }
            return (selected.map(\.0), before - selected.count)
        }
    }

    /// The copy that goes back to the inbox: the original's properties and headers without the
    /// failure and retry bookkeeping (so the service counts attempts afresh), and who retried it.
    static func retryProperties(_ message: FailedMessage, by user: String) -> MessageProperties {
        var properties = message.properties
        var headers: [String: AMQPFieldValue] = [:]
        for (key, value) in message.properties.headers
        where !key.hasPrefix("x-failure-") && !key.hasPrefix("x-death") && !key.hasPrefix("x-first-death")
            && !key.hasPrefix("x-last-death") && key != "x-delivery-count" && key != FailureHeader.retryAttempt
        {
            headers[key] = value
        }
        headers["x-retried-from"] = .string(message.id)
        headers["x-retried-by"] = .string(user)
        headers["x-retried-at"] = .timestamp(Date())
        properties.headers = AMQPTable(headers)
        properties.messageID = message.messageID ?? "retried-\(message.id)"
        // Back through the default exchange the services read the type from this property.
        properties.type = message.type
        properties.deliveryMode = .persistent
        return properties
    }

    /// A failed message as one JSON object (what `failed show --json` prints and purge saves).
    public static func record(_ message: FailedMessage) -> [String: Any] {
        var properties: [String: Any] = [:]
        let p = message.properties
        if let v = p.contentType { properties["content_type"] = v }
        if let v = p.messageID { properties["message_id"] = v }
        if let v = p.correlationID { properties["correlation_id"] = v }
        if let v = p.type { properties["type"] = v }
        if let v = p.appID { properties["app_id"] = v }
        if let v = p.timestamp { properties["timestamp"] = MessageCoding.format(v) }
        if let v = p.deliveryMode { properties["delivery_mode"] = v == .persistent ? 2 : 1 }
        var record: [String: Any] = [
            "id": message.id, "service": message.service, "type": message.type, "kind": message.kind, "reason": message.reason,
            "group": message.group, "properties": properties, "headers": p.headers.entries.mapValues(json),
            "body_base64": message.body.base64EncodedString(),
        ]
        if let time = message.failedAt { record["failed_at"] = MessageCoding.format(time) }
        if let text = String(data: message.body, encoding: .utf8) { record["body"] = text }
        if !message.deaths.isEmpty {
            record["deaths"] = message.deaths.map { death -> [String: Any] in
                var entry: [String: Any] = [
                    "queue": death.queue, "reason": death.reason.text, "count": death.count, "exchange": death.exchange,
                    "routing_keys": death.routingKeys,
                ]
                if let time = death.time { entry["time"] = MessageCoding.format(time) }
                return entry
            }
        }
        return record
    }

    static func json(_ value: AMQPFieldValue) -> Any {
        switch value {
        case .bool(let v): return v
        case .string(let v): return v
        case .timestamp(let v): return MessageCoding.format(v)
        case .array(let v): return v.map(json)
        case .table(let v): return v.entries.mapValues(json)
        case .float(let v): return Double(v)
        case .double(let v): return v
        case .bytes(let v): return Data(v).base64EncodedString()
        case .void: return NSNull()
        case .decimal(let scale, let value): return Double(value) / pow(10, Double(scale))
        default: return value.intValue ?? "\(value)"
        }
    }

    static func writeLines(_ records: [[String: Any]], to file: URL) throws {
        var data = Data()
        for record in records {
            data.append(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]))
            data.append(0x0A)
        }
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw OpsError.invalidInput("cannot create \(file.path); nothing was purged")
        }
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }
}

/// Opens a connection for one command and always closes it (returning what was fetched and
/// not acked to its queue).
func withConnection<T>(_ configuration: AMQPConfiguration, name: String, _ body: (AMQPConnection) async throws -> T) async throws -> T {
    var configuration = configuration
    configuration.connectionName = name
    configuration.recovery.enabled = false
    let connection: AMQPConnection
    do {
        connection = try await AMQPConnection.connect(configuration)
    } catch {
        throw OpsError.from(error, doing: "connecting to \(configuration.host):\(configuration.port)")
    }
    do {
        let result = try await body(connection)
        await connection.close()
        return result
    } catch {
        await connection.close()
        throw error
    }
}

/// A shell-style pattern: `*` any run of characters, `?` one; `registration.*`.
struct Glob: Sendable {
    let pattern: String
    init(_ pattern: String) { self.pattern = pattern }

    func matches(_ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

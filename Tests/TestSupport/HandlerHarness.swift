import Crypto
import Foundation
import GRDB
import Logging
import Messages
import ServiceRuntime
import Synchronization

/// A service's routes on a store of its own in a temporary file: messages go in through the
/// same dispatch and inbox transaction the pipeline runs (`Dispatcher`, `InboxTransaction`),
/// one write transaction each, with no broker and no sleeps. For business rules.
public final class HandlerHarness: Sendable {
    public let store: ServiceStore
    private let dispatcher: Dispatcher
    private let transaction: InboxTransaction
    private let directory: URL
    private let emittedSoFar = Mutex(0)

    /// What a message did not do: the runtime would retry it, or park it.
    public struct NotApplied: Error, CustomStringConvertible {
        public let outcome: InboxTransaction.Outcome
        public var description: String { "not applied: \(outcome)" }
    }

    public init(_ dispatcher: Dispatcher, attempts: Int = 5, migrations: (inout DatabaseMigrator) -> Void) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("harness-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try ServiceStore(path: directory.appendingPathComponent("store.sqlite").path, synchronous: .normal, migrations: migrations)
        self.dispatcher = dispatcher
        transaction = InboxTransaction(service: "harness", attempts: attempts)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Applies `payload` as the pipeline would and returns what was emitted (nothing for a
    /// duplicate); throws `NotApplied` when it would be retried or parked.
    @discardableResult
    public func send<T: MessagePayload>(
        _ payload: T, messageID: String = UUID().uuidString, correlationID: String? = nil, receivedAt: Date = Date(), attempt: Int = 1,
        trace: TraceContext? = nil
    ) async throws -> [OutboundMessage] {
        switch try await apply(
            payload, messageID: messageID, correlationID: correlationID, receivedAt: receivedAt, attempt: attempt, trace: trace)
        {
        case .handled(let emitted): return emitted
        case .duplicate: return []
        case let outcome: throw NotApplied(outcome: outcome)
        }
    }

    /// What the inbox transaction made of `payload` (handled in `trace`, as the pipeline's span
    /// would be).
    public func apply<T: MessagePayload>(
        _ payload: T, messageID: String = UUID().uuidString, correlationID: String? = nil, receivedAt: Date = Date(), attempt: Int = 1,
        trace: TraceContext? = nil
    ) async throws -> InboxTransaction.Outcome {
        let body = try MessageCoding.encode(payload)
        let metadata = MessageMetadata(
            type: T.messageType, messageID: messageID, correlationID: correlationID, attempt: attempt, receivedAt: receivedAt,
            trace: trace)
        guard let message = try dispatcher.decode(body, metadata: metadata) else {
            throw NotApplied(outcome: .park(.unexpectedType, "no route for \(T.messageType.rawValue)", messageID: messageID, digest: ""))
        }
        let digest = SHA256.hash(data: body).hexString
        let transaction = self.transaction
        return try await store.database.write { db in try transaction.apply(message, digest: digest, in: db) }
    }

    /// What the routes answer to a message of `type` whose body does not decode.
    public func answers(toBody body: String, type: MessageType, messageID: String = UUID().uuidString, correlationID: String? = nil)
        -> [OutboundMessage]
    {
        let data = Data(body.utf8)
        let metadata = MessageMetadata(type: type, messageID: messageID, correlationID: correlationID, receivedAt: Date())
        do {
            _ = try dispatcher.decode(data, metadata: metadata)
            return []
        } catch {
            return dispatcher.answers(
                to: UnreadableMessage(
                    type: type, body: data, problem: error, messageID: messageID, correlationID: correlationID, receivedAt: Date()))
        }
    }

    /// A context on this store, for the services that run beside the pipeline (planning,
    /// delivery), called directly by the test rather than run.
    public func context(_ configuration: ServiceConfiguration) -> ServiceHost.Context {
        ServiceHost.Context(
            configuration: configuration, store: store, metrics: ServiceMetrics(service: configuration.serviceName),
            logger: TestBroker.logger)
    }

    /// What services beside the pipeline wrote to the outbox since the last call (messages
    /// handlers return come back from `send`).
    public func emitted() async throws -> [OutboundMessage] {
        let all = try await store.database.read { db in try Outbox.unpublished(in: db) }
        return emittedSoFar.withLock { seen in
            defer { seen = all.count }
            return Array(all.dropFirst(seen))
        }
    }

    /// Reads the store.
    public func read<T: Sendable>(_ block: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await store.database.read(block)
    }

    /// Writes to the store (for the parts of a service that run beside the pipeline).
    public func write<T: Sendable>(_ block: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await store.database.write(block)
    }
}

extension Array where Element == OutboundMessage {
    /// The emitted messages of `type`, decoded.
    public func of<T: MessagePayload>(_ type: T.Type) -> [T] {
        filter { $0.type == T.messageType }.compactMap { try? $0.decode(T.self) }
    }
}

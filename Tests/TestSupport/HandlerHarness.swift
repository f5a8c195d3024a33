import Foundation
import GRDB
import Messages
import ServiceRuntime

/// A service's handler on a store of its own in a temporary file: messages go in through the
/// handler's entry point as the pipeline calls it (one write transaction each, outgoing messages
/// into the outbox), with no broker and no sleeps. For business rules.
public final class HandlerHarness: Sendable {
    public let store: ServiceStore
    private let handler: any MessageHandler
    private let directory: URL

    public init(_ handler: any MessageHandler, migrations: (inout DatabaseMigrator) -> Void) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("harness-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try ServiceStore(path: directory.appendingPathComponent("store.sqlite").path, synchronous: .normal, migrations: migrations)
        self.handler = handler
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Applies `payload` and returns what the handler emitted.
    @discardableResult
    public func send<T: MessagePayload>(
        _ payload: T, messageID: String = UUID().uuidString, correlationID: String? = nil, receivedAt: Date = Date(), attempt: Int = 1
    ) async throws -> [OutboundMessage] {
        let message = IncomingMessage(
            type: T.messageType, payload: payload, messageID: messageID, correlationID: correlationID, attempt: attempt, receivedAt: receivedAt)
        let handler = self.handler
        return try await store.database.write { db in
            let outgoing = try handler.handle(message, in: db)
            try Outbox.append(outgoing, causedBy: messageID, service: "harness", in: db)
            return outgoing
        }
    }

    /// What the handler answers to a message of `type` whose body does not decode.
    public func answers(toBody body: String, type: MessageType, messageID: String = UUID().uuidString, correlationID: String? = nil) -> [OutboundMessage] {
        let data = Data(body.utf8)
        let problem: MessageDecodingError
        do {
            _ = try MessageCoding.decodeAny(type.payloadType, from: data)
            return []
        } catch {
            problem = error
        }
        return handler.answers(
            to: UnreadableMessage(type: type, body: data, problem: problem, messageID: messageID, correlationID: correlationID, receivedAt: Date()))
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

extension MessageCoding {
    /// Decodes a body as the Swift type of `type`.
    static func decodeAny(_ type: any MessagePayload.Type, from data: Data) throws(MessageDecodingError) -> any MessagePayload {
        func open<T: MessagePayload>(_ type: T.Type) throws(MessageDecodingError) -> any MessagePayload { try MessageCoding.decode(T.self, from: data) }
        return try open(type)
    }
}

extension Array where Element == OutboundMessage {
    /// The emitted messages of `type`, decoded.
    public func of<T: MessagePayload>(_ type: T.Type) -> [T] {
        filter { $0.type == T.messageType }.compactMap { try? $0.decode(T.self) }
    }
}

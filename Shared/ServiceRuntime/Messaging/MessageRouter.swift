import Foundation
import GRDB
import Messages

/// What a service consumes and who handles each type, declared once.
///
/// ```swift
/// var router = MessageRouter<RegistrationsHandler>()
/// router.on(RegistrationSubmitted.self) { handler, message, db in try handler.submit(message, db) }
/// ```
///
/// The declaration is the one source of the service's inbox bindings (`consumes`), of what
/// the deployment grants it, and of dispatch: a message of a type without a route never reaches
/// a handler (it is parked as `unexpected-type`), and each handler gets its payload already
/// typed. A route runs inside the store's write transaction, once per message id (the runtime
/// skips duplicates), and returns the messages to emit; it throws `HandlerFailure.transient`
/// for a failure worth retrying later, `.permanent` for one that never succeeds (any other error
/// counts as transient), and its changes are rolled back either way.
///
/// Routes take the handler as their first argument, so that the table is known without one
/// (`consumes`, for the ops tool and the deployment); `dispatcher(for:)` binds it.
public struct MessageRouter<Handler: Sendable>: Sendable {
    public typealias Route<Payload: MessagePayload> = @Sendable (Handler, Message<Payload>, Database) throws -> [OutboundMessage]
    /// Answers to a message of the route's type whose body does not decode, so that its sender
    /// hears why (the message is parked for ops either way). Empty when the body does not say
    /// who sent it.
    public typealias Unreadable = @Sendable (Handler, UnreadableMessage) -> [OutboundMessage]

    struct Entry: Sendable {
        let type: MessageType
        /// Whether the inbox is bound to it (not for types only a replay brings).
        var live = true
        let decode: @Sendable (Handler, Data, MessageMetadata) throws(MessageDecodingError) -> DecodedMessage
        let unreadable: Unreadable?
    }

    private var entries: [Entry] = []
    /// The types the service publishes (its routes and its own background work).
    public private(set) var emits: [MessageType] = []

    public init() {}

    /// Declares the types the service publishes: the deployment grants the service exactly these
    /// (topic permissions), and a route that emits another type fails instead of publishing it.
    public mutating func emits(_ types: any MessagePayload.Type...) {
        emits += types.map { $0.messageType }.filter { !emits.contains($0) }
    }

    /// Routes messages of `type` to `route`; `unreadable` answers those whose body does not
    /// decode. A type is routed once.
    public mutating func on<Payload: MessagePayload>(_ type: Payload.Type, unreadable: Unreadable? = nil, _ route: @escaping Route<Payload>)
    {
        add(type, unreadable) { handler, message, db in
            if let sealed = message.payload as? any CarriesPersonalData, sealed.sealedPersonalData != nil {
                throw HandlerFailure.permanent("\(Payload.messageType.rawValue) has sealed personal data, which this service does not read")
            }
            return try route(handler, message, db)
        }
    }

    fileprivate mutating func add<Payload: MessagePayload>(
        _ type: Payload.Type, _ unreadable: Unreadable?, _ route: @escaping Route<Payload>
    ) {
        precondition(!entries.contains { $0.type == Payload.messageType }, "\(Payload.messageType.rawValue) is routed twice")
        entries.append(
            Entry(
                type: Payload.messageType,
                decode: { handler, body, metadata throws(MessageDecodingError) in
                    let payload = try MessageCoding.decode(Payload.self, from: body)
                    return DecodedMessage(metadata: metadata) { db in try route(handler, Message(payload, metadata: metadata), db) }
                },
                unreadable: unreadable))
    }

    /// Marks `type` (routed already) as one only a replay brings: the archive keeps it for
    /// rebuilding this service's store, but the inbox is not bound to it.
    public mutating func onlyReplayed(_ type: any MessagePayload.Type) {
        guard let index = entries.firstIndex(where: { $0.type == type.messageType }) else {
            preconditionFailure("\(type.messageType.rawValue) is not routed")
        }
        entries[index].live = false
    }

    /// The types routed live, in the order declared: what the service's inbox is bound to.
    public var consumes: [MessageType] { entries.filter(\.live).map(\.type) }

    /// The types routed that only a replay brings (`onlyReplayed`).
    public var replayed: [MessageType] { entries.filter { !$0.live }.map(\.type) }

    /// The routes with their handler: what the pipeline dispatches with.
    public func dispatcher(for handler: Handler) -> Dispatcher {
        Dispatcher(
            routes: Dictionary(
                uniqueKeysWithValues: entries.map { entry in
                    (
                        entry.type,
                        Dispatcher.Route(
                            decode: { body, metadata throws(MessageDecodingError) in try entry.decode(handler, body, metadata) },
                            unreadable: { message in entry.unreadable?(handler, message) ?? [] })
                    )
                }), consumes: consumes, emits: Set(emits))
    }
}

extension MessageRouter where Handler: OpensPersonalData {
    /// Routes messages of `type`, whose personal fields are sealed under their registration's
    /// data key (contract 1.3), to `route` with those fields opened (`OpensPersonalData`).
    public mutating func on<Payload: CarriesPersonalData>(
        _ type: Payload.Type, unreadable: Unreadable? = nil, _ route: @escaping Route<Payload>
    ) {
        add(type, unreadable) { handler, message, db in
            try route(handler, Message(try handler.opened(message.payload, in: db), metadata: message.metadata), db)
        }
    }

    /// Keeps the data keys of `registration.data-key` in the store (`DataKeys`), for the
    /// routes above.
    public mutating func keepsDataKeys() {
        add(RegistrationDataKey.self, nil) { _, message, db in
            try DataKeys.save(message.payload, in: db)
            return []
        }
    }
}

/// A router bound to its handler: decodes a body by its type's route into a message ready to
/// apply.
public struct Dispatcher: Sendable {
    struct Route: Sendable {
        let decode: @Sendable (Data, MessageMetadata) throws(MessageDecodingError) -> DecodedMessage
        let unreadable: @Sendable (UnreadableMessage) -> [OutboundMessage]
    }

    private let routes: [MessageType: Route]
    /// The types it routes, in the order declared.
    public let consumes: [MessageType]
    /// The types its routes may emit.
    public let emits: Set<MessageType>

    init(routes: [MessageType: Route], consumes: [MessageType], emits: Set<MessageType>) {
        self.routes = routes
        self.consumes = consumes
        self.emits = emits
    }

    public func routes(_ type: MessageType) -> Bool { routes[type] != nil }

    /// The body decoded by `metadata.type`'s route; nil when no route takes the type.
    public func decode(_ body: Data, metadata: MessageMetadata) throws(MessageDecodingError) -> DecodedMessage? {
        guard let route = routes[metadata.type] else { return nil }
        let decoded = try route.decode(body, metadata)
        let emits = self.emits
        return DecodedMessage(metadata: metadata) { db in
            let outgoing = try decoded.handle(db)
            if let undeclared = outgoing.first(where: { !emits.contains($0.type) }) {
                throw HandlerFailure.permanent(
                    "the route of \(metadata.type.rawValue) emitted \(undeclared.type.rawValue), which the service does not declare")
            }
            return outgoing
        }
    }

    /// What the route of the message's type answers to a body it cannot read.
    public func answers(to message: UnreadableMessage) -> [OutboundMessage] {
        routes[message.type]?.unreadable(message) ?? []
    }
}

/// A message decoded by its route: its metadata, and its handler call, to run in the store's
/// write transaction.
public struct DecodedMessage: Sendable {
    public let metadata: MessageMetadata
    let handle: @Sendable (Database) throws -> [OutboundMessage]

    init(metadata: MessageMetadata, handle: @escaping @Sendable (Database) throws -> [OutboundMessage]) {
        self.metadata = metadata
        self.handle = handle
    }
}

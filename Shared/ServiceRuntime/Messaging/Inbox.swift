import Foundation
import GRDB
import Messages

/// The runtime's memory of what it has taken from the inbox queue: every message it applied
/// (`inbox`, with a digest of its body) and every message it parked (`parked`), so that a
/// redelivery or a replay is recognised instead of applied or parked a second time.
public enum Inbox {
    /// What the store knows of a message id.
    enum Seen: Equatable {
        case new
        /// Applied before, with the same body.
        case duplicate
        /// Applied before with another body: the sender reused an id.
        case conflict(previousDigest: String)
    }

    /// Whether the store applied a message with this id: for a route that applies, from a
    /// replay, a message the store may have taken before in another form.
    public static func applied(_ messageID: String, in db: Database) throws -> Bool {
        try InboxEntry.record(db, key: messageID) != nil
    }

    /// Records `message` as applied without its body (a copy of it is a duplicate whatever its
    /// bytes): for a route that applies a message a replay brought in another form.
    public static func markApplied(_ message: MessageMetadata, in db: Database) throws {
        try InboxEntry(messageID: message.messageID, messageType: message.type, receivedAt: message.receivedAt, bodyDigest: nil).insert(db)
    }

    static func seen(_ messageID: String, digest: String, in db: Database) throws -> Seen {
        guard let entry = try InboxEntry.record(db, key: messageID) else { return .new }
        // Rows from before digests were kept have none: a repeat of them is a duplicate.
        guard let previous = entry.bodyDigest, previous != digest else { return .duplicate }
        return .conflict(previousDigest: previous)
    }

    static func record(_ message: MessageMetadata, digest: String, in db: Database) throws {
        try InboxEntry(messageID: message.messageID, messageType: message.type, receivedAt: message.receivedAt, bodyDigest: digest).insert(
            db)
    }

    /// A message parked earlier: why, and whether its copy reached the dead-letter queue.
    static func parked(_ messageID: String, digest: String, in db: Database) throws -> ParkedEntry? {
        try ParkedEntry.record(db, ParkedEntry.filter(key: ["message_id": messageID, "body_digest": digest]))
    }

    /// Records that the message is being parked (before its copy is published).
    static func recordParking(
        _ messageID: String, digest: String, type: String, kind: FailureKind, reason: String, at time: Date, in db: Database
    ) throws {
        try ParkedEntry(
            messageID: messageID, bodyDigest: digest, messageType: type, kind: kind, reason: reason, parkedAt: time, copied: false
        ).upsert(db)
    }

    /// Marks parked messages whose copies the broker confirmed.
    static func markCopied(_ keys: [(messageID: String, digest: String)], in db: Database) throws {
        for key in keys {
            try ParkedEntry.filter(key: ["message_id": key.messageID, "body_digest": key.digest]).updateAll(
                db, Column("copied").set(to: true))
        }
    }
}

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
        try digestRow(messageID, in: db) != nil
    }

    /// Records `message` as applied without its body (a copy of it is a duplicate whatever its
    /// bytes): for a route that applies a message a replay brought in another form.
    public static func markApplied(_ message: MessageMetadata, in db: Database) throws {
        try record(message, digest: nil, in: db)
    }

    static func seen(_ messageID: String, digest: String, in db: Database) throws -> Seen {
        guard let row = try digestRow(messageID, in: db) else { return .new }
        // Rows from before digests were kept have none: a repeat of them is a duplicate.
        guard let previous: String = row[0], previous != digest else { return .duplicate }
        return .conflict(previousDigest: previous)
    }

    /// The inbox row of `messageID` (its body digest only), if the message was applied. Every
    /// message taken asks this, so the statements here are prepared once per connection.
    private static func digestRow(_ messageID: String, in db: Database) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT body_digest FROM inbox WHERE message_id = ?"), arguments: [messageID])
    }

    static func record(_ message: MessageMetadata, digest: String?, in db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO inbox (message_id, message_type, received_at, body_digest) VALUES (?, ?, ?, ?)")
            .execute(arguments: [message.messageID, message.type.rawValue, MessageCoding.formatSortable(message.receivedAt), digest])
    }

    /// A message parked earlier: why, and whether its copy reached the dead-letter queue.
    static func parked(_ messageID: String, digest: String, in db: Database) throws -> ParkedEntry? {
        try ParkedEntry.records(db, sql: "SELECT * FROM parked WHERE message_id = ? AND body_digest = ?", arguments: [messageID, digest])
            .first
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

import Foundation
import GRDB
import Messages

/// The runtime's memory of what it has taken from the inbox queue: every message it applied
/// (`inbox`, with a digest of its body) and every message it parked (`parked`), so that a
/// redelivery or a replay is recognised instead of applied or parked a second time.
enum Inbox {
    /// What the store knows of a message id.
    enum Seen: Equatable {
        case new
        /// Applied before, with the same body.
        case duplicate
        /// Applied before with another body: the sender reused an id.
        case conflict(previousDigest: String)
    }

    static func seen(_ messageID: String, digest: String, in db: Database) throws -> Seen {
        guard let row = try Row.fetchOne(db, sql: "SELECT body_digest FROM inbox WHERE message_id = ?", arguments: [messageID]) else { return .new }
        // Rows from before digests were kept have none: a repeat of them is a duplicate.
        guard let previous: String = row[0], previous != digest else { return .duplicate }
        return .conflict(previousDigest: previous)
    }

    static func record(_ message: MessageMetadata, digest: String, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO inbox (message_id, message_type, received_at, body_digest) VALUES (?, ?, ?, ?)",
            arguments: [message.messageID, message.type.rawValue, MessageCoding.formatSortable(message.receivedAt), digest])
    }

    /// A message parked earlier: why, and whether its copy reached the dead-letter queue.
    struct Parked: Equatable {
        var kind: FailureKind
        var reason: String
        /// False while the copy is being published: a redelivery then publishes it again.
        var copied: Bool
    }

    static func parked(_ messageID: String, digest: String, in db: Database) throws -> Parked? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT kind, reason, copied FROM parked WHERE message_id = ? AND body_digest = ?", arguments: [messageID, digest])
        else { return nil }
        let kindText: String = row[0]
        guard let kind = FailureKind(rawValue: kindText) else {
            throw DatabaseError(message: "parked row for message \(messageID) has an unknown kind '\(kindText)'")
        }
        return Parked(kind: kind, reason: row[1], copied: row[2])
    }

    /// Records that the message is being parked (before its copy is published).
    static func recordParking(_ messageID: String, digest: String, type: String, kind: FailureKind, reason: String, at time: Date, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO parked (message_id, body_digest, message_type, kind, reason, parked_at, copied) VALUES (?, ?, ?, ?, ?, ?, 0)
                ON CONFLICT (message_id, body_digest) DO UPDATE SET kind = excluded.kind, reason = excluded.reason,
                    parked_at = excluded.parked_at, copied = 0
                """,
            arguments: [messageID, digest, type, kind.rawValue, reason, MessageCoding.formatSortable(time)])
    }

    /// Marks parked messages whose copies the broker confirmed.
    static func markCopied(_ keys: [(messageID: String, digest: String)], in db: Database) throws {
        for key in keys {
            try db.execute(sql: "UPDATE parked SET copied = 1 WHERE message_id = ? AND body_digest = ?", arguments: [key.messageID, key.digest])
        }
    }
}

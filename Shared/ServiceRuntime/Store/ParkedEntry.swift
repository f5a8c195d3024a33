import Foundation
import GRDB
import Messages

/// A message the service parked (table `parked`), keyed by id and body digest.
struct ParkedEntry: StoreRecord {
    static let databaseTableName = "parked"

    var messageID: String
    var bodyDigest: String
    /// The type as the message named it (possibly none the system knows).
    var messageType: String
    var kind: FailureKind
    var reason: String
    var parkedAt: Date
    /// False while the copy is being published: a redelivery then publishes it again.
    var copied: Bool

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", bodyDigest = "body_digest", messageType = "message_type", kind, reason, parkedAt = "parked_at",
            copied
    }
}

/// The one row the readiness probe rewrites (table `store_probe`).
struct StoreProbe: StoreRecord {
    static let databaseTableName = "store_probe"

    var id = 1
    var writtenAt: Date

    enum CodingKeys: String, CodingKey {
        case id, writtenAt = "written_at"
    }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime

/// A refused submission, for the counts (table `rejections`).
struct RejectionRecord: StoreRecord {
    static let databaseTableName = "rejections"

    var id: Int64?
    var eventID: String?
    var reference: String?
    var revision: Int?
    var issues: [ValidationIssue]
    var rejectedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, eventID = "event_id", reference, revision, issues, rejectedAt = "rejected_at"
    }
}

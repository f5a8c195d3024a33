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
    /// The registration it refused a submission of (nil without an event and a reference).
    var registrationID: String?
    var revision: Int?
    var issues: [ValidationIssue]
    var rejectedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, eventID = "event_id", reference, registrationID = "registration_id", revision, issues, rejectedAt = "rejected_at"
    }
}

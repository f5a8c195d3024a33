import Foundation
import GRDB
import ItineraryPlanner
import ServiceRuntime

/// One version of an event's plan (table `plans`).
struct PlanRecord: StoreRecord {
    static let databaseTableName = "plans"

    var eventID: String
    var version: Int
    var body: Plan
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", version, body, createdAt = "created_at"
    }
}

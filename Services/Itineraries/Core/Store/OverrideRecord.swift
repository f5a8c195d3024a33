import Foundation
import GRDB
import ItineraryPlanner
import ServiceRuntime

/// An organiser's override (table `plan_overrides`): `pending` until a plan keeps it (then
/// `active`, with the visit value it costs) or it is refused (then deleted, and said so).
struct OverrideRecord: StoreRecord {
    static let databaseTableName = "plan_overrides"

    enum Status: String, Codable, Sendable { case pending, active }

    var eventID: String
    var overrideID: String
    /// Arrival order: an earlier override wins over a later one that contradicts it.
    var position: Int
    var status: Status
    var body: PlanningOverride
    var reason: String?
    var requestedBy: String?
    var cost: Double?
    var correlationID: String?
    var requestedAt: Date

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", overrideID = "override_id", position, status, body, reason, requestedBy = "requested_by", cost,
            correlationID = "correlation_id", requestedAt = "requested_at"
    }
}

/// A re-optimisation request (table `plan_requests`): a preview to compute (`pending`), a
/// computed preview kept until applied (`previewed`, with the plan and the inputs' generation
/// it was made from), or a request to apply one (`pending` with `applyPreview`).
struct PlanRequestRecord: StoreRecord {
    static let databaseTableName = "plan_requests"

    enum Status: String, Codable, Sendable { case pending, previewed, done }

    var eventID: String
    var requestID: String
    var applyPreview: String?
    var status: Status
    var generation: Int?
    var basedOnVersion: Int?
    var body: Plan?
    var correlationID: String?
    var requestedAt: Date

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", requestID = "request_id", applyPreview = "apply_preview", status, generation,
            basedOnVersion = "based_on_version", body, correlationID = "correlation_id", requestedAt = "requested_at"
    }
}

import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// A delegation as planning sees it (table `delegations`): what it wants, whether it still
/// takes part, and the correlation id and trace its itineraries carry. Its identity documents are sealed
/// in `delegation_identities`.
public struct DelegationRecord: StoreRecord {
    public static let databaseTableName = "delegations"

    public var planning: PlanningDelegation
    public var eventID: String
    public var revision: Int
    public var active: Bool
    public var correlationID: String?
    /// The trace of the latest message about it (`MessageMetadata.trace`).
    public var trace: TraceContext?
    public var updatedAt: Date
    /// When registrations accepted the revision kept (nil: kept before this was stored): a
    /// cancellation made before it is of an earlier registration and does not end this one.
    public var acceptedAt: Date?

    public var registrationID: String { planning.id }

    public init(
        planning: PlanningDelegation, eventID: String, revision: Int, active: Bool, correlationID: String?, trace: TraceContext? = nil,
        updatedAt: Date = Date(), acceptedAt: Date? = nil
    ) {
        self.planning = planning
        self.eventID = eventID
        self.revision = revision
        self.active = active
        self.correlationID = correlationID
        self.trace = trace
        self.updatedAt = updatedAt
        self.acceptedAt = acceptedAt
    }

    enum CodingKeys: String, CodingKey {
        case planning, eventID = "event_id", revision, active, correlationID = "correlation_id", trace,
            updatedAt = "updated_at", acceptedAt = "accepted_at"
    }

    enum KeyColumn: String, CodingKey { case registrationID = "registration_id" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        planning = try container.decode(PlanningDelegation.self, forKey: .planning)
        eventID = try container.decode(String.self, forKey: .eventID)
        revision = try container.decode(Int.self, forKey: .revision)
        active = try container.decode(Bool.self, forKey: .active)
        correlationID = try container.decodeIfPresent(String.self, forKey: .correlationID)
        trace = try container.decodeIfPresent(TraceContext.self, forKey: .trace)
        updatedAt = try container.decode(Date.self, forKey: .updatedAt)
        acceptedAt = try container.decodeIfPresent(Date.self, forKey: .acceptedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var key = encoder.container(keyedBy: KeyColumn.self)
        try key.encode(registrationID, forKey: .registrationID)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(planning, forKey: .planning)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(revision, forKey: .revision)
        try container.encode(active, forKey: .active)
        try container.encode(correlationID, forKey: .correlationID)
        try container.encode(trace, forKey: .trace)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(acceptedAt, forKey: .acceptedAt)
    }
}

/// A delegation's identity documents, sealed (table `delegation_identities`), for the access
/// lists of restricted sites; removed when it is cancelled.
struct DelegationIdentity: StoreRecord {
    static let databaseTableName = "delegation_identities"

    var registrationID: String
    var keyID: String
    var ciphertext: Data

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", keyID = "key_id", ciphertext
    }
}

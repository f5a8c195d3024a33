import Foundation
import GRDB
import Messages
import ServiceRuntime

/// A registration whose personal data was asked to be erased (table `erasures`): by a person's
/// request or by the retention schedule, and when the erasure was done here.
public struct ErasureRecord: StoreRecord, Equatable {
    public static let databaseTableName = "erasures"

    public var registrationID: String
    public var eventID: String
    public var reason: RegistrationEraseRequested.Reason
    public var requestedAt: Date
    /// nil while the request is on its way (the retention schedule asked; not yet consumed).
    public var erasedAt: Date?

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", eventID = "event_id", reason, requestedAt = "requested_at", erasedAt = "erased_at"
    }
}

/// An event's retention: when its personal data is due to be erased, and how far that went.
public struct RetentionStatus: Sendable, Codable, Equatable {
    public var eventID: String
    public var endsAt: Date
    public var eraseFrom: Date
    public var registrations: Int
    /// Asked to be erased (by a request or by the schedule), and of those already erased.
    public var requested: Int
    public var erased: Int

    /// Registrations whose data is kept past the retention time (0 until `eraseFrom`).
    public func overdue(at now: Date) -> Int { now >= eraseFrom ? registrations - erased : 0 }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime

/// A registration as the store keeps it (table `registrations`). Identity documents are not
/// here: they are sealed in `registration_identities` and read only to build
/// `registration.accepted`.
public struct RegistrationRecord: StoreRecord, Equatable {
    public static let databaseTableName = "registrations"

    public enum Status: String, Sendable, Codable {
        case accepted, waitlisted, cancelled
    }

    public var registrationID: String
    public var eventID: String
    public var reference: String
    public var revision: Int
    public var status: Status
    /// Without identity documents.
    public var delegation: Delegation
    /// Arrival order on the waiting list (nil unless waitlisted).
    public var waitlistSequence: Int64?
    public var correlationID: String?
    /// The accepted revision's own `submittedAt`, if it gave one.
    public var submittedAt: Date?
    /// When the cancellation of a cancelled registration was asked (the request's `requestedAt`,
    /// never later than its arrival): a revision submitted before it does not bring it back.
    public var cancelRequestedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public var delegateCount: Int { delegation.delegates.count }

    public init(
        registrationID: String, eventID: String, reference: String, revision: Int, status: Status, delegation: Delegation,
        waitlistSequence: Int64? = nil, correlationID: String? = nil, submittedAt: Date? = nil, cancelRequestedAt: Date? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.registrationID = registrationID
        self.eventID = eventID
        self.reference = reference
        self.revision = revision
        self.status = status
        self.delegation = delegation
        self.waitlistSequence = waitlistSequence
        self.correlationID = correlationID
        self.submittedAt = submittedAt
        self.cancelRequestedAt = cancelRequestedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", eventID = "event_id", reference, revision, status, delegation, waitlistSequence =
            "waitlist_seq"
        case correlationID = "correlation_id", submittedAt = "submitted_at", cancelRequestedAt = "cancel_requested_at"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    /// Columns kept for queries and listings, derived from the delegation.
    enum DerivedKeys: String, CodingKey {
        case organisation, delegateCount = "delegate_count"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(registrationID, forKey: .registrationID)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(reference, forKey: .reference)
        try container.encode(revision, forKey: .revision)
        try container.encode(status, forKey: .status)
        try container.encode(delegation.withoutIdentityDocuments, forKey: .delegation)
        try container.encode(waitlistSequence, forKey: .waitlistSequence)
        try container.encode(correlationID, forKey: .correlationID)
        try container.encode(submittedAt, forKey: .submittedAt)
        try container.encode(cancelRequestedAt, forKey: .cancelRequestedAt)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        var derived = encoder.container(keyedBy: DerivedKeys.self)
        try derived.encode(delegation.organisation.name, forKey: .organisation)
        try derived.encode(delegateCount, forKey: .delegateCount)
    }
}

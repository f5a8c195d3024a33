/// Every message the system carries. The raw value is the routing key on the domain exchange
/// and the AMQP `type` property.
public enum MessageType: String, Sendable, CaseIterable, Codable {
    case registrationSubmitted = "registration.submitted"
    case registrationCancelRequested = "registration.cancel-requested"
    case registrationAccepted = "registration.accepted"
    case registrationWaitlisted = "registration.waitlisted"
    case registrationRejected = "registration.rejected"
    case registrationCancelled = "registration.cancelled"
    case programmePublished = "programme.published"
    case itineraryPlanned = "itinerary.planned"
    case itineraryChanged = "itinerary.changed"
    case notificationDelivered = "notification.delivered"
    case notificationFailed = "notification.failed"
    case notificationResendRequested = "notification.resend-requested"
    case planOverrideRequested = "plan.override-requested"
    case planOverrideDecided = "plan.override-decided"
    case planReoptimiseRequested = "plan.reoptimise-requested"
    case planReoptimised = "plan.reoptimised"
    case registrationEraseRequested = "registration.erase-requested"
    case registrationErased = "registration.erased"
    case registrationRecorded = "registration.recorded"
    case registrationDataKey = "registration.data-key"
    case registrationDataKeysRequested = "registration.data-keys-requested"
    case checkinRecorded = "checkin.recorded"
    case boardingMissed = "boarding.missed"
    case attendanceDeclined = "attendance.declined"

    /// Whether the archive stream keeps it: every type but the two that would put personal data
    /// there readable for its whole retention, `registration.submitted` (integrations send the
    /// fields in plain text; the archive keeps registrations' sealed `registration.recorded`
    /// instead) and `registration.data-key` (the keys erasure forgets).
    public var isArchived: Bool { self != .registrationSubmitted && self != .registrationDataKey }

    /// The Swift type of this message's body.
    public var payloadType: any MessagePayload.Type {
        switch self {
        case .registrationSubmitted: return RegistrationSubmitted.self
        case .registrationCancelRequested: return RegistrationCancelRequested.self
        case .registrationAccepted: return RegistrationAccepted.self
        case .registrationWaitlisted: return RegistrationWaitlisted.self
        case .registrationRejected: return RegistrationRejected.self
        case .registrationCancelled: return RegistrationCancelled.self
        case .programmePublished: return ProgrammePublished.self
        case .itineraryPlanned: return ItineraryPlanned.self
        case .itineraryChanged: return ItineraryChanged.self
        case .notificationDelivered: return NotificationDelivered.self
        case .notificationFailed: return NotificationFailed.self
        case .notificationResendRequested: return NotificationResendRequested.self
        case .planOverrideRequested: return PlanOverrideRequested.self
        case .planOverrideDecided: return PlanOverrideDecided.self
        case .planReoptimiseRequested: return PlanReoptimiseRequested.self
        case .planReoptimised: return PlanReoptimised.self
        case .registrationEraseRequested: return RegistrationEraseRequested.self
        case .registrationErased: return RegistrationErased.self
        case .registrationRecorded: return RegistrationRecorded.self
        case .registrationDataKey: return RegistrationDataKey.self
        case .registrationDataKeysRequested: return RegistrationDataKeysRequested.self
        case .checkinRecorded: return CheckinRecorded.self
        case .boardingMissed: return BoardingMissed.self
        case .attendanceDeclined: return AttendanceDeclined.self
        }
    }
}

/// The body of a message: plain JSON that any client can produce.
public protocol MessagePayload: Codable, Sendable, Equatable {
    static var messageType: MessageType { get }

    /// What the message is about, for sharding: its event, and the registration whose people hear
    /// of it. Every publisher puts both in headers (`PartitionKeys`).
    var partitionKeys: PartitionKeys { get }
}

/// The contract version. A message whose `schema-version` header has another major version is
/// rejected with a clear reason; minor versions only add optional fields.
public enum SchemaVersion {
    public static let current = "1.8"
    public static let supportedMajor = 1

    /// nil if `header` (absent means current) is acceptable, else why not.
    public static func problem(with header: String?) -> String? {
        guard let header, !header.isEmpty else { return nil }
        let majorText = header.split(separator: ".", maxSplits: 1).first.map(String.init) ?? header
        guard let major = Int(majorText) else {
            return "schema-version '\(header)' is not a version number (expected \(current))"
        }
        guard major == supportedMajor else {
            return "schema-version \(header) is not supported: this service reads major version \(supportedMajor)"
        }
        return nil
    }
}

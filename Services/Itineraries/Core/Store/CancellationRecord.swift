import Foundation
import GRDB
import ServiceRuntime

/// A registration's latest cancellation (table `cancellations`), kept whether or not its
/// acceptance has arrived: an acceptance made no later than the cancellation (one that waited
/// for a retry while the cancellation overtook it, or a copy) does not bring the delegation
/// back. Only ids and the time: nothing that names a person, so erasure leaves it.
struct CancellationRecord: StoreRecord {
    static let databaseTableName = "cancellations"

    var registrationID: String
    var eventID: String
    /// When registrations cancelled it (`RegistrationCancelled.cancelledAt`).
    var cancelledAt: Date

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", eventID = "event_id", cancelledAt = "cancelled_at"
    }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime

/// Who to write to about a registration (table `contacts`): the lead contact first, then each
/// delegate with an address.
public struct ContactsRecord: StoreRecord {
    public static let databaseTableName = "contacts"

    public var registrationID: String
    public var eventID: String
    public var organisation: String
    public var country: String
    public var recipients: [Recipient]
    public var revision: Int
    public var cancelled: Bool

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", eventID = "event_id", organisation, country, recipients, revision, cancelled
    }
}

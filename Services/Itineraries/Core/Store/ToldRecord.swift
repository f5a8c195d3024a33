import Foundation
import GRDB
import Messages
import ServiceRuntime

/// What a delegation was last told (table `itineraries`): its items at a plan version, and the
/// items withdrawn since its first plan (for the `METHOD:CANCEL` calendar).
public struct ToldRecord: StoreRecord, Equatable {
    public static let databaseTableName = "itineraries"

    public var eventID: String
    public var registrationID: String
    public var version: Int
    public var items: [ItineraryItem]
    public var withdrawn: [ItineraryItem]

    public init(eventID: String, registrationID: String, version: Int, items: [ItineraryItem], withdrawn: [ItineraryItem]) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.version = version
        self.items = items
        self.withdrawn = withdrawn
    }

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", registrationID = "registration_id", version = "plan_version", items, withdrawn
    }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime

/// What notifications keeps of an event's programme (table `events`): its name, zone and
/// venue names, for the templates.
public struct EventRecord: StoreRecord {
    public static let databaseTableName = "events"

    public var eventID: String
    public var name: LocalizedText
    public var timeZone: String
    public var venues: [String: LocalizedText]
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", name, timeZone = "time_zone", venues, version
    }
}

import Foundation
import GRDB
import Messages
import Passes
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
    /// The event's last day (`YYYY-MM-DD`, in its zone); nil for an event stored before passes.
    public var lastDay: String?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", name, timeZone = "time_zone", venues, version, lastDay = "last_day"
    }

    /// When the delegates' passes expire: the end of the day after the event's last day.
    public var passesExpire: Date? { lastDay.flatMap { Pass.expiry(lastDay: $0, zone: timeZone) } }
}

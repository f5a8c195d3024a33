import Foundation
import GRDB
import Messages
import ServiceRuntime

/// An event's programme as last published (table `programmes`).
struct ProgrammeRecord: StoreRecord {
    static let databaseTableName = "programmes"

    var eventID: String
    var version: Int
    var body: ProgrammePublished

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", version, body
    }
}

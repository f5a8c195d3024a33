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
    /// The delegates' names in the delegation's order (a pass names its person by place).
    public var people: [String]?

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", eventID = "event_id", organisation, country, recipients, revision, cancelled, people
    }

    /// The passes a recipient gets: the lead contact every delegate's, a delegate their own.
    public func passes(for recipient: Recipient) -> [PassHolder] {
        let people = people ?? []
        let persons =
            recipient.email == recipients.first?.email ? Array(people.indices.map { $0 + 1 }) : recipient.person.map { [$0] } ?? []
        return persons.filter { $0 <= people.count }.map { PassHolder(person: $0, name: people[$0 - 1]) }
    }
}

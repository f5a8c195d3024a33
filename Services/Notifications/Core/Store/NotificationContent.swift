import Foundation
import Messages

/// Who a notification goes to.
public struct Recipient: Sendable, Codable, Hashable {
    public var name: String
    public var email: String
    public var language: Language
    /// Their place in the delegation (1 for its first delegate), if they are one of its delegates.
    public var person: Int?
    /// As the registration gives it (the SMS and Zalo channels need it in international form).
    public var phone: String?
    /// Their openid with the organisers' WeChat account.
    public var wechatOpenID: String?
    /// The channels they asked for, first choice first.
    public var channels: [ChannelName]?

    public init(
        name: String, email: String, language: Language, person: Int? = nil, phone: String? = nil, wechatOpenID: String? = nil,
        channels: [ChannelName]? = nil
    ) {
        self.name = name
        self.email = email
        self.language = language
        self.person = person
        self.phone = phone
        self.wechatOpenID = wechatOpenID
        self.channels = channels
    }
}

/// A delegate whose pass a notification carries: by place in the delegation, and name.
public struct PassHolder: Sendable, Codable, Hashable {
    public var person: Int
    public var name: String

    public init(person: Int, name: String) {
        self.person = person
        self.name = name
    }
}

/// What a notification says, kept until it is sent (templates render it at send time).
public struct NotificationContent: Sendable, Codable, Equatable {
    public var organisation: String
    public var reference: String?
    public var delegates: Int?
    public var position: Int?
    public var promoted: Bool?
    public var reason: String?
    public var issues: [ValidationIssue] = []
    public var items: [ItineraryItem] = []
    public var changes: [ItineraryChange] = []
    public var unmet: [UnmetPreference] = []
    public var planVersion: Int?
    /// Calendar entries the recipient received that are now withdrawn (a cancellation, or a
    /// delegate removed by an amendment): sent as an iCalendar `METHOD:CANCEL`.
    public var withdrawn: [ItineraryItem]?
    /// The recipient is no longer one of the delegation's people (an amendment removed them).
    public var removedFromDelegation: Bool?
    /// A refused amendment: the registration stands as it was.
    public var standing: RegistrationRejected.Standing?
    /// The passes it carries (acceptance and itinerary e-mails), as QR codes with short codes.
    public var passes: [PassHolder]?
    /// A reminder: how many minutes before its item (the one in `items`) it is due.
    public var reminderMinutes: Int?
    /// A reminder of a bus visit: where the delegation boards (the place of its item before
    /// on that day), when it has one.
    public var meetingPoint: String?
    /// `missing-at-departure`: who was not on board, on which bus, leaving when and where.
    public var missing: MissingAtDeparture?

    public init(organisation: String, reference: String? = nil) {
        self.organisation = organisation
        self.reference = reference
    }
}

/// Riders a bus left without (`boarding.missed`), as the lead's alert tells them.
public struct MissingAtDeparture: Sendable, Codable, Equatable {
    public var busID: String
    public var departure: Date
    public var venueID: String?
    /// Their names (as the registration gave them).
    public var people: [String]
    /// Where the lead says who will not come, if the console gave one.
    public var answerURL: String?

    public init(busID: String, departure: Date, venueID: String?, people: [String], answerURL: String?) {
        self.busID = busID
        self.departure = departure
        self.venueID = venueID
        self.people = people
        self.answerURL = answerURL
    }
}

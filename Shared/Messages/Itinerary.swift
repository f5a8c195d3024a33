import Foundation

/// One entry in a delegation's itinerary.
public struct ItineraryItem: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        case session, visit, meeting, travel
    }

    /// Stable across plan versions (the iCalendar UID is derived from it).
    public var uid: String
    public var kind: Kind
    public var title: LocalizedText
    public var venueID: String?
    public var address: String?
    public var start: Date
    public var end: Date
    public var busID: String?
    /// For a meeting: the other company.
    public var counterpart: String?
    public var table: Int?
    /// How often this item changed since it was first sent (the iCalendar `SEQUENCE`).
    public var sequence: Int

    public init(
        uid: String, kind: Kind, title: LocalizedText, venueID: String? = nil, address: String? = nil, start: Date, end: Date,
        busID: String? = nil, counterpart: String? = nil, table: Int? = nil, sequence: Int = 0
    ) {
        self.uid = uid
        self.kind = kind
        self.title = title
        self.venueID = venueID
        self.address = address
        self.start = start
        self.end = end
        self.busID = busID
        self.counterpart = counterpart
        self.table = table
        self.sequence = sequence
    }

    private enum CodingKeys: String, CodingKey { case uid, kind, title, venueID, address, start, end, busID, counterpart, table, sequence }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        uid = try c.decode(String.self, forKey: .uid)
        kind = try c.decode(Kind.self, forKey: .kind)
        title = try c.decode(LocalizedText.self, forKey: .title)
        venueID = try c.decodeIfPresent(String.self, forKey: .venueID)
        address = try c.decodeIfPresent(String.self, forKey: .address)
        start = try c.decode(Date.self, forKey: .start)
        end = try c.decode(Date.self, forKey: .end)
        busID = try c.decodeIfPresent(String.self, forKey: .busID)
        counterpart = try c.decodeIfPresent(String.self, forKey: .counterpart)
        table = try c.decodeIfPresent(Int.self, forKey: .table)
        sequence = try c.decodeIfPresent(Int.self, forKey: .sequence) ?? 0
    }
}

/// A wish the plan could not meet, and why.
public struct UnmetPreference: Sendable, Codable, Hashable {
    public enum Reason: String, Sendable, Codable, Hashable, CaseIterable {
        case full
        case closed
        case documentsMissing = "documents-missing"
        case clash
        case unknownVenue = "unknown-venue"
        /// The organisers decided otherwise (an override: the visit forbidden, the delegation
        /// put on a bus that does not go there).
        case organiser
    }

    public var venueID: String
    public var reason: Reason
    public var detail: String

    public init(venueID: String, reason: Reason, detail: String) {
        self.venueID = venueID
        self.reason = reason
        self.detail = detail
    }
}

/// `itinerary.planned`: a delegation's first itinerary.
public struct ItineraryPlanned: MessagePayload {
    public static let messageType = MessageType.itineraryPlanned

    public var eventID: String
    public var registrationID: String
    public var planVersion: Int
    public var timeZone: String
    public var items: [ItineraryItem]
    public var unmet: [UnmetPreference]
    public var plannedAt: Date

    public init(
        eventID: String, registrationID: String, planVersion: Int, timeZone: String, items: [ItineraryItem], unmet: [UnmetPreference],
        plannedAt: Date
    ) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.planVersion = planVersion
        self.timeZone = timeZone
        self.items = items
        self.unmet = unmet
        self.plannedAt = plannedAt
    }
}

/// One change to an itinerary item.
public struct ItineraryChange: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        case added, removed, moved, updated
    }

    public var uid: String
    public var kind: Kind
    public var before: ItineraryItem?
    public var after: ItineraryItem?

    public init(uid: String, kind: Kind, before: ItineraryItem?, after: ItineraryItem?) {
        self.uid = uid
        self.kind = kind
        self.before = before
        self.after = after
    }
}

/// `itinerary.changed`: what changed for this delegation since `previousVersion`, and the
/// whole itinerary as it is now.
public struct ItineraryChanged: MessagePayload {
    public static let messageType = MessageType.itineraryChanged

    public var eventID: String
    public var registrationID: String
    public var planVersion: Int
    public var previousVersion: Int
    public var timeZone: String
    public var changes: [ItineraryChange]
    public var items: [ItineraryItem]
    public var unmet: [UnmetPreference]
    public var changedAt: Date

    public init(
        eventID: String, registrationID: String, planVersion: Int, previousVersion: Int, timeZone: String,
        changes: [ItineraryChange], items: [ItineraryItem], unmet: [UnmetPreference], changedAt: Date
    ) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.planVersion = planVersion
        self.previousVersion = previousVersion
        self.timeZone = timeZone
        self.changes = changes
        self.items = items
        self.unmet = unmet
        self.changedAt = changedAt
    }
}

import Foundation

/// `programme.published`: an event's programme, complete (a new version replaces the old).
public struct ProgrammePublished: MessagePayload {
    public static let messageType = MessageType.programmePublished

    public var eventID: String
    /// Raised with every publication; older versions are ignored.
    public var version: Int
    public var name: LocalizedText
    /// IANA zone of the event, e.g. `Asia/Ho_Chi_Minh`.
    public var timeZone: String
    /// The event's days, `YYYY-MM-DD` in `timeZone`.
    public var days: [String]
    public var capacity: EventCapacity
    public var registrationDeadline: Date?
    /// Sessions everyone attends (e.g. the networking session).
    public var sessions: [FixedSession]
    public var venues: [Venue]
    public var buses: [Bus]
    public var travel: TravelTimes
    public var interpreters: [Interpreter]
    public var meetingSlots: [MeetingSlot]
    /// Contract 1.6: when the leads of delegations with riders not on board hear of it (absent:
    /// 5 minutes after the bus left).
    public var missingRiderAlerts: MissingRiderAlerts?
    public var publishedAt: Date

    public init(
        eventID: String, version: Int, name: LocalizedText, timeZone: String, days: [String], capacity: EventCapacity,
        registrationDeadline: Date? = nil, sessions: [FixedSession], venues: [Venue], buses: [Bus], travel: TravelTimes,
        interpreters: [Interpreter], meetingSlots: [MeetingSlot], missingRiderAlerts: MissingRiderAlerts? = nil, publishedAt: Date
    ) {
        self.eventID = eventID
        self.version = version
        self.name = name
        self.timeZone = timeZone
        self.days = days
        self.capacity = capacity
        self.registrationDeadline = registrationDeadline
        self.sessions = sessions
        self.venues = venues
        self.buses = buses
        self.travel = travel
        self.interpreters = interpreters
        self.meetingSlots = meetingSlots
        self.missingRiderAlerts = missingRiderAlerts
        self.publishedAt = publishedAt
    }

    /// The alerts' settings in force (the defaults where the programme says nothing).
    public var missingRiderAlertsInForce: MissingRiderAlerts { missingRiderAlerts ?? MissingRiderAlerts() }

    /// Minutes by bus from one venue to another: the matrix, else the straight line times the
    /// detour factor at the road speed (rounded up); 0 from a venue to itself or an unknown one.
    public func travelMinutes(from: String?, to: String) -> Int {
        guard let from, from != to else { return 0 }
        if let listed = travel.matrix.first(where: { $0.from == from && $0.to == to }) { return listed.minutes }
        guard let a = venues.first(where: { $0.id == from })?.coordinates, let b = venues.first(where: { $0.id == to })?.coordinates
        else { return 0 }
        return travel.minutes(km: Coordinates.haversineKm(a, b))
    }
}

/// When a bus leaves without some of its riders, their lead hears of it (`boarding.missed`).
public struct MissingRiderAlerts: Sendable, Codable, Hashable {
    /// False: nobody is told (the console still lists who is missing).
    public var enabled: Bool
    /// How long after the bus left (0–120); a rider checked in by then is not missing.
    public var afterMinutes: Int

    public init(enabled: Bool = true, afterMinutes: Int = 5) {
        self.enabled = enabled
        self.afterMinutes = afterMinutes
    }

    private enum CodingKeys: String, CodingKey { case enabled, afterMinutes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        afterMinutes = try c.decodeIfPresent(Int.self, forKey: .afterMinutes) ?? 5
        guard (0...120).contains(afterMinutes) else {
            throw DecodingError.dataCorruptedError(forKey: .afterMinutes, in: c, debugDescription: "afterMinutes must be 0 to 120")
        }
    }
}

/// How many may register: organisations and people. Registrations beyond either wait.
public struct EventCapacity: Sendable, Codable, Hashable {
    public var organisations: Int
    public var delegates: Int

    public init(organisations: Int, delegates: Int) {
        self.organisations = organisations
        self.delegates = delegates
    }
}

public struct FixedSession: Sendable, Codable, Hashable {
    public var id: String
    public var title: LocalizedText
    public var venueID: String
    public var start: Date
    public var end: Date

    public init(id: String, title: LocalizedText, venueID: String, start: Date, end: Date) {
        self.id = id
        self.title = title
        self.venueID = venueID
        self.start = start
        self.end = end
    }
}

/// A place: the session hall, or a site to visit.
public struct Venue: Sendable, Codable, Hashable {
    public var id: String
    public var name: LocalizedText
    public var address: String
    public var coordinates: Coordinates
    /// When visits may take place.
    public var openingWindows: [TimeWindow]
    public var visitMinutes: Int
    /// People per visit (one visit group at a time).
    public var capacityPerVisit: Int
    public var topics: [String]
    /// Set for sites that need identity documents in advance (port, free trade zone).
    public var restrictedAccess: RestrictedAccess?
    /// False for the session hall: not a site visit.
    public var isSiteVisit: Bool

    public init(
        id: String, name: LocalizedText, address: String, coordinates: Coordinates, openingWindows: [TimeWindow],
        visitMinutes: Int, capacityPerVisit: Int, topics: [String], restrictedAccess: RestrictedAccess? = nil, isSiteVisit: Bool = true
    ) {
        self.id = id
        self.name = name
        self.address = address
        self.coordinates = coordinates
        self.openingWindows = openingWindows
        self.visitMinutes = visitMinutes
        self.capacityPerVisit = capacityPerVisit
        self.topics = topics
        self.restrictedAccess = restrictedAccess
        self.isSiteVisit = isSiteVisit
    }

    private enum CodingKeys: String, CodingKey {
        case id, name, address, coordinates, openingWindows, visitMinutes, capacityPerVisit, topics, restrictedAccess, isSiteVisit
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decode(LocalizedText.self, forKey: .name)
        address = try c.decode(String.self, forKey: .address)
        coordinates = try c.decode(Coordinates.self, forKey: .coordinates)
        openingWindows = try c.decode([TimeWindow].self, forKey: .openingWindows)
        visitMinutes = try c.decode(Int.self, forKey: .visitMinutes)
        capacityPerVisit = try c.decode(Int.self, forKey: .capacityPerVisit)
        topics = try c.decodeIfPresent([String].self, forKey: .topics) ?? []
        restrictedAccess = try c.decodeIfPresent(RestrictedAccess.self, forKey: .restrictedAccess)
        isSiteVisit = try c.decodeIfPresent(Bool.self, forKey: .isSiteVisit) ?? true
    }
}

public struct RestrictedAccess: Sendable, Codable, Hashable {
    /// Accepted document kinds.
    public var documents: [IdentityDocument.Kind]
    /// Documents must be complete by then.
    public var deadline: Date

    public init(documents: [IdentityDocument.Kind], deadline: Date) {
        self.documents = documents
        self.deadline = deadline
    }
}

public struct Bus: Sendable, Codable, Hashable {
    public var id: String
    public var seats: Int

    public init(id: String, seats: Int) {
        self.id = id
        self.seats = seats
    }
}

/// Travel times between venues: listed pairs, else computed from coordinates.
public struct TravelTimes: Sendable, Codable, Hashable {
    public var matrix: [TravelTime]
    /// For pairs not in `matrix`: straight-line distance × `detourFactor` at `roadSpeedKmh`.
    public var roadSpeedKmh: Double
    public var detourFactor: Double

    public init(matrix: [TravelTime] = [], roadSpeedKmh: Double = 30, detourFactor: Double = 1.4) {
        self.matrix = matrix
        self.roadSpeedKmh = roadSpeedKmh
        self.detourFactor = detourFactor
    }

    private enum CodingKeys: String, CodingKey { case matrix, roadSpeedKmh, detourFactor }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        matrix = try c.decodeIfPresent([TravelTime].self, forKey: .matrix) ?? []
        roadSpeedKmh = try c.decodeIfPresent(Double.self, forKey: .roadSpeedKmh) ?? 30
        detourFactor = try c.decodeIfPresent(Double.self, forKey: .detourFactor) ?? 1.4
    }

    /// Minutes by road for `km` as the crow flies: times the detour factor, at the road speed,
    /// rounded up.
    public func minutes(km: Double) -> Int { Int((km * detourFactor / max(1, roadSpeedKmh) * 60).rounded(.up)) }
}

public struct TravelTime: Sendable, Codable, Hashable {
    public var from: String
    public var to: String
    public var minutes: Int

    public init(from: String, to: String, minutes: Int) {
        self.from = from
        self.to = to
        self.minutes = minutes
    }
}

public struct Interpreter: Sendable, Codable, Hashable {
    public var id: String
    public var languages: [Language]

    public init(id: String, languages: [Language]) {
        self.id = id
        self.languages = languages
    }
}

/// A time slot for company-to-company meetings, with so many tables.
public struct MeetingSlot: Sendable, Codable, Hashable {
    public var id: String
    public var venueID: String
    public var start: Date
    public var end: Date
    public var tables: Int

    public init(id: String, venueID: String, start: Date, end: Date, tables: Int) {
        self.id = id
        self.venueID = venueID
        self.start = start
        self.end = end
        self.tables = tables
    }
}

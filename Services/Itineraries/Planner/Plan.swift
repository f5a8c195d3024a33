import Foundation
import Messages

/// A plan for one event: bus tours per day, meetings, and what could not be met.
public struct Plan: Sendable, Codable, Equatable {
    public var eventID: String
    public var programmeVersion: Int
    public var tours: [Tour]
    public var meetings: [Meeting]
    /// Preferences not met, by delegation id.
    public var unmet: [String: [UnmetPreference]]
    /// Every delegation the plan was made for (placed or not), so a re-plan can tell newcomers.
    public var delegations: [String]
    /// Overrides this plan does not keep (contradictory, or no plan can), by id, with the reason.
    public var unmetOverrides: [String: String]
    /// The visit value each override in force costs (what the plan would gain without it), by id.
    public var overrideCosts: [String: Double]

    public init(
        eventID: String, programmeVersion: Int, tours: [Tour], meetings: [Meeting], unmet: [String: [UnmetPreference]],
        delegations: [String] = []
    ) {
        self.eventID = eventID
        self.programmeVersion = programmeVersion
        self.tours = tours
        self.meetings = meetings
        self.unmet = unmet
        self.delegations = delegations
        unmetOverrides = [:]
        overrideCosts = [:]
    }

    private enum CodingKeys: String, CodingKey {
        case eventID, programmeVersion, tours, meetings, unmet, delegations, unmetOverrides, overrideCosts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventID = try c.decode(String.self, forKey: .eventID)
        programmeVersion = try c.decode(Int.self, forKey: .programmeVersion)
        tours = try c.decode([Tour].self, forKey: .tours)
        meetings = try c.decode([Meeting].self, forKey: .meetings)
        unmet = try c.decodeIfPresent([String: [UnmetPreference]].self, forKey: .unmet) ?? [:]
        delegations = try c.decodeIfPresent([String].self, forKey: .delegations) ?? []
        unmetOverrides = try c.decodeIfPresent([String: String].self, forKey: .unmetOverrides) ?? [:]
        overrideCosts = try c.decodeIfPresent([String: Double].self, forKey: .overrideCosts) ?? [:]
    }

    /// The tour a delegation rides on `day`, if any.
    public func tour(of delegationID: String, on day: String) -> Tour? {
        tours.first { $0.day == day && $0.passengers.contains(delegationID) }
    }
}

/// One bus on one day: where it stops and who rides it.
public struct Tour: Sendable, Codable, Equatable {
    public var busID: String
    /// `YYYY-MM-DD` in the event's time zone.
    public var day: String
    /// Leaves the session venue at `departure`.
    public var departure: Date
    public var stops: [Stop]
    /// Delegation ids, sorted.
    public var passengers: [String]
    public var interpreterID: String?

    public var id: String { "\(busID)@\(day)" }

    public init(busID: String, day: String, departure: Date, stops: [Stop], passengers: [String], interpreterID: String? = nil) {
        self.busID = busID
        self.day = day
        self.departure = departure
        self.stops = stops
        self.passengers = passengers
        self.interpreterID = interpreterID
    }
}

/// A visit: the group is at `venueID` from `arrival` to `departure`.
public struct Stop: Sendable, Codable, Equatable {
    public var venueID: String
    public var arrival: Date
    public var departure: Date

    public init(venueID: String, arrival: Date, departure: Date) {
        self.venueID = venueID
        self.arrival = arrival
        self.departure = departure
    }
}

/// A company-to-company meeting at a table in a slot.
public struct Meeting: Sendable, Codable, Equatable {
    public var slotID: String
    public var table: Int
    public var visitorID: String
    public var hostID: String
    /// Both sides share interests (not only one).
    public var mutual: Bool

    public init(slotID: String, table: Int, visitorID: String, hostID: String, mutual: Bool) {
        self.slotID = slotID
        self.table = table
        self.visitorID = visitorID
        self.hostID = hostID
        self.mutual = mutual
    }
}

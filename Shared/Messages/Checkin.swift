import Foundation

/// `checkin.recorded` (contract 1.5): a marshal checked a delegate in on the day itself, as
/// boarding a bus at a stop or arriving at a venue's gate, by scanning their pass, typing its
/// short code, or on the lead's word for the group. Published by the organisers' console, with
/// confirms; the console's read model counts boarded against expected from it.
public struct CheckinRecorded: MessagePayload {
    public static let messageType = MessageType.checkinRecorded

    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        /// Got on `busID` at the stop `venueID`.
        case boarded
        /// Came through the gate of `venueID`.
        case arrived
    }

    public enum Method: String, Sendable, Codable, Hashable, CaseIterable {
        /// The pass's QR code, scanned.
        case scan
        /// The short code printed under it, typed.
        case code
        /// The delegation's lead confirmed for the group.
        case lead
    }

    /// Made by the device that recorded it: the same check-in sent twice is one.
    public var checkinID: String
    public var eventID: String
    public var registrationID: String
    /// The person's place in the delegation (1 for its first delegate), as the pass names them.
    public var person: Int
    public var kind: Kind
    /// The event's day (`YYYY-MM-DD`, its zone).
    public var day: String
    public var busID: String?
    /// The stop or the gate: a venue of the programme.
    public var venueID: String?
    public var method: Method
    /// The console account that recorded it (not a person's contact details).
    public var marshal: String
    /// When it was scanned (on the device, which may have been offline for a while).
    public var scannedAt: Date

    public init(
        checkinID: String, eventID: String, registrationID: String, person: Int, kind: Kind, day: String, busID: String? = nil,
        venueID: String? = nil, method: Method, marshal: String, scannedAt: Date
    ) {
        self.checkinID = checkinID
        self.eventID = eventID
        self.registrationID = registrationID
        self.person = person
        self.kind = kind
        self.day = day
        self.busID = busID
        self.venueID = venueID
        self.method = method
        self.marshal = marshal
        self.scannedAt = scannedAt
    }
}

/// `boarding.missed` (contract 1.6): when a bus left (a few minutes after, as the event's
/// programme says), some of a delegation's riders had not been checked in on board. Published
/// once per delegation, bus and day by the organisers' console; notifications tells the
/// delegation's lead at once, in their language, and where the console can be reached, with a
/// link to answer who will not come (`attendance.declined`).
public struct BoardingMissed: MessagePayload {
    public static let messageType = MessageType.boardingMissed

    /// `<registrationID>~<day>~<busID>`: one alert per delegation, bus and day.
    public var alertID: String
    public var eventID: String
    public var registrationID: String
    /// The event's day (`YYYY-MM-DD`, its zone).
    public var day: String
    public var busID: String
    /// Where the bus left from (the venue of the day's session before its tour), if known.
    public var venueID: String?
    /// When the bus left.
    public var departure: Date
    /// The riders not on board, by their place in the delegation (1 for its first delegate).
    public var persons: [Int]
    /// A page where the lead says who will not come today (signed; valid to the end of the day).
    public var answerURL: String?
    public var raisedAt: Date

    public init(
        alertID: String, eventID: String, registrationID: String, day: String, busID: String, venueID: String? = nil, departure: Date,
        persons: [Int], answerURL: String? = nil, raisedAt: Date
    ) {
        self.alertID = alertID
        self.eventID = eventID
        self.registrationID = registrationID
        self.day = day
        self.busID = busID
        self.venueID = venueID
        self.departure = departure
        self.persons = persons
        self.answerURL = answerURL
        self.raisedAt = raisedAt
    }
}

/// `attendance.declined` (contract 1.6): some of a delegation's people will not come for the
/// rest of a day (its lead answered a `boarding.missed` alert, or told a marshal). Published by
/// the organisers' console; they are no longer expected anywhere that day, and itineraries frees
/// their seats: the day's tours count them out, and a re-plan may fill the seats with
/// delegations that have none.
public struct AttendanceDeclined: MessagePayload {
    public static let messageType = MessageType.attendanceDeclined

    public enum Source: String, Sendable, Codable, Hashable, CaseIterable {
        /// The lead, through the link in the alert.
        case lead
        /// A marshal or organiser, in the console.
        case console
    }

    /// Made by the console: the same answer sent twice is one.
    public var declineID: String
    public var eventID: String
    public var registrationID: String
    /// By their place in the delegation (1 for its first delegate).
    public var persons: [Int]
    /// The event's day (`YYYY-MM-DD`, its zone).
    public var day: String
    public var source: Source
    /// The console account that recorded it, for `console`.
    public var recordedBy: String?
    public var declinedAt: Date

    public init(
        declineID: String, eventID: String, registrationID: String, persons: [Int], day: String, source: Source, recordedBy: String? = nil,
        declinedAt: Date
    ) {
        self.declineID = declineID
        self.eventID = eventID
        self.registrationID = registrationID
        self.persons = persons
        self.day = day
        self.source = source
        self.recordedBy = recordedBy
        self.declinedAt = declinedAt
    }
}

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

import Foundation
import Messages
import Synchronization

/// An iCalendar object (RFC 5545) with events in one time zone: what itineraries export and
/// notifications attach.
///
/// Output rules: CRLF line ends; lines folded at 75 octets without splitting a UTF-8 character;
/// TEXT values escaped; one `VTIMEZONE` for the one `TZID` used, with a component per UTC offset
/// the zone has over the events' span (so no recurrence rules are needed); `UID`s are the
/// caller's stable ids; `SEQUENCE` is the caller's revision count.
public struct ICalendar: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// A plain published calendar.
        case publish = "PUBLISH"
        /// A scheduling request (events added or changed).
        case request = "REQUEST"
        /// Events withdrawn.
        case cancel = "CANCEL"
    }

    public var method: Method
    public var name: String
    /// IANA zone, e.g. `Asia/Ho_Chi_Minh`.
    public var timeZone: String
    public var events: [CalendarEvent]
    public var productID = "-//Delegation Backend//Itineraries 1.0//EN"
    /// Who sends the calendar (`ORGANIZER`), and to whom (`ATTENDEE`): calendar programs match
    /// a `CANCEL` to the entry it withdraws by UID and organizer.
    public var organizer: Person?
    public var attendee: Person?

    /// A name and an e-mail address.
    public struct Person: Sendable, Equatable {
        public var name: String
        public var email: String

        public init(name: String, email: String) {
            self.name = name
            self.email = email
        }
    }

    public init(method: Method, name: String, timeZone: String, events: [CalendarEvent], organizer: Person? = nil, attendee: Person? = nil)
    {
        self.method = method
        self.name = name
        self.timeZone = timeZone
        self.events = events
        self.organizer = organizer
        self.attendee = attendee
    }

    /// The text of the calendar; `stamp` is `DTSTAMP` (when the object was made).
    public func render(stamp: Date) -> String {
        let zone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0) ?? .current
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:\(productID)", "CALSCALE:GREGORIAN", "METHOD:\(method.rawValue)",
            "X-WR-CALNAME:\(Self.escape(name))", "X-WR-TIMEZONE:\(timeZone)",
        ]
        lines += timeZoneComponent(zone)
        for event in events {
            lines.append("BEGIN:VEVENT")
            lines.append("UID:\(event.uid)")
            lines.append("DTSTAMP:\(Self.utc(stamp))")
            lines.append("DTSTART;TZID=\(timeZone):\(Self.local(event.start, zone))")
            lines.append("DTEND;TZID=\(timeZone):\(Self.local(event.end, zone))")
            lines.append("SEQUENCE:\(event.sequence)")
            if let organizer { lines.append("ORGANIZER;CN=\(Self.parameter(organizer.name)):mailto:\(organizer.email)") }
            if let attendee { lines.append("ATTENDEE;CN=\(Self.parameter(attendee.name));ROLE=REQ-PARTICIPANT:mailto:\(attendee.email)") }
            lines.append("SUMMARY:\(Self.escape(event.summary))")
            if let location = event.location { lines.append("LOCATION:\(Self.escape(location))") }
            if let geo = event.geo { lines.append("GEO:\(geo.latitude);\(geo.longitude)") }
            if let description = event.description { lines.append("DESCRIPTION:\(Self.escape(description))") }
            lines.append("STATUS:\(method == .cancel || event.cancelled ? "CANCELLED" : "CONFIRMED")")
            lines.append("TRANSP:OPAQUE")
            lines.append("END:VEVENT")
        }
        lines.append("END:VCALENDAR")
        return lines.map(Self.fold).joined(separator: "\r\n") + "\r\n"
    }

    /// One STANDARD component per distinct offset in force over the events' span. The same
    /// zone over the same span gives the same lines (every delegate of an event gets them), so
    /// they are kept: the zone's rules and names come from ICU, which is slow to ask.
    private func timeZoneComponent(_ zone: TimeZone) -> [String] {
        let start = (events.map(\.start).min() ?? Date()).addingTimeInterval(-86_400)
        let end = (events.map(\.end).max() ?? Date()).addingTimeInterval(86_400)
        let key = "\(timeZone)|\(start.timeIntervalSince1970)|\(end.timeIntervalSince1970)"
        if let kept = Self.timeZoneComponents.withLock({ $0[key] }) { return kept }
        let lines = Self.timeZoneComponent(zone, named: timeZone, from: start, to: end)
        Self.timeZoneComponents.withLock { kept in
            if kept.count >= 256 { kept.removeAll() }
            kept[key] = lines
        }
        return lines
    }

    private static let timeZoneComponents = Mutex<[String: [String]]>([:])

    private static func timeZoneComponent(_ zone: TimeZone, named timeZone: String, from start: Date, to end: Date) -> [String] {
        var lines = ["BEGIN:VTIMEZONE", "TZID:\(timeZone)"]
        var offset = zone.secondsFromGMT(for: start)
        var from = start
        var components: [(start: Date, from: Int, to: Int, daylight: Bool)] = [
            (Date(timeIntervalSince1970: 0), offset, offset, zone.isDaylightSavingTime(for: start))
        ]
        while let transition = zone.nextDaylightSavingTimeTransition(after: from), transition < end {
            let next = zone.secondsFromGMT(for: transition)
            components.append((transition, offset, next, zone.isDaylightSavingTime(for: transition)))
            offset = next
            from = transition
        }
        var utc = TimeZone(secondsFromGMT: 0) ?? zone
        for component in components {
            let kind = component.daylight ? "DAYLIGHT" : "STANDARD"
            utc = TimeZone(secondsFromGMT: component.from) ?? utc
            lines += [
                "BEGIN:\(kind)", "DTSTART:\(Self.local(component.start, utc))", "TZOFFSETFROM:\(Self.offset(component.from))",
                "TZOFFSETTO:\(Self.offset(component.to))",
                "TZNAME:\(zone.abbreviation(for: component.start.addingTimeInterval(1)) ?? Self.offset(component.to))",
                "END:\(kind)",
            ]
        }
        lines.append("END:VTIMEZONE")
        return lines
    }

    static func offset(_ seconds: Int) -> String {
        let minutes = abs(seconds) / 60
        return (seconds < 0 ? "-" : "+") + RFC3339.pad(minutes / 60, 2) + RFC3339.pad(minutes % 60, 2)
    }

    /// `20260113T133000` in `zone`.
    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let (days, time) = zone.wallClock(at: date)
        let (year, month, day) = RFC3339.civilFromDays(days)
        return RFC3339.pad(year, 4) + RFC3339.pad(month, 2) + RFC3339.pad(day, 2) + "T" + RFC3339.pad(time / 3600, 2)
            + RFC3339.pad(time % 3600 / 60, 2)
            + RFC3339.pad(time % 60, 2)
    }

    static func utc(_ date: Date) -> String {
        local(date, TimeZone(secondsFromGMT: 0) ?? .current) + "Z"
    }

    /// TEXT escaping (RFC 5545 §3.3.11).
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n", "\r\n", "\r": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A parameter value (§3.2): quoted, since a name may hold `,`, `;` or `:`; quotes and
    /// line breaks, which a parameter cannot hold, are dropped.
    static func parameter(_ text: String) -> String {
        "\"" + text.filter { $0 != "\"" && !$0.isNewline } + "\""
    }

    /// Folds a content line at 75 octets (§3.1), never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        guard line.utf8.count > 75 else { return line }
        var folded = ""
        var current = 0
        var limit = 75
        for scalar in line.unicodeScalars {
            let size = scalar.utf8.count
            if current + size > limit {
                folded += "\r\n "
                current = 0
                limit = 74  // the leading space counts
            }
            folded.unicodeScalars.append(scalar)
            current += size
        }
        return folded
    }
}

/// One event in an `ICalendar`.
public struct CalendarEvent: Sendable, Equatable {
    public var uid: String
    public var start: Date
    public var end: Date
    public var summary: String
    public var location: String?
    public var description: String?
    public var geo: (latitude: Double, longitude: Double)?
    public var sequence: Int
    public var cancelled: Bool

    public init(
        uid: String, start: Date, end: Date, summary: String, location: String? = nil, description: String? = nil,
        geo: (latitude: Double, longitude: Double)? = nil, sequence: Int = 0, cancelled: Bool = false
    ) {
        self.uid = uid
        self.start = start
        self.end = end
        self.summary = summary
        self.location = location
        self.description = description
        self.geo = geo
        self.sequence = sequence
        self.cancelled = cancelled
    }

    public static func == (a: CalendarEvent, b: CalendarEvent) -> Bool {
        a.uid == b.uid && a.start == b.start && a.end == b.end && a.summary == b.summary && a.location == b.location
            && a.description == b.description && a.geo?.latitude == b.geo?.latitude && a.geo?.longitude == b.geo?.longitude
            && a.sequence == b.sequence && a.cancelled == b.cancelled
    }
}

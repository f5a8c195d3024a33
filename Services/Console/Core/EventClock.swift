import Foundation

/// Times in an event's zone, formatted and read by arithmetic: pages show thousands, and a
/// `DateFormatter` made per call costs more than the page.
public struct EventClock: Sendable {
    let zone: TimeZone

    public init(zone identifier: String) { zone = TimeZone(identifier: identifier) ?? .gmt }

    /// `HH:mm`.
    public func time(_ date: Date) -> String {
        let minutes = ((local(date) / 60) % 1440 + 1440) % 1440
        return Self.two(minutes / 60) + ":" + Self.two(minutes % 60)
    }

    /// `yyyy-MM-dd`.
    public func day(_ date: Date) -> String {
        let (year, month, day) = Self.civil(days: Int((Double(local(date)) / 86400).rounded(.down)))
        return String(year) + "-" + Self.two(month) + "-" + Self.two(day)
    }

    /// `yyyy-MM-dd HH:mm`.
    public func full(_ date: Date) -> String { day(date) + " " + time(date) }

    /// `day` (`yyyy-MM-dd`) at `time` (`HH:mm`) in the zone; nil if either is not one.
    public func moment(day: String, time: String) -> Date? {
        let date = day.split(separator: "-").compactMap { Int($0) }
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard date.count == 3, clock.count == 2, (1...12).contains(date[1]), (1...31).contains(date[2]), (0..<24).contains(clock[0]),
            (0..<60).contains(clock[1])
        else { return nil }
        let local = Double(Self.days(year: date[0], month: date[1], day: date[2]) * 86400 + clock[0] * 3600 + clock[1] * 60)
        // The zone's offset at about that moment, then at the moment itself (a change of offset that day).
        let guess = Date(timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: local))))
        return Date(timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: guess)))
    }

    private func local(_ date: Date) -> Int { Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date) }

    private static func two(_ value: Int) -> String { value < 10 ? "0" + String(value) : String(value) }

    /// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days from 1970-01-01 to the date (`days_from_civil`).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

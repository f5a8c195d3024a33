import Foundation
import Messages

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
        let (year, month, day) = RFC3339.civilFromDays(Int((Double(local(date)) / 86400).rounded(.down)))
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
        let local = Double(RFC3339.daysFromCivil(year: date[0], month: date[1], day: date[2]) * 86400 + clock[0] * 3600 + clock[1] * 60)
        // The zone's offset at about that moment, then at the moment itself (a change of offset that day).
        let guess = Date(timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: local))))
        return Date(timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: guess)))
    }

    private func local(_ date: Date) -> Int { Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date) }

    private static func two(_ value: Int) -> String { value < 10 ? "0" + String(value) : String(value) }
}

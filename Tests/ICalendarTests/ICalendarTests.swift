import Foundation
import TestSupport
import Testing

@testable import ICalendar

@Suite struct ICalendarTests {
    static let stamp = Date(timeIntervalSince1970: 1_767_319_200)  // 2026-01-02T02:00:00Z

    static func itinerary(method: ICalendar.Method = .publish) -> ICalendar {
        ICalendar(
            method: method, name: "Hành trình – 深圳市海联跨境物流有限公司", timeZone: "Asia/Ho_Chi_Minh",
            events: [
                CalendarEvent(
                    uid: "visit-7f3a@itineraries.delegation", start: Samples.danang(13, 30), end: Samples.danang(14, 30),
                    summary: "Enosta Space – Da Nang Innovation Hub; visit, bus 45a",
                    location: "280–282 Tran Hung Dao Street, Da Nang Software Park No. 2",
                    description: String(repeating: "Tham quan trung tâm đổi mới sáng tạo, 参观创新中心。", count: 4)
                        + "\nBring passports.",
                    geo: (16.0678, 108.2297), sequence: 2),
                CalendarEvent(
                    uid: "session-1@itineraries.delegation", start: Samples.danang(8, 30), end: Samples.danang(11),
                    summary: "Networking session", sequence: 0),
            ])
    }

    @Test func linesAreCRLFFoldedAt75OctetsWithoutBreakingCharacters() {
        let text = Self.itinerary().render(stamp: Self.stamp)
        #expect(text.hasSuffix("\r\n"))
        let lines = text.components(separatedBy: "\r\n").dropLast()
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "no bare LF")
        for line in lines {
            #expect(line.utf8.count <= 75, "too long: \(line)")
            #expect(String(validating: Array(line.utf8), as: UTF8.self) != nil, "a fold split a character")
        }
        let unfolded = text.replacingOccurrences(of: "\r\n ", with: "")
        #expect(
            unfolded.contains(
                "DESCRIPTION:" + String(repeating: "Tham quan trung tâm đổi mới sáng tạo\\, 参观创新中心。", count: 4)
                    + "\\nBring passports."))
        #expect(unfolded.contains("SUMMARY:Enosta Space – Da Nang Innovation Hub\\; visit\\, bus 45a"))
    }

    @Test func oneTimeZoneDefinitionAndLocalTimesWithTZID() {
        let text = Self.itinerary().render(stamp: Self.stamp)
        #expect(text.components(separatedBy: "BEGIN:VTIMEZONE").count == 2)
        #expect(text.contains("TZID:Asia/Ho_Chi_Minh\r\n"))
        #expect(text.contains("TZOFFSETTO:+0700"))
        #expect(text.contains("DTSTART;TZID=Asia/Ho_Chi_Minh:20260113T133000"))
        #expect(text.contains("DTSTAMP:20260102T020000Z"))
        #expect(text.contains("SEQUENCE:2"))
    }

    /// Local times are worked out without a `Calendar` (it is slow per call): they must be what
    /// Foundation's Gregorian calendar says, in zones east and west, with half and quarter hours,
    /// across daylight saving changes, leap days and centuries, before 1970 and at fractions of
    /// a second; and the offsets signed and padded.
    @Test func localTimesAndOffsetsAreFoundationsGregorianCalendars() throws {
        let zones = ["Asia/Ho_Chi_Minh", "America/New_York", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "UTC"]
        for name in zones {
            let zone = try #require(TimeZone(identifier: name))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            var instant = -400_000_000.25  // 1957, and a quarter of a second before a whole one
            while instant < 4_200_000_000 {  // 2103
                let date = Date(timeIntervalSince1970: instant)
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
                let expected = String(
                    format: "%04d%02d%02dT%02d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
                #expect(ICalendar.local(date, zone) == expected, "\(name) at \(instant)")
                instant += 3_203_117.5  // about 37 days, at another time of day each step
            }
        }
        #expect(ICalendar.local(Date(timeIntervalSince1970: 951_825_600), try #require(TimeZone(identifier: "UTC"))) == "20000229T120000")
        #expect(ICalendar.offset(25_200) == "+0700")
        #expect(ICalendar.offset(-12_600) == "-0330")
        #expect(ICalendar.offset(45_900) == "+1245")
        #expect(ICalendar.offset(0) == "+0000")
    }

    /// Parses with Python's icalendar (Debian's python3-icalendar) and reads the events back.
    func parsed(_ calendar: ICalendar) async throws -> [[String: String]] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString).ics")
        try calendar.render(stamp: Self.stamp).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import icalendar, json, sys
            cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
            out = []
            for e in cal.walk('VEVENT'):
                out.append({'uid': str(e['UID']), 'start': e.decoded('DTSTART').isoformat(), 'end': e.decoded('DTEND').isoformat(),
                            'summary': str(e['SUMMARY']), 'sequence': str(e.get('SEQUENCE')), 'status': str(e.get('STATUS')),
                            'method': str(cal.get('METHOD')), 'description': str(e.get('DESCRIPTION', ''))})
            print(json.dumps(out))
            """
        let output = try await TestBroker.run("/usr/bin/python3", ["-c", script, file.path])
        return try JSONDecoder().decode([[String: String]].self, from: Data(output.utf8))
    }

    @Test func pythonICalendarReadsTheEventsBack() async throws {
        let events = try await parsed(Self.itinerary())
        #expect(events.count == 2)
        let visit = try #require(events.first { $0["uid"] == "visit-7f3a@itineraries.delegation" })
        #expect(visit["start"] == "2026-01-13T13:30:00+07:00")
        #expect(visit["end"] == "2026-01-13T14:30:00+07:00")
        #expect(visit["summary"] == "Enosta Space – Da Nang Innovation Hub; visit, bus 45a")
        #expect(visit["sequence"] == "2")
        #expect(visit["status"] == "CONFIRMED")
        #expect(visit["method"] == "PUBLISH")
        #expect(visit["description"]?.hasSuffix("\nBring passports.") == true)
    }

    @Test func aCancellationCalendarMarksEventsCancelled() async throws {
        var calendar = Self.itinerary(method: .cancel)
        calendar.events = [calendar.events[0]]
        calendar.events[0].sequence = 3
        let events = try await parsed(calendar)
        #expect(events.map { $0["status"] } == ["CANCELLED"])
        #expect(events.first?["method"] == "CANCEL")
        #expect(events.first?["sequence"] == "3")
    }

    @Test func aZoneWithDaylightSavingGetsOneComponentPerOffset() async throws {
        var calendar = ICalendar(method: .publish, name: "Berlin", timeZone: "Europe/Berlin", events: [])
        let winter = Date(timeIntervalSince1970: 1_774_000_000)  // 2026-03-20, CET
        let summer = Date(timeIntervalSince1970: 1_775_000_000)  // 2026-04-01, CEST
        calendar.events = [
            CalendarEvent(uid: "w", start: winter, end: winter.addingTimeInterval(3600), summary: "winter"),
            CalendarEvent(uid: "s", start: summer, end: summer.addingTimeInterval(3600), summary: "summer"),
        ]
        let text = calendar.render(stamp: Self.stamp)
        #expect(text.contains("BEGIN:DAYLIGHT"))
        #expect(text.contains("TZOFFSETTO:+0200"))
        let events = try await parsed(calendar)
        let formatter = ISO8601DateFormatter()
        #expect(events.first { $0["uid"] == "w" }?["start"].flatMap(formatter.date(from:)) == winter)
        #expect(events.first { $0["uid"] == "s" }?["start"].flatMap(formatter.date(from:)) == summer)
        #expect(events.first { $0["uid"] == "s" }?["start"]?.hasSuffix("+02:00") == true)
    }
}

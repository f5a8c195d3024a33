import Foundation
import Messages

/// Small, valid messages for service tests, from the Da Nang scenario.
public enum Samples {
    /// 2026-01-13 at `hour`:`minute` in Da Nang (UTC+7).
    public static func danang(day: Int = 13, _ hour: Int, _ minute: Int = 0) -> Date {
        var components = DateComponents()
        (components.year, components.month, components.day, components.hour, components.minute) = (2026, 1, day, hour, minute)
        components.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        return Calendar(identifier: .gregorian).date(from: components) ?? Date(timeIntervalSince1970: 0)
    }

    /// The sample events are in January 2026: tests that run a registrations service keep their
    /// data this long (days), so that the retention schedule does not erase it meanwhile.
    public static let retentionDays = 3650
    public static var retention: Double { Double(retentionDays) * 86400 }

    public static func programme(
        eventID: String = "danang-2026-01", version: Int = 1, organisations: Int = 40, delegates: Int = 200, deadline: Date? = nil
    ) -> ProgrammePublished {
        let hub = Venue(
            id: "enosta-hub",
            name: LocalizedText(
                en: "Enosta Space – Da Nang Innovation Hub", vi: "Enosta Space – Trung tâm Đổi mới Sáng tạo Đà Nẵng"),
            address: "280–282 Tran Hung Dao Street, Da Nang Software Park No. 2",
            coordinates: Coordinates(latitude: 16.0678, longitude: 108.2297),
            openingWindows: [TimeWindow(start: danang(13, 13), end: danang(13, 17))], visitMinutes: 60, capacityPerVisit: 40,
            topics: ["startups", "ai"])
        let port = Venue(
            id: "lien-chieu-port", name: LocalizedText(en: "Lien Chieu Port", vi: "Cảng Liên Chiểu"), address: "Lien Chieu, Da Nang",
            coordinates: Coordinates(latitude: 16.1197, longitude: 108.1339),
            openingWindows: [TimeWindow(start: danang(day: 14, 8), end: danang(day: 14, 11))], visitMinutes: 90, capacityPerVisit: 45,
            topics: ["logistics"], restrictedAccess: RestrictedAccess(documents: [.passport], deadline: danang(day: 10, 17)))
        let hall = Venue(
            id: "networking-hall", name: LocalizedText(en: "Networking hall"), address: "Da Nang",
            coordinates: Coordinates(latitude: 16.06, longitude: 108.22),
            openingWindows: [], visitMinutes: 0, capacityPerVisit: 300, topics: [], isSiteVisit: false)
        return ProgrammePublished(
            eventID: eventID, version: version, name: LocalizedText(en: "Da Nang – China business networking"),
            timeZone: "Asia/Ho_Chi_Minh",
            days: ["2026-01-13", "2026-01-14"], capacity: EventCapacity(organisations: organisations, delegates: delegates),
            registrationDeadline: deadline,
            sessions: [
                FixedSession(
                    id: "networking", title: LocalizedText(en: "Networking session"), venueID: "networking-hall", start: danang(9),
                    end: danang(11, 30))
            ],
            venues: [hall, hub, port], buses: [Bus(id: "bus-1", seats: 45)], travel: TravelTimes(),
            interpreters: [Interpreter(id: "int-1", languages: [.chineseSimplified, .vietnamese])],
            meetingSlots: [MeetingSlot(id: "slot-1", venueID: "networking-hall", start: danang(11, 30), end: danang(12), tables: 10)],
            publishedAt: danang(day: 5, 9))
    }

    public static func submission(
        eventID: String = "danang-2026-01", reference: String, revision: Int = 1, delegates: Int = 2,
        name: String = "Shenzhen Logistics Co."
    ) -> RegistrationSubmitted {
        let people = (0..<delegates).map { index in
            Delegate(
                name: "Delegate \(index + 1)", title: "Manager", email: "d\(index + 1).\(reference)@example.cn",
                language: .chineseSimplified,
                needsInterpreter: index == 0,
                identityDocument: IdentityDocument(
                    kind: .passport, number: "E\(String(format: "%08d", index + 1))", issuingCountry: "CN",
                    fullName: "DELEGATE \(index + 1)", dateOfBirth: "1980-05-01", expiresOn: "2031-01-01"))
        }
        let delegation = Delegation(
            organisation: Organisation(
                name: name, localName: "深圳物流有限公司", country: "CN", sectors: ["logistics"],
                website: "https://logistics.example.cn"),
            role: .visiting,
            leadContact: Contact(
                name: "Li Wei", title: "CEO", email: "li.wei.\(reference)@example.cn", phone: "+86 755 1234 5678",
                language: .chineseSimplified),
            delegates: people, interests: Interests(sectors: ["logistics"], topics: ["vietnam-china-logistics"]),
            preferredVisits: ["lien-chieu-port"])
        return RegistrationSubmitted(
            eventID: eventID, reference: reference, revision: revision, delegation: delegation,
            consent: Consent(dataProcessing: true, givenAt: danang(day: 2, 10)), submittedAt: danang(day: 3, 10))
    }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// The lead's alert that a bus left without some of the delegation (`boarding.missed`, issue
/// 15): one urgent notification to the lead contact alone, in their language, through quiet
/// hours, naming who was missing with the console's link to answer; once per alert however
/// often the message comes. In-process, no broker, no SMTP.
@Suite struct MissingAtDepartureTests {
    typealias Rules = NotificationRulesTests

    static func alert(persons: [Int] = [2, 4], answerURL: String? = "https://console.example.org/answer?t=DA1.k.p.s") -> BoardingMissed {
        BoardingMissed(
            alertID: "reg-acme~2026-01-14~bus-1", eventID: "danang-2026-01", registrationID: "reg-acme", day: "2026-01-14", busID: "bus-1",
            venueID: "networking-hall", departure: Samples.danang(day: 14, 7, 30), persons: persons, answerURL: answerURL,
            raisedAt: Samples.danang(day: 14, 7, 35))
    }

    @Test func theLeadAloneHearsAtOnceThroughQuietHoursInTheirLanguageAndOnce() async throws {
        // 07:35 is inside quiet hours that end at 08:00.
        let harness = try Rules.harness(quietHours: (22 * 60, 8 * 60), at: { Samples.danang(day: 14, 7, 35) })
        try await harness.send(Samples.programme())
        var accepted = Rules.accepted()
        accepted.delegation.leadContact.language = .vietnamese
        try await harness.send(accepted)
        try await harness.send(Self.alert())
        try await harness.send(Self.alert(), messageID: "the alert, redelivered")
        let alerts = try await Rules.notifications(harness).filter { $0.kind == .missingAtDeparture }
        #expect(alerts.count == 1, "once, to the lead contact alone")
        let alert = try #require(alerts.first)
        #expect(alert.recipient.email == "li.wei.acme@example.cn" && alert.recipient.language == .vietnamese)
        #expect(alert.urgent && alert.dueAt == Samples.danang(day: 14, 7, 35), "not held for the end of quiet hours")
        #expect(alert.content.missing?.people == ["Delegate 2", "Delegate 4"])

        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let rendered = try renderer.render(alert, eventName: LocalizedText(en: "Da Nang Days"), eventZone: "Asia/Ho_Chi_Minh")
        #expect(rendered.language == .vietnamese)
        #expect(rendered.subject == "KHẨN: 2 thành viên đoàn Shenzhen Logistics Co. chưa lên xe bus-1 – Da Nang Days")
        #expect(rendered.text.contains("lúc 07:30") && rendered.text.contains("- Delegate 2\n- Delegate 4"))
        #expect(rendered.text.contains("https://console.example.org/answer?t=DA1.k.p.s"))
        #expect(rendered.html.contains("<a href=\"https://console.example.org/answer?t=DA1.k.p.s\">"))
        #expect(rendered.calendar == nil)
    }

    @Test func eachLanguageSaysWhoAndHowToAnswerWithOrWithoutALink() async throws {
        let harness = try Rules.harness(at: { Samples.danang(day: 14, 7, 35) })
        try await harness.send(Samples.programme())
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        for (reference, language, words) in [
            ("zh-1", Language.chineseSimplified, "未在车上"),
            ("en-1", .english, "left Networking hall at 07:30 (Da Nang time (UTC+7); 08:30 Beijing time (UTC+8))"),
            ("vi-1", .vietnamese, "KHẨN"),
        ] {
            var accepted = Rules.accepted(reference)
            accepted.delegation.leadContact.language = language
            try await harness.send(accepted)
            var alert = Self.alert(persons: [1, 7], answerURL: nil)
            alert.registrationID = "reg-\(reference)"
            alert.alertID = "reg-\(reference)~2026-01-14~bus-1"
            try await harness.send(alert)
            let record = try #require(try await Rules.notifications(harness, "reg-\(reference)").first { $0.kind == .missingAtDeparture })
            #expect(record.content.missing?.people == ["Delegate 1", "#7"], "a place the registration does not have is named by number")
            let rendered = try renderer.render(
                record, eventName: LocalizedText(en: "Da Nang Days"), eventZone: "Asia/Ho_Chi_Minh",
                venues: ["networking-hall": LocalizedText(en: "Networking hall")])
            #expect(rendered.language == language)
            #expect((rendered.subject + rendered.text).contains(words), "\(language)")
            #expect(!rendered.text.contains("http"), "no link when the console gave none")
        }
        // A cancelled registration's lead hears nothing more.
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: nil,
                delegation: Rules.accepted().delegation.withoutIdentityDocuments, cancelledAt: Date()))
        try await harness.send(Self.alert())
        #expect(try await Rules.notifications(harness).allSatisfy { $0.kind != .missingAtDeparture })
    }
}

import Foundation
import ICalendar
import Messages
import Passes
import TestSupport
import Testing

@testable import NotificationsCore

/// The shipped templates through the renderer: escaping, time zones, places, and a template
/// folder the service must refuse.
@Suite struct RendererTests {
    static let eventName = LocalizedText(
        en: "Da Nang Innovation Days", vi: "Ngày hội Đổi mới Sáng tạo Đà Nẵng", zhHans: "岘港创新日")

    static func record(
        _ kind: NotificationKind, language: Language, zone: String, organisation: String = "Hangzhou Smart Port Co.",
        items: [ItineraryItem] = []
    ) -> NotificationRecord {
        var content = NotificationContent(organisation: organisation, reference: "HZ-007")
        content.delegates = 3
        content.items = items
        return NotificationRecord(
            id: "ntf-test", idempotencyKey: "k", registrationID: "reg-1", eventID: "danang-2026-01", kind: kind,
            recipient: Recipient(name: "李伟", email: "li.wei@example.cn", language: language), timeZone: zone, urgent: false,
            content: content,
            channels: [.email], channelIndex: 0, attempts: 0, totalAttempts: 0, status: .pending, dueAt: Date(), createdAt: Date())
    }

    /// 13 January 2026, 13:30–14:30 in Da Nang (06:30 UTC).
    static let portVisit = ItineraryItem(
        uid: "visit-port@test", kind: .visit, title: LocalizedText(en: "Lien Chieu Port", vi: "Cảng Liên Chiểu", zhHans: "连珠港"),
        venueID: "lien-chieu-port",
        address: "Lien Chieu, Da Nang", start: Date(timeIntervalSince1970: 1_768_285_800), end: Date(timeIntervalSince1970: 1_768_289_400),
        busID: "bus-45a")

    @Test func aReminderSaysHowLongBeforeWithTheTimesPlaceBusMeetingPointAndCalendar() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let expected: [(Language, String, String)] = [
            (.english, "in 24 hours", "Meeting point: Hotel Novotel, Da Nang"),
            (.vietnamese, "sau 24 giờ", "Điểm tập trung: Hotel Novotel"),
            (.chineseSimplified, "24 小时后", "集合地点：Hotel Novotel"),
        ]
        for (language, before, meetingPoint) in expected {
            var record = Self.record(.reminder, language: language, zone: "Asia/Shanghai", items: [Self.portVisit])
            record.content.reminderMinutes = 1440
            record.content.meetingPoint = "Hotel Novotel, Da Nang"
            let rendered = try renderer.render(record, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
            #expect(rendered.language == language)
            #expect(rendered.text.contains(before) && rendered.html.contains(before), "\(language)")
            #expect(rendered.text.contains(meetingPoint) && rendered.html.contains(meetingPoint), "\(language)")
            #expect(rendered.text.contains("13:30–14:30"), "the event's time")
            #expect(rendered.text.contains("14:30–15:30"), "the recipient's (Beijing)")
            #expect(rendered.text.contains("bus-45a"))
            #expect(rendered.subject.contains("13:30–14:30") && !rendered.subject.contains("\n"))
            let calendar = try #require(rendered.calendar, "the item as an .ics file")
            #expect(calendar.contains("UID:visit-port@test"))
        }
        var soon = Self.record(.reminder, language: .english, zone: "Asia/Ho_Chi_Minh", items: [Self.portVisit])
        soon.content.reminderMinutes = 60
        let rendered = try renderer.render(soon, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
        #expect(rendered.text.contains("in 1 hour") && !rendered.text.contains("Meeting point"))
        #expect(!rendered.text.contains("Your time"), "the same zone as the event's")
    }

    /// The short text of every kind in every language: one line, nothing left of the template,
    /// the reference where the kind has one, within a few segments (what an SMS is billed by),
    /// and "by e-mail" only when a copy goes by e-mail.
    @Test(arguments: NotificationKind.allCases)
    func theShortTextIsOneLineOfAFewSegmentsInEachLanguage(_ kind: NotificationKind) async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let change = ItineraryChange(uid: Self.portVisit.uid, kind: .moved, before: Self.portVisit, after: Self.portVisit)
        for language in Language.allCases {
            var record = Self.record(kind, language: language, zone: "Asia/Shanghai", items: [Self.portVisit])
            record.content.changes = [change]
            record.content.reminderMinutes = 60
            record.content.position = 4
            record.content.missing = MissingAtDeparture(
                busID: "bus-45a", departure: Self.portVisit.start, venueID: nil, people: ["Nguyễn Văn An", "李伟"],
                answerURL: "https://console.example.org/answer?t=DA1.k.p.s")
            for channels: [ChannelName] in [[.sms, .email], [.email, .sms]] {
                record.channels = channels
                let rendered = try renderer.render(record, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh", parts: .short)
                let short = try #require(rendered.short)
                #expect(rendered.text.isEmpty && rendered.html.isEmpty && rendered.calendar == nil, "nothing else rendered")
                #expect(!short.isEmpty && !short.contains("\n") && !short.contains("{{") && !short.contains("–"), "\(kind) \(language)")
                let segments = SMSText(short).segments.count
                #expect(segments <= (language == .chineseSimplified ? 4 : 6), "\(kind) \(language): \(segments) segments: \(short)")
                if [.accepted, .waitlisted, .rejected, .cancelled].contains(kind) {
                    #expect(short.contains("HZ-007"), "\(kind) \(language)")
                }
                let mentionsEmail = short.contains("e-mail") || short.contains("邮件")
                if !NotificationsHandler.copiedByEmail(kind, channels: channels) {
                    #expect(!mentionsEmail, "\(kind) \(language) on \(channels): no copy goes by e-mail")
                }
            }
        }
    }

    @Test func namesAreEscapedInHTMLAndLeftAloneInText() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let rendered = try renderer.render(
            Self.record(.accepted, language: .english, zone: "Asia/Shanghai", organisation: "Trần & Sons <Co>"),
            eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
        #expect(rendered.html.contains("Trần &amp; Sons &lt;Co&gt;"))
        #expect(!rendered.html.contains("<Co>"))
        #expect(rendered.text.contains("Trần & Sons <Co>"))
        #expect(rendered.subject.contains("HZ-007") && !rendered.subject.contains("\n"))
        #expect(rendered.calendar == nil)
    }

    @Test func timesAreInTheEventsZoneNamedAndInTheRecipientsWhenItDiffers() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let chinese = try renderer.render(
            Self.record(.itineraryPlanned, language: .chineseSimplified, zone: "Asia/Shanghai", items: [Self.portVisit]),
            eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
        #expect(chinese.language == .chineseSimplified)
        #expect(chinese.text.contains("13:30–14:30 (岘港时间 (UTC+7))"))
        #expect(chinese.text.contains("14:30–15:30 北京时间 (UTC+8)"))
        #expect(chinese.text.contains("2026年1月13日"))
        #expect(chinese.text.contains("连珠港"))
        #expect(chinese.text.contains("Lien Chieu, Da Nang"), "a visit's place is its address: the title already names the venue")
        #expect(chinese.subject.contains("岘港创新日"))
        let calendar = try #require(chinese.calendar)
        #expect(calendar.contains("UID:visit-port@test") && calendar.contains("SUMMARY:连珠港"))

        let local = try renderer.render(
            Self.record(.itineraryPlanned, language: .vietnamese, zone: "Asia/Ho_Chi_Minh", items: [Self.portVisit]),
            eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
        #expect(local.text.contains("13:30–14:30 (giờ Đà Nẵng (UTC+7))"))
        #expect(!local.text.contains("UTC+8"), "no second time when the recipient is in the event's zone")
        #expect(local.text.contains("Cảng Liên Chiểu"))
    }

    @Test func aFolderWithoutAnEnglishTemplateOrWithABrokenOneIsRefusedByName() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString.prefix(6))")
        try FileManager.default.copyItem(atPath: NotificationsConfiguration.defaultTemplates, toPath: folder.path)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("digest/en.html.mustache"))
        await #expect {
            _ = try await Renderer(directory: folder.path)
        } throws: { error in
            "\(error)".contains("digest/en.html.mustache")
        }
        try "{{#items}}never closed".write(to: folder.appendingPathComponent("digest/en.html.mustache"), atomically: true, encoding: .utf8)
        await #expect {
            _ = try await Renderer(directory: folder.path)
        } throws: { error in
            "\(error)".contains("digest/en.html.mustache") && "\(error)".contains("not valid Mustache")
        }
    }
}

extension RendererTests {
    @Test func withdrawnEntriesComeAsACalendarCancellationThatOutranksThem() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        var record = Self.record(.cancelled, language: .english, zone: "Asia/Shanghai")
        var visit = Self.portVisit
        visit.sequence = 3
        record.content.withdrawn = [visit]
        let organizer = ICalendar.Person(name: "Da Nang Innovation Centre", email: "noreply@delegation.example")
        let rendered = try renderer.render(record, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh", organizer: organizer)
        #expect(rendered.calendar == nil)
        let cancel = try #require(rendered.cancellation)
        #expect(cancel.contains("METHOD:CANCEL"))
        #expect(cancel.contains("UID:visit-port@test"))
        #expect(cancel.contains("SEQUENCE:4"), "one more than the entry had")
        #expect(cancel.contains("STATUS:CANCELLED"))
        #expect(cancel.contains("ORGANIZER;CN=\"Da Nang Innovation Centre\":mailto:noreply@delegation.example"))
        #expect(cancel.contains("mailto:li.wei@example.cn"))
        #expect(rendered.text.contains("These programme entries you received are withdrawn"))
        #expect(rendered.text.contains("Lien Chieu Port"))

        // A delegate an amendment removed is told that, not that the registration is cancelled.
        record.content.removedFromDelegation = true
        for language in Language.allCases {
            record.recipient.language = language
            let removed = try renderer.render(record, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
            #expect(removed.cancellation != nil)
            #expect(
                !removed.text.contains("has been cancelled") && !removed.text.contains("đã được hủy")
                    && !removed.text.contains("报名已取消"),
                "\(language)")
        }
    }

    @Test func itemsRemovedFromAnItineraryAreCancelledInTheCalendar() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        var record = Self.record(.itineraryChanged, language: .vietnamese, zone: "Asia/Ho_Chi_Minh")
        record.content.changes = [ItineraryChange(uid: Self.portVisit.uid, kind: .removed, before: Self.portVisit, after: nil)]
        let rendered = try renderer.render(record, eventName: Self.eventName, eventZone: "Asia/Ho_Chi_Minh")
        let cancel = try #require(rendered.cancellation)
        #expect(cancel.contains("METHOD:CANCEL") && cancel.contains("UID:visit-port@test") && cancel.contains("SEQUENCE:1"))
        #expect(rendered.calendar?.contains("UID:visit-port@test") != true, "the published calendar no longer has it")
    }
}

/// The delegates' passes in the e-mails: each holder's QR code inline (PNG, `cid:`), the short
/// code in both parts; the lead gets every delegate's, a delegate their own.
@Suite struct PassEmailTests {
    static let keys = "p2026:" + Data(repeating: 9, count: 32).base64EncodedString()

    @Test func thePassesAreInlineImagesThatReadBackAsSignedTokens() async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        let keys = try PassKeys(spec: Self.keys)
        let expires = Date(timeIntervalSince1970: 1_768_500_000)
        var record = RendererTests.record(
            .itineraryPlanned, language: .vietnamese, zone: "Asia/Ho_Chi_Minh", items: [RendererTests.portVisit])
        record.content.passes = [PassHolder(person: 1, name: "Lý Văn A"), PassHolder(person: 2, name: "Trần Thị B")]
        let rendered = try renderer.render(
            record, eventName: RendererTests.eventName, eventZone: "Asia/Ho_Chi_Minh", passes: .init(keys: keys, expires: expires))
        #expect(rendered.images.count == 2)
        let codes = [1, 2].map { Pass(eventID: "danang-2026-01", registrationID: "reg-1", person: $0, expires: expires).shortCode(keys) }
        for (index, image) in rendered.images.enumerated() {
            #expect(rendered.html.contains("src=\"cid:\(image.contentID)\""))
            #expect(rendered.text.contains(codes[index]) && rendered.html.contains(codes[index]))
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("pass-\(UUID().uuidString).png")
            try image.data.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let token = try await TestBroker.run("/usr/bin/zbarimg", ["--quiet", "--raw", "--nodbus", file.path])
            let pass = try Pass.verify(
                token.trimmingCharacters(in: .whitespacesAndNewlines), keys: keys, now: expires.addingTimeInterval(-60))
            #expect(pass == Pass(eventID: "danang-2026-01", registrationID: "reg-1", person: index + 1, expires: expires))
        }
        #expect(rendered.text.contains("Thẻ ra vào") && rendered.text.contains("Lý Văn A"))

        // In the e-mail: a multipart/related holding the alternative and the images.
        let message = MIMEMessage(
            from: .init(email: "noreply@delegation.example"), to: .init(email: "a@example.vn"), subject: rendered.subject,
            text: rendered.text, html: rendered.html, inline: rendered.images, messageID: "m@x", date: expires)
        let wire = String(decoding: message.rendered(), as: UTF8.self)
        #expect(wire.contains("Content-Type: multipart/related;"))
        #expect(wire.contains("Content-ID: <\(rendered.images[0].contentID)>"))
        #expect(wire.contains("Content-Disposition: inline; filename=\"pass-1.png\""))

        // No keys, or a webhook: no passes drawn.
        let unsigned = try renderer.render(record, eventName: RendererTests.eventName, eventZone: "Asia/Ho_Chi_Minh")
        #expect(unsigned.images.isEmpty && !unsigned.text.contains("Thẻ ra vào"))
        let webhook = WebhookChannel(configuration: WebhookConfiguration(url: URL(string: "http://127.0.0.1:1/hook")!, secret: "s"))
        let hooked = try renderer.render(
            record, eventName: RendererTests.eventName, eventZone: "Asia/Ho_Chi_Minh", passes: .init(keys: keys, expires: expires),
            parts: webhook.parts)
        #expect(hooked.images.isEmpty && !hooked.text.isEmpty)
    }

    @Test func theLeadGetsEveryDelegatesPassAndADelegateTheirOwn() async throws {
        let harness = try NotificationRulesTests.harness()
        try await NotificationRulesTests.plannedAndSent(harness)
        let all = try await NotificationRulesTests.notifications(harness)
        let accepted = try #require(all.first { $0.kind == .accepted })
        let everyone = (1...4).map { PassHolder(person: $0, name: "Delegate \($0)") }
        #expect(accepted.content.passes == everyone)
        for record in all where record.kind == .itineraryPlanned {
            if record.recipient.email == "li.wei.acme@example.cn" {
                #expect(record.content.passes == everyone)
            } else {
                let person = try #require(record.recipient.person)
                #expect(record.content.passes == [PassHolder(person: person, name: "Delegate \(person)")])
                #expect(record.recipient.email == "d\(person).acme@example.cn")
            }
        }
    }
}

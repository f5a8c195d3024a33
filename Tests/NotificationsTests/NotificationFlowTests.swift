import AMQP
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import Messages
@testable import NotificationsCore
import ServiceRuntime
import Testing
import TestSupport

/// The notifications service in-process: real broker, real SQLite, aiosmtpd and a real HTTP
/// server for webhooks.
@Suite struct NotificationFlowTests {
    static func configuration(_ bed: ServiceTestBed, smtpPort: Int, adjust: (inout NotificationsConfiguration) -> Void = { _ in }) -> NotificationsConfiguration {
        var configuration = NotificationsConfiguration(
            service: bed.configuration(), smtp: SMTPConfiguration(port: smtpPort, timeout: 5), retryBase: 0.1, retryMax: 0.5, digestWindow: 0.5, quietHours: nil)
        adjust(&configuration)
        return configuration
    }

    static func withService(
        smtp: SMTPTestServer, adjust: @escaping (inout NotificationsConfiguration) -> Void = { _ in }, clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (ServiceTestBed, ServiceHost) async throws -> Void
    ) async throws {
        try await ServiceTestBed.withRunningService("notifications", { bed in
            try await NotificationsService.makeHost(configuration(bed, smtpPort: smtp.port, adjust: adjust), logger: TestBroker.logger, connectPatience: 5, clock: clock)
        }, body)
    }

    static func accepted(_ reference: String, language: Language = .english, email: String? = nil, promoted: Bool = false) -> RegistrationAccepted {
        var submission = Samples.submission(reference: reference, delegates: 2)
        submission.leadContact.language = language
        submission.leadContact.email = email ?? "lead.\(reference)@example.cn"
        submission.leadContact.name = ["vi": "Nguyễn Thị Thu Hà", "zh-Hans": "李伟", "en": "Alex Chen"][language.rawValue] ?? "Lead"
        return RegistrationAccepted(
            registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: 1, delegation: submission.delegation,
            promoted: promoted, acceptedAt: Date())
    }

    static func item(_ uid: String, startingIn hours: Double, title: String = "Lien Chieu Port") -> ItineraryItem {
        let start = Date().addingTimeInterval(hours * 3600).rounded()
        return ItineraryItem(uid: uid, kind: .visit, title: LocalizedText(en: title, vi: "Cảng Liên Chiểu", zhHans: "连珠港"), venueID: "lien-chieu-port", address: "Lien Chieu, Da Nang", start: start, end: start.addingTimeInterval(3600), busID: "bus-45a")
    }

    static func history(_ host: ServiceHost, registration: String) async throws -> [NotificationsHTTP.History] {
        try await host.store.database.read { db in
            try NotificationStore.notifications(registrationID: registration, in: db).map { .init(notification: $0, attempts: try NotificationStore.attempts($0.id, in: db)) }
        }
    }

    @Test func eachRecipientHearsInTheirLanguageWithEnglishAsFallback() async throws {
        // A template folder without the Chinese "accepted" templates, to see the fallback.
        let templates = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString.prefix(6))")
        try FileManager.default.copyItem(atPath: NotificationsConfiguration.defaultTemplates, toPath: templates.path)
        defer { try? FileManager.default.removeItem(at: templates) }
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp) { bed, _ in
            for (reference, language) in [("vi-1", Language.vietnamese), ("zh-1", .chineseSimplified), ("en-1", .english)] {
                try await bed.publish(Self.accepted(reference, language: language))
            }
            _ = await eventually(within: 15) { smtp.messages.count >= 3 }
            var languages: [String: String] = [:]
            for raw in smtp.messages {
                let mail = try await inspectEmail(raw)
                let head = String(decoding: raw, as: UTF8.self)
                let language = head.components(separatedBy: "\r\n").first { $0.hasPrefix("Content-Language: ") }?.dropFirst(18)
                languages[mail["to"] ?? ""] = language.map(String.init)
                #expect(!(mail["subject"] ?? "").isEmpty)
            }
            #expect(languages.count == 3)
            #expect(languages.first { $0.key.contains("lead.vi-1") }?.value == "vi")
            #expect(languages.first { $0.key.contains("lead.zh-1") }?.value == "zh-Hans")
            #expect(languages.first { $0.key.contains("lead.en-1") }?.value == "en")
        }
        for part in ["subject", "text", "html"] {
            try FileManager.default.removeItem(at: templates.appendingPathComponent("accepted/zh-Hans.\(part).mustache"))
        }
        let renderer = try await Renderer(directory: templates.path)
        #expect(renderer.language(for: .accepted, wanted: .chineseSimplified) == .english)
        #expect(renderer.language(for: .waitlisted, wanted: .chineseSimplified) == .chineseSimplified)
    }

    @Test func aCancellationWithdrawsTheCalendarEntriesOfEveryoneWhoReceivedThem() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp) { bed, _ in
            let accepted = Self.accepted("ics-cancel", language: .english)
            try await bed.publish(accepted)
            let items = [Self.item("visit-a@test", startingIn: 72), Self.item("visit-b@test", startingIn: 75, title: "Enosta Space")]
            try await bed.publish(ItineraryPlanned(
                eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 1, timeZone: "Asia/Ho_Chi_Minh", items: items,
                unmet: [], plannedAt: Date()))
            #expect(await eventually(within: 30) { bed.seen(NotificationDelivered.self).count == 4 }, "acceptance and three itineraries sent")
            try await bed.publish(RegistrationCancelled(
                registrationID: accepted.registrationID, eventID: accepted.eventID, reference: accepted.reference, reason: "travel ban",
                delegation: accepted.delegation, cancelledAt: Date()))
            // The lead contact and both delegates received the entries: each gets them withdrawn.
            #expect(await eventually(within: 30) { smtp.messages.count >= 7 })
            var withdrawn: [String] = []
            for raw in smtp.messages.dropFirst(4) {
                let mail = try await inspectEmail(raw)
                let calendar = try #require(mail["attachment:cancelled.ics"], "\(mail["to"] ?? "?") gets a cancellation calendar")
                let file = bed.directory.appendingPathComponent("cancel-\(withdrawn.count).ics")
                try calendar.write(to: file, atomically: true, encoding: .utf8)
                let parsed = try await TestBroker.run("/usr/bin/python3", [
                    "-c", "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); print(c['METHOD'], sorted(str(e['UID']) + ':' + str(e['STATUS']) for e in c.walk('VEVENT')))",
                    file.path,
                ])
                #expect(parsed.trimmingCharacters(in: .whitespacesAndNewlines) == "CANCEL ['visit-a@test:CANCELLED', 'visit-b@test:CANCELLED']")
                withdrawn.append(mail["to"] ?? "?")
            }
            #expect(withdrawn.count == 3)
        }
    }

    @Test func anItineraryEmailCarriesACalendarThatParsesAndEveryDelegateGetsOne() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp) { bed, host in
            let accepted = Self.accepted("ics-1", language: .vietnamese)
            try await bed.publish(accepted)
            let items = [Self.item("visit-a@test", startingIn: 72), Self.item("visit-b@test", startingIn: 75, title: "Enosta Space")]
            try await bed.publish(ItineraryPlanned(eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 1, timeZone: "Asia/Ho_Chi_Minh", items: items, unmet: [], plannedAt: Date()))
            // Lead contact + two delegates with addresses: the acceptance once, the itinerary three times.
            _ = await eventually(within: 15) { smtp.messages.count >= 4 }
            #expect(smtp.messages.count == 4)
            var calendars = 0
            for raw in smtp.messages {
                let mail = try await inspectEmail(raw)
                guard let body = mail["attachment-body"] else { continue }
                calendars += 1
                #expect(mail["attachment-type"] == "text/calendar")
                let file = bed.directory.appendingPathComponent("x-\(calendars).ics")
                try body.write(to: file, atomically: true, encoding: .utf8)
                let parsed = try await TestBroker.run("/usr/bin/python3", ["-c", "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); print(sorted(str(e['UID']) for e in c.walk('VEVENT')))", file.path])
                #expect(parsed.contains("visit-a@test") && parsed.contains("visit-b@test"))
            }
            #expect(calendars == 3)
            #expect(await eventually(within: 30) { bed.seen(NotificationDelivered.self).count == 4 })
            _ = host
        }
    }

    @Test func oneEmailPerKeyUnderRedeliveryDuplicatesAndARestart() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let accepted = Self.accepted("once-1")
        // First run: the relay is down (nothing listens), so sends stay pending across a restart.
        try await ServiceTestBed.withRunningService("notifications", { bed in
            try await NotificationsService.makeHost(Self.configuration(bed, smtpPort: 1) { $0.maxAttempts = 100; $0.retryMax = 0.2 }, logger: TestBroker.logger, connectPatience: 5)
        }) { bed, host in
            try await bed.publish(accepted, messageID: "acc-1")
            try await bed.publish(accepted, messageID: "acc-1")  // redelivered
            try await bed.publish(accepted, messageID: "acc-1-again")  // the same content again
            #expect(try await eventually(within: 30) { try await Self.history(host, registration: "reg-once-1").first?.attempts.count ?? 0 >= 2 })
            let store = host.store
            await host.shutdown()
            // The service restarts with the relay up (same store and queues).
            let restarted = try await NotificationsService.makeHost(Self.configuration(bed, smtpPort: smtp.port), logger: TestBroker.logger, connectPatience: 5)
            let running = Task { try await restarted.run(signals: []) }
            try await restarted.waitUntilStarted()
            _ = await eventually(within: 15) { smtp.messages.count >= 1 }
            try await Task.sleep(for: .seconds(1))
            await restarted.shutdown()
            try await running.value
            #expect(smtp.messages.count == 1, "exactly one e-mail for the key")
            let records = try await store.database.read { db in try NotificationStore.notifications(registrationID: "reg-once-1", in: db) }
            #expect(records.count == 1)
            #expect(records.first?.status == .sent)
        }
    }

    @Test func aTransientFailureIsRetriedAndAPermanentOneIsNot() async throws {
        let smtp = try await SMTPTestServer(transient: 2, reject: ["nobody"])
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp) { bed, host in
            try await bed.publish(Self.accepted("retry-1"))
            #expect(try await eventually(within: 15) { try await Self.history(host, registration: "reg-retry-1").first?.notification.status == .sent })
            let retried = try #require(try await Self.history(host, registration: "reg-retry-1").first)
            #expect(retried.attempts.map(\.outcome) == ["transient", "transient", "sent"])
            #expect(retried.attempts.first?.detail?.contains("451") == true)

            try await bed.publish(Self.accepted("dead-1", email: "nobody@example.cn"))
            #expect(try await eventually(within: 15) { try await Self.history(host, registration: "reg-dead-1").first?.notification.status == .failed })
            let failed = try #require(try await Self.history(host, registration: "reg-dead-1").first)
            #expect(failed.attempts.map(\.outcome) == ["permanent"], "a mailbox that does not exist is not retried")
            let message = try #require(await bed.waitFor(NotificationFailed.self, count: 1).first)
            #expect(message.permanent)
            #expect(message.reason.contains("550"))
            #expect(smtp.messages.count == 1)
        }
    }

    @Test func aWebhookThatRefusesFallsBackToEmail() async throws {
        let smtp = try await SMTPTestServer()
        let hook = try await WebhookTestServer(statuses: [404])
        defer { smtp.stop(); hook.stop() }
        try await Self.withService(smtp: smtp, adjust: { configuration in
            configuration.webhook = WebhookConfiguration(url: hook.url, secret: "s")
            configuration.channelOrder = ["zh-Hans": [.webhook, .email], "default": [.email]]
        }) { bed, host in
            try await bed.publish(Self.accepted("hook-1", language: .chineseSimplified))
            #expect(try await eventually(within: 15) { try await Self.history(host, registration: "reg-hook-1").first?.notification.status == .sent })
            let history = try #require(try await Self.history(host, registration: "reg-hook-1").first)
            #expect(history.attempts.map { "\($0.channel.rawValue):\($0.outcome)" } == ["webhook:permanent", "email:sent"])
            #expect(history.notification.sentChannel == .email)
            #expect(hook.calls.count == 1)
            #expect(smtp.messages.count == 1)
        }
    }

    /// The webhook endpoint is down (nothing listens): the Chinese lead's notification keeps
    /// retrying there while the English lead's e-mail goes out; after the last webhook attempt
    /// it falls back to e-mail. The HTTP history and counts show all of it. (Checked on the
    /// recorded times, not on when the test happens to look.)
    @Test func aChannelThatIsDownHoldsUpNoOtherAndTheHistoryShowsIt() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp, adjust: { configuration in
            configuration.webhook = WebhookConfiguration(url: URL(string: "http://127.0.0.1:1/hook")!, secret: "s", timeout: 2)
            configuration.channelOrder = ["zh-Hans": [.webhook, .email], "default": [.email]]
            configuration.maxAttempts = 4
            configuration.retryBase = 2
            configuration.retryMax = 2
        }) { bed, host in
            try await bed.publish(Self.accepted("down-zh", language: .chineseSimplified, email: "li.wei@example.cn"))
            try await bed.publish(Self.accepted("down-en", email: "alex@example.com"))
            #expect(try await eventually(within: 30) { try await Self.history(host, registration: "reg-down-zh").first?.notification.status == .sent })
            let english = try #require(try await Self.history(host, registration: "reg-down-en").first)
            let chinese = try #require(try await Self.history(host, registration: "reg-down-zh").first)
            let lastWebhookTry = try #require(chinese.attempts.last { $0.channel == .webhook })
            let englishSent = try #require(english.attempts.first { $0.outcome == "sent" })
            #expect(englishSent.finishedAt < lastWebhookTry.startedAt, "the e-mail did not wait for the webhook's retries")
            #expect(smtp.messages.count == 2)

            let port = try #require(host.httpPort)
            let base = "http://127.0.0.1:\(port)"
            let (byRegistration, response) = try await URLSession.shared.data(from: try #require(URL(string: "\(base)/registrations/reg-down-zh/notifications")))
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let history = try MessageCoding.decode([NotificationsHTTP.History].self, from: byRegistration)
            #expect(history.count == 1)
            #expect(history.first?.attempts.map { "\($0.channel.rawValue):\($0.outcome)" } == ["webhook:transient", "webhook:transient", "webhook:transient", "webhook:transient", "email:sent"])
            #expect(history.first?.attempts.first?.detail?.isEmpty == false, "each failed attempt keeps its reason")

            let (byRecipient, _) = try await URLSession.shared.data(from: try #require(URL(string: "\(base)/recipients/alex@example.com/notifications")))
            let mine = try MessageCoding.decode([NotificationsHTTP.History].self, from: byRecipient)
            #expect(mine.map(\.notification.registrationID) == ["reg-down-en"])
            #expect(mine.first?.attempts.map(\.outcome) == ["sent"])

            let (counts, _) = try await URLSession.shared.data(from: try #require(URL(string: "\(base)/notifications/counts")))
            #expect(try MessageCoding.decode([String: Int].self, from: counts) == ["sent": 2])
        }
    }

    @Test func changesWithinTheWindowBecomeOneDigest() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp, adjust: { $0.digestWindow = 2 }) { bed, host in
            let accepted = Self.accepted("digest-1")
            var single = accepted
            single.delegation.delegates = single.delegation.delegates.map { var d = $0; d.email = nil; return d }
            try await bed.publish(single)
            let a = Self.item("visit-a@test", startingIn: 72), b = Self.item("visit-b@test", startingIn: 80, title: "Enosta Space")
            var moved = a
            moved.start = a.start.addingTimeInterval(1800)
            moved.end = a.end.addingTimeInterval(1800)
            moved.sequence = 1
            try await bed.publish(ItineraryChanged(eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 2, previousVersion: 1, timeZone: "Asia/Ho_Chi_Minh", changes: [ItineraryChange(uid: a.uid, kind: .moved, before: a, after: moved)], items: [moved], unmet: [], changedAt: Date()))
            try await bed.publish(ItineraryChanged(eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 3, previousVersion: 2, timeZone: "Asia/Ho_Chi_Minh", changes: [ItineraryChange(uid: b.uid, kind: .added, before: nil, after: b)], items: [moved, b], unmet: [], changedAt: Date()))
            _ = await eventually(within: 15) { smtp.messages.count >= 2 }
            try await Task.sleep(for: .seconds(2.5))
            #expect(smtp.messages.count == 2, "the acceptance and one digest")
            let records = try await Self.history(host, registration: accepted.registrationID).map(\.notification)
            let digest = try #require(records.first { $0.kind == .digest })
            #expect(digest.content.changes.map(\.kind) == [.moved, .added])
            #expect(digest.content.planVersion == 3)
        }
    }

    @Test func quietHoursHoldRoutineMessagesButNotUrgentChanges() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        // Quiet hours from now until two hours from now, in the recipient's zone (Beijing).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai") ?? .current
        let now = calendar.dateComponents([.hour, .minute], from: Date())
        let start = ((now.hour ?? 0) * 60 + (now.minute ?? 0) + 24 * 60 - 1) % (24 * 60), end = (start + 121) % (24 * 60)
        try await Self.withService(smtp: smtp, adjust: { $0.quietHours = (start, end); $0.digestWindow = 0 }) { bed, host in
            let accepted = Self.accepted("quiet-1", language: .chineseSimplified)
            var single = accepted
            single.delegation.delegates = single.delegation.delegates.map { var d = $0; d.email = nil; return d }
            try await bed.publish(single)
            // Tomorrow morning's visit moves: urgent, it goes at once.
            let soon = Self.item("visit-soon@test", startingIn: 10)
            var moved = soon
            moved.start = soon.start.addingTimeInterval(3600)
            moved.end = soon.end.addingTimeInterval(3600)
            try await bed.publish(ItineraryChanged(eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 2, previousVersion: 1, timeZone: "Asia/Ho_Chi_Minh", changes: [ItineraryChange(uid: soon.uid, kind: .moved, before: soon, after: moved)], items: [moved], unmet: [], changedAt: Date()))
            #expect(await eventually(within: 30) { smtp.messages.count >= 1 })
            try await Task.sleep(for: .seconds(1))
            #expect(smtp.messages.count == 1, "only the urgent change went out")
            let records = try await Self.history(host, registration: accepted.registrationID).map(\.notification)
            let waiting = try #require(records.first { $0.kind == .accepted })
            #expect(waiting.status == .pending)
            #expect(waiting.dueAt > Date().addingTimeInterval(3600), "the acceptance waits for the end of the quiet hours")
            #expect(records.first { $0.kind == .itineraryChanged }?.urgent == true)
        }
    }

    @Test func aCancellationWithdrawsWhatIsStillPending() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp, adjust: { $0.digestWindow = 30 }) { bed, host in
            let accepted = Self.accepted("gone-1")
            try await bed.publish(accepted)
            _ = await eventually(within: 30) { smtp.messages.count >= 1 }
            let a = Self.item("visit-a@test", startingIn: 72)
            try await bed.publish(ItineraryChanged(eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 2, previousVersion: 1, timeZone: "Asia/Ho_Chi_Minh", changes: [ItineraryChange(uid: a.uid, kind: .added, before: nil, after: a)], items: [a], unmet: [], changedAt: Date()))
            #expect(try await eventually(within: 30) { try await Self.history(host, registration: accepted.registrationID).contains { $0.notification.kind == .itineraryChanged } })
            try await bed.publish(RegistrationCancelled(registrationID: accepted.registrationID, eventID: accepted.eventID, reference: accepted.reference, reason: "travel ban", delegation: accepted.delegation.withoutIdentityDocuments, cancelledAt: Date()))
            #expect(try await eventually(within: 30) { try await Self.history(host, registration: accepted.registrationID).contains { $0.notification.kind == .cancelled && $0.notification.status == .sent } })
            let records = try await Self.history(host, registration: accepted.registrationID).map(\.notification)
            #expect(records.filter { $0.kind == .itineraryChanged }.allSatisfy { $0.status == .cancelled })
            #expect(smtp.messages.count == 2, "the acceptance and the cancellation; no itinerary change")
        }
    }
}

extension Date {
    /// Whole seconds (what survives the wire).
    func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

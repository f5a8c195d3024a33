import AMQP
import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The notifications service in-process on the real broker, real SQLite, aiosmtpd and a real
/// HTTP server for webhooks: the workers running beside the pipeline, calendars end to end,
/// exactly one e-mail per key across redelivery and a restart, a channel that is down. Who hears
/// what is in `NotificationRulesTests`, one delivery at a time in `DeliveryTests`.
@Suite struct NotificationFlowTests {
    static func configuration(_ bed: ServiceTestBed, smtpPort: Int, adjust: (inout NotificationsConfiguration) -> Void = { _ in })
        -> NotificationsConfiguration
    {
        var configuration = NotificationsConfiguration(
            service: bed.configuration(), smtp: SMTPConfiguration(port: smtpPort, timeout: 5), retryBase: 0.1, retryMax: 0.5,
            digestWindow: 0.5, quietHours: nil)
        adjust(&configuration)
        return configuration
    }

    static func withService(
        smtp: SMTPTestServer, adjust: @escaping (inout NotificationsConfiguration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (ServiceTestBed, ServiceHost) async throws -> Void
    ) async throws {
        try await ServiceTestBed.withRunningService(
            "notifications",
            { bed in
                try await NotificationsService.makeHost(
                    configuration(bed, smtpPort: smtp.port, adjust: adjust), logger: TestBroker.logger, connectPatience: 5, clock: clock)
            }, body)
    }

    static func accepted(_ reference: String, language: Language = .english, email: String? = nil, promoted: Bool = false)
        -> RegistrationAccepted
    {
        var submission = Samples.submission(reference: reference, delegates: 2)
        submission.leadContact.language = language
        submission.leadContact.email = email ?? "lead.\(reference)@example.cn"
        submission.leadContact.name = ["vi": "Nguyễn Thị Thu Hà", "zh-Hans": "李伟", "en": "Alex Chen"][language.rawValue] ?? "Lead"
        return RegistrationAccepted(
            registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: 1,
            delegation: submission.delegation,
            promoted: promoted, acceptedAt: Date())
    }

    static func item(_ uid: String, startingIn hours: Double, title: String = "Lien Chieu Port") -> ItineraryItem {
        let start = Date().addingTimeInterval(hours * 3600).rounded()
        return ItineraryItem(
            uid: uid, kind: .visit, title: LocalizedText(en: title, vi: "Cảng Liên Chiểu", zhHans: "连珠港"),
            venueID: "lien-chieu-port", address: "Lien Chieu, Da Nang", start: start, end: start.addingTimeInterval(3600),
            busID: "bus-45a")
    }

    static func history(_ host: ServiceHost, registration: String) async throws -> [NotificationsHTTP.History] {
        try await host.store.database.read { db in
            try NotificationStore.notifications(registrationID: registration, in: db).map {
                .init(notification: $0, attempts: try NotificationStore.attempts($0.id, in: db))
            }
        }
    }

    @Test func aCancellationWithdrawsTheCalendarEntriesOfEveryoneWhoReceivedThem() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(smtp: smtp) { bed, _ in
            let accepted = Self.accepted("ics-cancel", language: .english)
            try await bed.publish(accepted)
            let items = [Self.item("visit-a@test", startingIn: 72), Self.item("visit-b@test", startingIn: 75, title: "Enosta Space")]
            try await bed.publish(
                ItineraryPlanned(
                    eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                    items: items,
                    unmet: [], plannedAt: Date()))
            #expect(
                await eventually(within: 120) { bed.seen(NotificationDelivered.self).count == 4 }, "acceptance and three itineraries sent")
            try await bed.publish(
                RegistrationCancelled(
                    registrationID: accepted.registrationID, eventID: accepted.eventID, reference: accepted.reference, reason: "travel ban",
                    delegation: accepted.delegation, cancelledAt: Date()))
            // The lead contact and both delegates received the entries: each gets them withdrawn.
            #expect(await eventually(within: 120) { smtp.messages.count >= 7 })
            var withdrawn: [String] = []
            for raw in smtp.messages.dropFirst(4) {
                let mail = try await inspectEmail(raw)
                let calendar = try #require(mail["attachment:cancelled.ics"], "\(mail["to"] ?? "?") gets a cancellation calendar")
                let file = bed.directory.appendingPathComponent("cancel-\(withdrawn.count).ics")
                try calendar.write(to: file, atomically: true, encoding: .utf8)
                let parsed = try await TestBroker.run(
                    "/usr/bin/python3",
                    [
                        "-c",
                        "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); "
                            + "print(c['METHOD'], sorted(str(e['UID']) + ':' + str(e['STATUS']) for e in c.walk('VEVENT')))",
                        file.path,
                    ])
                #expect(
                    parsed.trimmingCharacters(in: .whitespacesAndNewlines) == "CANCEL ['visit-a@test:CANCELLED', 'visit-b@test:CANCELLED']")
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
            try await bed.publish(
                ItineraryPlanned(
                    eventID: accepted.eventID, registrationID: accepted.registrationID, planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                    items: items, unmet: [], plannedAt: Date()))
            // Lead contact + two delegates with addresses: the acceptance once, the itinerary three times.
            _ = await eventually(within: 120) { smtp.messages.count >= 4 }
            #expect(smtp.messages.count == 4)
            var calendars = 0
            for raw in smtp.messages {
                let mail = try await inspectEmail(raw)
                guard let body = mail["attachment-body"] else { continue }
                calendars += 1
                #expect(mail["attachment-type"] == "text/calendar")
                let file = bed.directory.appendingPathComponent("x-\(calendars).ics")
                try body.write(to: file, atomically: true, encoding: .utf8)
                let parsed = try await TestBroker.run(
                    "/usr/bin/python3",
                    [
                        "-c",
                        "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); "
                            + "print(sorted(str(e['UID']) for e in c.walk('VEVENT')))",
                        file.path,
                    ])
                #expect(parsed.contains("visit-a@test") && parsed.contains("visit-b@test"))
            }
            #expect(calendars == 3)
            #expect(await eventually(within: 120) { bed.seen(NotificationDelivered.self).count == 4 })
            _ = host
        }
    }

    @Test func oneEmailPerKeyUnderRedeliveryDuplicatesAndARestart() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let accepted = Self.accepted("once-1")
        // First run: the relay is down (nothing listens), so sends stay pending across a restart.
        try await ServiceTestBed.withRunningService(
            "notifications",
            { bed in
                try await NotificationsService.makeHost(
                    Self.configuration(bed, smtpPort: 1) {
                        $0.maxAttempts = 100
                        $0.retryMax = 0.2
                    }, logger: TestBroker.logger, connectPatience: 5)
            }
        ) { bed, host in
            try await bed.publish(accepted, messageID: "acc-1")
            try await bed.publish(accepted, messageID: "acc-1")  // redelivered
            try await bed.publish(accepted, messageID: "acc-1-again")  // the same content again
            #expect(
                try await eventually(within: 120) {
                    try await Self.history(host, registration: "reg-once-1").first?.attempts.count ?? 0 >= 2
                })
            let store = host.store
            await host.shutdown()
            // The service restarts with the relay up (same store and queues).
            let restarted = try await NotificationsService.makeHost(
                Self.configuration(bed, smtpPort: smtp.port), logger: TestBroker.logger, connectPatience: 5)
            let running = Task { try await restarted.run(signals: []) }
            try await restarted.waitUntilStarted()
            _ = await eventually(within: 120) { smtp.messages.count >= 1 }
            try await Task.sleep(for: .seconds(1))
            await restarted.shutdown()
            try await running.value
            #expect(smtp.messages.count == 1, "exactly one e-mail for the key")
            let records = try await store.database.read { db in try NotificationStore.notifications(registrationID: "reg-once-1", in: db) }
            #expect(records.count == 1)
            #expect(records.first?.status == .sent)
        }
    }

    /// The webhook endpoint is down (nothing listens): the Chinese lead's notification keeps
    /// retrying there while the English lead's e-mail goes out; after the last webhook attempt
    /// it falls back to e-mail. The HTTP history and counts show all of it. (Checked on the
    /// recorded times, not on when the test happens to look.)
    @Test func aChannelThatIsDownHoldsUpNoOtherAndTheHistoryShowsIt() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await Self.withService(
            smtp: smtp,
            adjust: { configuration in
                let down = WebhookConfiguration(url: URL(string: "http://127.0.0.1:1/hook")!, secret: "s", timeout: 2)
                configuration.run([WebhookChannel(configuration: down)], order: ["zh-Hans": [.webhook, .email], "default": [.email]])
                configuration.maxAttempts = 4
                configuration.retryBase = 2
                configuration.retryMax = 2
            }
        ) { bed, host in
            // (waitlisted: a notice that needs no copy by e-mail, so that e-mail is its fallback)
            let zh = Self.accepted("down-zh", language: .chineseSimplified, email: "li.wei@example.cn")
            try await bed.publish(
                RegistrationWaitlisted(
                    registrationID: zh.registrationID, eventID: zh.eventID, reference: zh.reference, revision: 1, position: 1,
                    delegation: zh.delegation, waitlistedAt: Date()))
            try await bed.publish(Self.accepted("down-en", email: "alex@example.com"))
            // (A deadline, not a measure: four webhook attempts and their backoff take about 8 s
            // alone; under the whole suite on 2 cores they have taken over 30.)
            let delivered = try await eventually(within: 90) {
                try await Self.history(host, registration: "reg-down-zh").first?.notification.status == .sent
            }
            let attempts = try await Self.history(host, registration: "reg-down-zh").first?.attempts.map {
                "\($0.channel.rawValue) \(MessageCoding.format($0.startedAt))–\(MessageCoding.format($0.finishedAt)) \($0.outcome)"
            }
            #expect(delivered, "attempts: \(attempts ?? [])")
            let english = try #require(try await Self.history(host, registration: "reg-down-en").first)
            let chinese = try #require(try await Self.history(host, registration: "reg-down-zh").first)
            let lastWebhookTry = try #require(chinese.attempts.last { $0.channel == .webhook })
            let englishSent = try #require(english.attempts.first { $0.outcome == "sent" })
            #expect(englishSent.finishedAt < lastWebhookTry.startedAt, "the e-mail did not wait for the webhook's retries")
            #expect(smtp.messages.count == 2)

            let port = try #require(host.httpPort)
            let base = "http://127.0.0.1:\(port)"
            let (byRegistration, response) = try await URLSession.shared.data(
                from: try #require(URL(string: "\(base)/registrations/reg-down-zh/notifications")))
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let history = try MessageCoding.decode([NotificationsHTTP.History].self, from: byRegistration)
            #expect(history.count == 1)
            #expect(
                history.first?.attempts.map { "\($0.channel.rawValue):\($0.outcome)" } == [
                    "webhook:transient", "webhook:transient", "webhook:transient", "webhook:transient", "email:sent",
                ])
            #expect(history.first?.attempts.first?.detail?.isEmpty == false, "each failed attempt keeps its reason")

            let (byRecipient, _) = try await URLSession.shared.data(
                from: try #require(URL(string: "\(base)/recipients/alex@example.com/notifications")))
            let mine = try MessageCoding.decode([NotificationsHTTP.History].self, from: byRecipient)
            #expect(mine.map(\.notification.registrationID) == ["reg-down-en"])
            #expect(mine.first?.attempts.map(\.outcome) == ["sent"])

            let (counts, _) = try await URLSession.shared.data(from: try #require(URL(string: "\(base)/notifications/counts")))
            #expect(try MessageCoding.decode([String: Int].self, from: counts) == ["sent": 2])

            // Per channel in the metrics: the webhook retried 3 times then gave way to e-mail,
            // which sent both.
            let (metrics, _) = try await URLSession.shared.data(from: try #require(URL(string: "\(base)/metrics")))
            let text = String(decoding: metrics, as: UTF8.self)
            let service = bed.serviceName
            for (channel, outcome, count) in [("webhook", "retrying", 3), ("webhook", "fallback", 1), ("email", "sent", 2)] {
                #expect(
                    text.contains(
                        #"notification_attempts_total{service="\#(service)",channel="\#(channel)",outcome="\#(outcome)"} \#(count)"#),
                    "\(channel) \(outcome)")
            }
            #expect(text.contains(#"notification_send_seconds_count{service="\#(service)",channel="webhook"} 4"#))
        }
    }
}

extension Date {
    /// Whole seconds (what survives the wire).
    func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

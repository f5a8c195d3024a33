import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// Delivery without the broker: notifications queued through the handler's entry point on a
/// temporary store, claimed, sent and recorded by `DeliveryService.round` one round at a time (a round
/// claims whatever is due by then, so retries need no waiting), to aiosmtpd and a real HTTP
/// server. What the workers would publish is read from the outbox.
@Suite struct DeliveryTests {
    struct Bench {
        let harness: HandlerHarness
        let delivery: DeliveryService
        let context: ServiceHost.Context
        let configuration: NotificationsConfiguration
        let renderer: Renderer

        /// The metrics as `/metrics` shows them.
        var metrics: String {
            var buffer: [UInt8] = []
            context.metrics.registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }

        /// One round on `channel`: claims what is due up to an hour from now and sends it.
        @discardableResult
        func round(_ channel: ChannelName = .email) async throws -> Int {
            try await delivery.round(channel, now: Date().addingTimeInterval(3600), limit: 10)
        }

        func history(_ registration: String) async throws -> [NotificationsHTTP.History] {
            try await harness.read { db in
                try NotificationStore.notifications(registrationID: registration, in: db).map {
                    .init(notification: $0, attempts: try NotificationStore.attempts($0.id, in: db))
                }
            }
        }
    }

    static func bench(smtp: SMTPTestServer, adjust: (inout NotificationsConfiguration) -> Void = { _ in }) async throws -> Bench {
        try await bench(smtpPort: smtp.port, adjust: adjust)
    }

    /// A bench whose e-mail goes to `smtpPort` (port 1, nothing listening, for a test that sends
    /// no e-mail).
    static func bench(smtpPort: Int, adjust: (inout NotificationsConfiguration) -> Void = { _ in }) async throws -> Bench {
        var configuration = NotificationsConfiguration(
            service: ServiceConfiguration(serviceName: "notifications", amqp: TestBroker.configuration("delivery"), storePath: "unused"),
            smtp: SMTPConfiguration(port: smtpPort, timeout: 5), retryBase: 0.1, retryMax: 0.5, digestWindow: 0, quietHours: nil)
        adjust(&configuration)
        let harness = try HandlerHarness(
            NotificationsHandler(configuration: configuration).dispatcher, migrations: NotificationStore.migrate)
        let renderer = try await Renderer(directory: configuration.templates)
        try await harness.send(Samples.programme())
        let context = harness.context(configuration.service)
        return Bench(
            harness: harness, delivery: DeliveryService(context: context, configuration: configuration, renderer: renderer),
            context: context, configuration: configuration, renderer: renderer)
    }

    /// Accepted, lead contact only (`reg-<reference>`).
    static func accepted(_ reference: String, language: Language = .english, email: String? = nil) -> RegistrationAccepted {
        var submission = Samples.submission(reference: reference, delegates: 1)
        submission.leadContact.language = language
        submission.leadContact.email = email ?? "lead.\(reference)@example.cn"
        var delegation = submission.delegation
        delegation.delegates[0].email = nil
        return RegistrationAccepted(
            registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: 1, delegation: delegation,
            acceptedAt: Date())
    }

    @Test func aTransientFailureIsRetriedAndAPermanentOneIsNot() async throws {
        let smtp = try await SMTPTestServer(transient: 2, reject: ["nobody"])
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        try await bench.harness.send(Self.accepted("retry-1"))
        for _ in 1...3 { #expect(try await bench.round() == 1) }
        #expect(try await bench.round() == 0, "nothing left once sent")
        let retried = try #require(try await bench.history("reg-retry-1").first)
        #expect(retried.notification.status == .sent)
        #expect(retried.attempts.map(\.outcome) == ["transient", "transient", "sent"])
        #expect(retried.attempts.first?.detail?.contains("451") == true)
        #expect(try await bench.harness.emitted().of(NotificationDelivered.self).map(\.notificationID) == [retried.notification.id])

        try await bench.harness.send(Self.accepted("dead-1", email: "nobody@example.cn"))
        #expect(try await bench.round() == 1)
        #expect(try await bench.round() == 0, "a mailbox that does not exist is not retried")
        let failed = try #require(try await bench.history("reg-dead-1").first)
        #expect(failed.notification.status == .failed && failed.attempts.map(\.outcome) == ["permanent"])
        let message = try #require(try await bench.harness.emitted().of(NotificationFailed.self).first)
        #expect(message.permanent && message.reason.contains("550"))
        #expect(smtp.messages.count == 1)
    }

    /// What a worker claimed and never started when the service stops is pending again, its
    /// attempt not counted; one already sent is left as it is.
    @Test func claimedButUnsentNotificationsArePendingAgainAfterAStop() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        for reference in ["stop-1", "stop-2"] { try await bench.harness.send(Self.accepted(reference)) }
        let now = Date().addingTimeInterval(3600)
        let claimed = try await bench.harness.write { db in
            try bench.delivery.claim(.email, now: now, limit: 10, in: db).map(\.record.id)
        }
        #expect(claimed.count == 2)
        try await bench.harness.write { db in
            var sent = try #require(try NotificationStore.notification(claimed[0], in: db))
            sent.status = .sent
            try NotificationStore.recordOutcome(sent, in: db)
            try NotificationStore.release(claimed, in: db)
        }
        let after = try await bench.harness.read { db in try claimed.map { try NotificationStore.notification($0, in: db) } }
        #expect(after.map { $0?.status } == [.sent, .pending])
        #expect(after.map { $0?.attempts } == [1, 0] && after.map { $0?.totalAttempts } == [1, 0])
        #expect(try await bench.round() == 1, "the released one goes in the next round")
        #expect(smtp.messages.count == 1)
    }

    /// A worker's lanes: no more started than queued or allowed; a lane that finds the queue
    /// empty stops counting in the same step, so what is queued after it starts a lane anew.
    @Test func lanesStartForWhatIsQueuedAndOneThatFindsNothingStopsCounting() {
        func claimed(_ id: String) -> DeliveryService.Claimed {
            DeliveryService.Claimed(
                record: NotificationRecord(
                    id: id, idempotencyKey: "key-\(id)", registrationID: nil, eventID: nil, kind: .accepted,
                    recipient: Recipient(name: "Li Wei", email: "li.wei@example.cn", language: .chineseSimplified),
                    timeZone: "Asia/Shanghai",
                    urgent: false, content: NotificationContent(organisation: "Shenzhen Logistics"), channels: [.email], channelIndex: 0,
                    attempts: 1, totalAttempts: 1, status: .sending, dueAt: Date(), createdAt: Date()),
                event: nil)
        }
        let lanes = Lanes()
        #expect(lanes.enqueue([claimed("a")], lanes: 4) == 1, "one lane for one notification")
        #expect(lanes.enqueue([claimed("b"), claimed("c"), claimed("d"), claimed("e")], lanes: 4) == 3, "at most four")
        #expect(lanes.held == 5)
        #expect(["a", "b"].allSatisfy { _ in lanes.next() != nil })
        #expect(lanes.held == 5, "taken, still held until their outcome")
        for _ in 0..<3 { _ = lanes.next() }
        #expect(lanes.next() == nil, "the queue is empty: this lane stops")
        #expect(lanes.enqueue([claimed("f")], lanes: 4) == 1, "a lane that stopped no longer counts")
        #expect(lanes.takeQueued().map(\.record.id) == ["f"], "claimed and never started")
    }

    @Test func transientFailuresEndAfterTheLastAttemptWithNoChannelLeft() async throws {
        let smtp = try await SMTPTestServer(transient: 10)
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp) { $0.maxAttempts = 3 }
        try await bench.harness.send(Self.accepted("tired-1"))
        while try await bench.round() > 0 {}
        let history = try #require(try await bench.history("reg-tired-1").first)
        #expect(history.attempts.map(\.outcome) == ["transient", "transient", "transient"])
        #expect(history.notification.status == .failed)
        let failed = try #require(try await bench.harness.emitted().of(NotificationFailed.self).first)
        #expect(!failed.permanent)
    }

    /// Waitlisted (a kind whose notice needs no copy by e-mail), lead contact only.
    static func waitlisted(_ reference: String, language: Language) -> RegistrationWaitlisted {
        let accepted = accepted(reference, language: language)
        return RegistrationWaitlisted(
            registrationID: accepted.registrationID, eventID: accepted.eventID, reference: reference, revision: 1, position: 3,
            delegation: accepted.delegation, waitlistedAt: Date())
    }

    /// A bench whose Chinese recipients get the webhook first (it answers 404), then e-mail.
    static func withRefusingWebhook(_ body: (Bench, SMTPTestServer, WebhookTestServer) async throws -> Void) async throws {
        let smtp = try await SMTPTestServer()
        let hook = try await WebhookTestServer(statuses: [404])
        defer {
            smtp.stop()
            hook.stop()
        }
        let bench = try await Self.bench(smtp: smtp) { configuration in
            configuration.run(
                [WebhookChannel(configuration: WebhookConfiguration(url: hook.url, secret: "s"))],
                order: ["zh-Hans": [.webhook, .email], "default": [.email]])
        }
        try await body(bench, smtp, hook)
    }

    @Test func aWebhookThatRefusesFallsBackToEmail() async throws {
        try await Self.withRefusingWebhook { bench, smtp, hook in
            try await bench.harness.send(Self.waitlisted("hook-1", language: .chineseSimplified))
            #expect(try await bench.round(.email) == 0, "the webhook comes first")
            #expect(try await bench.round(.webhook) == 1)
            #expect(try await bench.round(.email) == 1)
            let history = try #require(try await bench.history("reg-hook-1").first)
            #expect(history.attempts.map { "\($0.channel.rawValue):\($0.outcome)" } == ["webhook:permanent", "email:sent"])
            #expect(history.notification.status == .sent && history.notification.sentChannel == .email)
            #expect(hook.calls.count == 1 && smtp.messages.count == 1)
        }
    }

    /// An acceptance carries the passes, which only an e-mail can: when another channel comes
    /// first, a copy goes by e-mail at once, and the notice on the other channel does not fall
    /// back to a second e-mail.
    @Test func whenAnotherChannelComesFirstTheEmailGoesAsACopyOnce() async throws {
        try await Self.withRefusingWebhook { bench, smtp, hook in
            try await bench.harness.send(Self.accepted("copy-1", language: .chineseSimplified))
            try await bench.harness.send(Self.accepted("copy-1", language: .chineseSimplified))  // redelivered
            #expect(try await bench.round(.email) == 1, "the copy, at once")
            #expect(try await bench.round(.webhook) == 1)
            #expect(try await bench.round(.email) == 0, "no second e-mail")
            let histories = try await bench.history("reg-copy-1")
            #expect(histories.count == 2)
            let notice = try #require(histories.first { !$0.notification.id.hasSuffix(NotificationsHandler.copySuffix) })
            let copy = try #require(histories.first { $0.notification.id == notice.notification.id + NotificationsHandler.copySuffix })
            #expect(notice.notification.channels == [.webhook] && notice.notification.status == .failed)
            #expect(copy.notification.channels == [.email] && copy.notification.status == .sent)
            #expect(copy.notification.idempotencyKey != notice.notification.idempotencyKey)
            #expect(smtp.messages.count == 1 && hook.calls.count == 1)
            let mail = try await inspectEmail(try #require(smtp.messages.first))
            #expect(mail["attachment"] == nil && mail["text/plain"]?.contains("copy-1") == true, "the acceptance, in full")
            // The webhook carries the short text too; it says the e-mail comes as well.
            let call = try #require(hook.calls.first)
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(call.body.utf8)) as? [String: Any])
            let short = try #require(payload["short"] as? String)
            #expect(short.hasPrefix("【") && short.contains("邮件"), "\(short)")
        }
    }

    @Test func eachEmailIsInItsRecipientsLanguage() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        for (reference, language) in [("vi-1", Language.vietnamese), ("zh-1", .chineseSimplified), ("en-1", .english)] {
            try await bench.harness.send(Self.accepted(reference, language: language))
        }
        #expect(try await bench.round() == 3)
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
}

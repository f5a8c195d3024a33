import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// SMS, Zalo and WeChat as delivery channels (issue 16): notifications queued through the
/// handler's entry point, sent by `DeliveryService.deliver` to local fakes of each provider's
/// documented API (and aiosmtpd), with the recipients' own channel choices and the fallbacks.
@Suite struct ChannelDeliveryTests {
    /// Waitlisted (no copy by e-mail: the channel alone carries it), the lead contact reachable
    /// as given.
    static func waitlisted(
        _ reference: String, language: Language, phone: String? = nil, openID: String? = nil, channels: [ChannelName]? = nil
    ) -> RegistrationWaitlisted {
        var message = DeliveryTests.waitlisted(reference, language: language)
        message.delegation.leadContact.phone = phone
        message.delegation.leadContact.wechatOpenID = openID
        message.delegation.leadContact.channels = channels
        return message
    }

    static func history(_ bench: DeliveryTests.Bench, _ reference: String) async throws -> NotificationsHTTP.History {
        try #require(try await bench.history("reg-\(reference)").first)
    }

    static func outcomes(_ history: NotificationsHTTP.History) -> [String] {
        history.attempts.map { "\($0.channel.rawValue):\($0.outcome)" }
    }

    // MARK: SMS

    @Test func anSMSCarriesTheShortTextItsSegmentsAreCountedAndARefusedNumberFallsBackToEmail() async throws {
        let smtp = try await SMTPTestServer()
        let gateway = try await ProviderFake("sms_gateway_fake.py", ["--sid", "AC1", "--token", "t0k", "--busy", "1"])
        defer {
            smtp.stop()
            gateway.stop()
        }
        let sms = SMSChannel(
            configuration: SMSGatewayConfiguration(baseURL: gateway.url, accountSID: "AC1", authToken: "t0k", from: "DaNangIC", timeout: 5))
        let bench = try await DeliveryTests.bench(smtp: smtp) { $0.run([sms], order: ["vi": [.sms, .email], "default": [.email]]) }

        try await bench.harness.send(Self.waitlisted("sms-1", language: .vietnamese, phone: "+84 905 123 456"))
        #expect(try await bench.round(.sms) == 1, "429: too many requests")
        #expect(try await bench.round(.sms) == 1)
        let sent = try await Self.history(bench, "sms-1")
        #expect(Self.outcomes(sent) == ["sms:transient", "sms:sent"] && sent.notification.status == .sent)
        let call = try #require(gateway.calls.last)
        #expect(call.form?["To"] == "+84905123456" && call.form?["From"] == "DaNangIC")
        let body = try #require(call.form?["Body"])
        #expect(body.contains("danh sách chờ") && body.contains("sms-1"), "\(body)")
        let text = SMSText(body)
        #expect(text.encoding == .ucs2 && (2...5).contains(text.segments.count))
        #expect(
            bench.metrics.contains(
                #"notification_sms_segments_total{service="notifications",encoding="UCS-2"} \#(text.segments.count)"#))

        // Twilio's 21211 (not a valid number) is permanent: the e-mail goes instead, and the
        // reason names the code, never the number.
        try await bench.harness.send(Self.waitlisted("sms-2", language: .vietnamese, phone: "+1 500 555 0001"))
        #expect(try await bench.round(.sms) == 1)
        #expect(try await bench.round(.email) == 1)
        let refused = try await Self.history(bench, "sms-2")
        #expect(Self.outcomes(refused) == ["sms:permanent", "email:sent"])
        let reason = try #require(refused.attempts.first?.detail)
        #expect(reason.contains("21211") && !reason.contains("5550001"), "\(reason)")

        // Nobody without a phone number is queued for SMS.
        try await bench.harness.send(Self.waitlisted("sms-3", language: .vietnamese))
        #expect(try await Self.history(bench, "sms-3").notification.channels == [.email])
        #expect(smtp.messages.count == 1)
    }

    /// The gateway took the message but its answer is not a message resource (here, an empty
    /// 201): it is sent, once; the next rounds send nothing more.
    @Test func anSMSTheGatewayTookWithAnUnreadableAnswerIsSentOnce() async throws {
        let gateway = try await WebhookTestServer(statuses: [201])
        defer { gateway.stop() }
        let base = try #require(URL(string: "http://127.0.0.1:\(gateway.port)"))
        let sms = SMSChannel(
            configuration: SMSGatewayConfiguration(baseURL: base, accountSID: "AC1", authToken: "t", from: "X", timeout: 5))
        let bench = try await DeliveryTests.bench(smtpPort: 1) { $0.run([sms], order: ["vi": [.sms, .email], "default": [.email]]) }
        try await bench.harness.send(Self.waitlisted("sms-201", language: .vietnamese, phone: "+84 905 123 456"))
        #expect(try await bench.round(.sms) == 1)
        for _ in 1...2 { #expect(try await bench.round(.sms) == 0) }
        let history = try await Self.history(bench, "sms-201")
        #expect(Self.outcomes(history) == ["sms:sent"] && history.notification.status == .sent)
        #expect(gateway.calls.count == 1)
        #expect(try await bench.harness.emitted().of(NotificationDelivered.self).count == 1)
    }

    // MARK: Zalo

    static func zalo(_ fake: ProviderFake) -> ZaloChannel {
        ZaloChannel(
            configuration: ZaloConfiguration(apiURL: fake.url, oauthURL: fake.url, appID: "app-1", secretKey: "secret-1", timeout: 5),
            templates: [.waitlisted: "312345"], firstRefreshToken: "refresh-0")
    }

    /// A bench whose Vietnamese recipients get Zalo first (a fake of ZNS), then e-mail.
    static func withZalo(_ body: (DeliveryTests.Bench, ProviderFake) async throws -> Void) async throws {
        let smtp = try await SMTPTestServer()
        let fake = try await ProviderFake("zalo_fake.py", ["--app-id", "app-1", "--secret-key", "secret-1"])
        defer {
            smtp.stop()
            fake.stop()
        }
        let bench = try await DeliveryTests.bench(smtp: smtp) { $0.run([Self.zalo(fake)], order: ["vi": [.zalo, .email]]) }
        try await body(bench, fake)
    }

    static func storedTokens(_ bench: DeliveryTests.Bench, _ channel: ChannelName) async throws -> ChannelTokens? {
        try await bench.harness.read { db in try NotificationStore.tokens(channel, in: db) }
    }

    /// The first send spends the configured refresh token and keeps the new pair; a restart (a
    /// new channel) goes on with the stored pair, not the configured token (spent); a refused
    /// access token is refreshed once however many sends meet it at the same time.
    @Test func zaloSendsByPhoneAndKeepsItsSingleUseRefreshTokenAcrossRestartsAndConcurrentSends() async throws {
        try await Self.withZalo { bench, fake in
            try await bench.harness.send(Self.waitlisted("zalo-1", language: .vietnamese, phone: "+84 905 123 456"))
            #expect(try await bench.round(.zalo) == 1)
            let first = try await Self.history(bench, "zalo-1")
            #expect(Self.outcomes(first) == ["zalo:sent"])
            #expect(fake.calls.map(\.path) == ["/v4/oa/access_token", "/message/template"])
            #expect(fake.calls.first?.form?["refresh_token"] == "refresh-0")
            #expect(try await Self.storedTokens(bench, .zalo)?.refreshToken == "refresh-1")
            let body = try #require(try JSONSerialization.jsonObject(with: Data((fake.calls.last?.body ?? "").utf8)) as? [String: Any])
            #expect(body["phone"] as? String == "84905123456" && body["template_id"] as? String == "312345")
            #expect(body["tracking_id"] as? String == first.notification.idempotencyKey)
            let data = try #require(body["template_data"] as? [String: String])
            #expect(data["message"]?.contains("danh sách chờ") == true && data["reference"] == "zalo-1")

            // A restart: a new channel reads the stored pair and sends without refreshing.
            let context = ChannelContext(store: bench.context.store, metrics: bench.context.metrics, logger: TestBroker.logger)
            let outgoing = OutgoingNotification(
                record: first.notification,
                rendered: Renderer.Rendered(language: .vietnamese, subject: "s", text: "", html: "", short: "tin nhắn"), now: Date())
            try await Self.zalo(fake).send(outgoing, context: context)
            #expect(fake.calls.filter { $0.path == "/v4/oa/access_token" }.count == 1)

            // The access token refused (-124) under five sends at once: one refresh, with the stored
            // refresh token, and every send goes.
            try await bench.harness.write { db in
                try NotificationStore.saveTokens(
                    ChannelTokens(accessToken: "stale", refreshToken: "refresh-1", expiresAt: Date().addingTimeInterval(3600)), for: .zalo,
                    now: Date(), in: db)
            }
            let restarted = Self.zalo(fake)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 1...5 { group.addTask { try await restarted.send(outgoing, context: context) } }
                try await group.waitForAll()
            }
            let refreshes = fake.calls.filter { $0.path == "/v4/oa/access_token" }
            #expect(refreshes.count == 2 && refreshes.last?.form?["refresh_token"] == "refresh-1")
            #expect(try await Self.storedTokens(bench, .zalo)?.refreshToken == "refresh-2")
            #expect(fake.calls.filter { $0.path == "/message/template" && $0.header("access_token") == "access-2" }.count == 5)
        }
    }

    /// The kept refresh token refused (the app's authorisation lapsed, the operator authorised
    /// it again and configured the new first token): the configured one is tried and kept.
    @Test func aRefusedKeptRefreshTokenGivesWayToTheOneConfiguredAgain() async throws {
        try await Self.withZalo { bench, fake in
            try await bench.harness.write { db in
                try NotificationStore.saveTokens(
                    ChannelTokens(accessToken: "old", refreshToken: "refresh-lapsed", expiresAt: Date().addingTimeInterval(-60)),
                    for: .zalo, now: Date(), in: db)
            }
            try await bench.harness.send(Self.waitlisted("zalo-3", language: .vietnamese, phone: "+84 905 123 456"))
            #expect(try await bench.round(.zalo) == 1)
            #expect(Self.outcomes(try await Self.history(bench, "zalo-3")) == ["zalo:sent"])
            #expect(fake.calls.compactMap { $0.form?["refresh_token"] } == ["refresh-lapsed", "refresh-0"])
            #expect(try await Self.storedTokens(bench, .zalo)?.refreshToken == "refresh-1")
        }
    }

    /// Every refresh token refused (the OA's authorisation lapsed and was not given again): the
    /// channel is refused, not the message; it waits for the operator instead of falling back to
    /// e-mail one notification at a time.
    @Test func noRefreshTokenTakenRefusesTheChannelNotTheMessage() async throws {
        try await Self.withZalo { bench, fake in
            try await bench.harness.write { db in
                try NotificationStore.saveTokens(
                    ChannelTokens(accessToken: "old", refreshToken: "refresh-lapsed", expiresAt: Date().addingTimeInterval(-60)),
                    for: .zalo, now: Date(), in: db)
            }
            let lapsed = ZaloChannel(
                configuration: ZaloConfiguration(apiURL: fake.url, oauthURL: fake.url, appID: "app-1", secretKey: "secret-1", timeout: 5),
                templates: [.waitlisted: "312345"], firstRefreshToken: "refresh-spent")
            var configuration = bench.configuration
            configuration.run([lapsed], order: ["vi": [.zalo, .email]])
            let delivery = DeliveryService(context: bench.context, configuration: configuration, renderer: bench.renderer)
            try await bench.harness.send(Self.waitlisted("zalo-6", language: .vietnamese, phone: "+84 905 123 456"))
            #expect(try await delivery.round(.zalo, now: Date().addingTimeInterval(3600), limit: 10) == 1)
            let history = try await Self.history(bench, "zalo-6")
            #expect(Self.outcomes(history) == ["zalo:transient"] && history.notification.status == .pending)
            #expect(history.notification.channel == .zalo && history.notification.lastError?.hasPrefix("channel refused: ") == true)
            #expect(fake.calls.compactMap { $0.form?["refresh_token"] } == ["refresh-lapsed", "refresh-spent"])
        }
    }

    /// New tokens that cannot be written (the store refuses the write): the send goes on with
    /// them from memory, the next refresh spends the unsaved refresh token (not the spent one in
    /// the store or the configuration), and once the store takes writes again the next use writes
    /// them, so a restart goes on with them.
    @Test func newTokensThatCannotBeWrittenAreUsedFromMemoryAndWrittenBeforeTheNextUse() async throws {
        try await Self.withZalo { bench, fake in
            try await bench.harness.write { db in
                for operation in ["INSERT", "UPDATE"] {
                    try db.execute(
                        sql:
                            "CREATE TRIGGER refuse_\(operation) BEFORE \(operation) ON channel_tokens BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                    )
                }
            }
            try await bench.harness.send(Self.waitlisted("zalo-5", language: .vietnamese, phone: "+84 905 123 456"))
            let record = try await Self.history(bench, "zalo-5").notification
            let outgoing = OutgoingNotification(
                record: record, rendered: Renderer.Rendered(language: .vietnamese, subject: "s", text: "", html: "", short: "tin nhắn"),
                now: Date())
            let context = ChannelContext(store: bench.context.store, metrics: bench.context.metrics, logger: TestBroker.logger)
            let channel = Self.zalo(fake)
            try await channel.send(outgoing, context: context)
            try await channel.send(outgoing, context: context)
            #expect(try await Self.storedTokens(bench, .zalo) == nil)
            #expect(fake.calls.compactMap { $0.form?["refresh_token"] } == ["refresh-0"])
            #expect(fake.calls.filter { $0.path == "/message/template" }.map { $0.header("access_token") } == ["access-1", "access-1"])

            // The access token refused: refreshed with the refresh token only memory has.
            #expect(try await channel.tokens.refresh(context, rejected: "access-1") == "access-2")
            #expect(fake.calls.compactMap { $0.form?["refresh_token"] } == ["refresh-0", "refresh-1"])
            #expect(try await Self.storedTokens(bench, .zalo) == nil)

            try await bench.harness.write { db in
                for operation in ["INSERT", "UPDATE"] { try db.execute(sql: "DROP TRIGGER refuse_\(operation)") }
            }
            try await channel.send(outgoing, context: context)
            #expect(try await Self.storedTokens(bench, .zalo)?.refreshToken == "refresh-2")
            try await Self.zalo(fake).send(outgoing, context: context)  // a restart
            #expect(fake.calls.filter { $0.path == "/v4/oa/access_token" }.count == 2)
            #expect(
                fake.calls.filter { $0.path == "/message/template" }.map { $0.header("access_token") }.suffix(2) == [
                    "access-2", "access-2",
                ])
        }
    }

    @Test func aPhoneWithoutZaloFallsBackToEmail() async throws {
        try await Self.withZalo { bench, fake in
            try await bench.harness.send(Self.waitlisted("zalo-2", language: .vietnamese, phone: "+84 000 000 118"))
            #expect(try await bench.round(.zalo) == 1)
            #expect(try await bench.round(.email) == 1)
            let history = try await Self.history(bench, "zalo-2")
            #expect(Self.outcomes(history) == ["zalo:permanent", "email:sent"])
            #expect(history.attempts.first?.detail?.contains("-118") == true)
        }
    }

    // MARK: WeChat

    static func wechat(_ fake: ProviderFake) -> WeChatChannel {
        WeChatChannel(
            configuration: WeChatConfiguration(apiURL: fake.url, appID: "wx1", appSecret: "sec1", timeout: 5),
            templates: [.waitlisted: "tpl-wait"])
    }

    /// WeChat because the person asked for it (the operator's order has e-mail alone); a token
    /// refused is fetched again with `force_refresh`; someone who no longer follows the account
    /// gets the e-mail.
    @Test func wechatGoesToThoseWhoAskForItWithAFreshTokenWhenRefusedAndFallsBackToEmail() async throws {
        let smtp = try await SMTPTestServer()
        let fake = try await ProviderFake("wechat_fake.py", ["--app-id", "wx1", "--app-secret", "sec1"])
        defer {
            smtp.stop()
            fake.stop()
        }
        let bench = try await DeliveryTests.bench(smtp: smtp) { $0.run([Self.wechat(fake)], order: ["default": [.email]]) }
        try await bench.harness.send(
            Self.waitlisted("wx-1", language: .chineseSimplified, openID: "o-lead-1", channels: [.wechat, .sms]))
        let queued = try await Self.history(bench, "wx-1")
        #expect(queued.notification.channels == [.wechat, .email], "sms is not set up here; e-mail follows from the operator's order")
        #expect(try await bench.round(.wechat) == 1)
        #expect(Self.outcomes(try await Self.history(bench, "wx-1")) == ["wechat:sent"])
        let send = try #require(fake.calls.last)
        #expect(send.path.hasPrefix("/cgi-bin/message/template/send?access_token=token-1"))
        let body = try #require(try JSONSerialization.jsonObject(with: Data((send.body ?? "").utf8)) as? [String: Any])
        #expect(body["touser"] as? String == "o-lead-1" && body["template_id"] as? String == "tpl-wait")
        #expect(body["client_msg_id"] as? String == queued.notification.idempotencyKey)
        let fields = try #require(body["data"] as? [String: [String: String]])
        #expect(fields["keyword2"]?["value"] == "wx-1")
        #expect(fields.values.allSatisfy { ($0["value"]?.count ?? 0) <= 20 })

        try await bench.harness.write { db in
            try NotificationStore.saveTokens(
                ChannelTokens(accessToken: "token-0", refreshToken: "stable", expiresAt: Date().addingTimeInterval(3600)), for: .wechat,
                now: Date(), in: db)
        }
        try await bench.harness.send(
            Self.waitlisted("wx-2", language: .chineseSimplified, openID: "o-lead-2", channels: [.wechat]))
        let restarted = Self.wechat(fake)
        let record = try await Self.history(bench, "wx-2").notification
        let context = ChannelContext(store: bench.context.store, metrics: bench.context.metrics, logger: TestBroker.logger)
        try await restarted.send(
            OutgoingNotification(
                record: record, rendered: Renderer.Rendered(language: .chineseSimplified, subject: "候补", text: "", html: "", short: "候补"),
                now: Date()), context: context)
        let tokenCalls = fake.calls.filter { $0.path == "/cgi-bin/stable_token" }
        #expect(tokenCalls.count == 2 && tokenCalls.last?.body?.contains("\"force_refresh\":true") == true)
        #expect(fake.calls.last?.path.contains("access_token=token-2") == true)

        try await bench.harness.send(
            Self.waitlisted("wx-3", language: .chineseSimplified, openID: "not-following", channels: [.wechat]))
        #expect(try await bench.round(.wechat) >= 1)
        #expect(try await bench.round(.email) >= 1)
        let refused = try await Self.history(bench, "wx-3")
        #expect(Self.outcomes(refused) == ["wechat:permanent", "email:sent"])
        #expect(refused.attempts.first?.detail?.contains("43004") == true)
    }

    /// A kept token that merely expired is fetched again without `force_refresh`: forcing one
    /// voids every other instance's token, and WeChat allows it 20 times a day.
    @Test func anExpiredWeChatTokenIsFetchedAgainWithoutForcingANewOne() async throws {
        let fake = try await ProviderFake("wechat_fake.py", ["--app-id", "wx1", "--app-secret", "sec1"])
        defer { fake.stop() }
        let bench = try await DeliveryTests.bench(smtpPort: 1) { $0.run([Self.wechat(fake)], order: ["default": [.email]]) }
        try await bench.harness.write { db in
            try NotificationStore.saveTokens(
                ChannelTokens(accessToken: "token-1", refreshToken: "stable", expiresAt: Date().addingTimeInterval(-60)), for: .wechat,
                now: Date(), in: db)
        }
        try await bench.harness.send(Self.waitlisted("wx-expired", language: .chineseSimplified, openID: "o-lead-1", channels: [.wechat]))
        #expect(try await bench.round(.wechat) == 1)
        #expect(Self.outcomes(try await Self.history(bench, "wx-expired")) == ["wechat:sent"])
        let tokenCalls = fake.calls.filter { $0.path == "/cgi-bin/stable_token" }
        #expect(tokenCalls.count == 1)
        #expect(tokenCalls.first?.body?.contains("\"force_refresh\":false") == true, "\(tokenCalls.first?.body ?? "-")")
        #expect(try await Self.storedTokens(bench, .wechat)?.expiresAt ?? .distantPast > Date(), "the new expiry kept")
    }

    // MARK: Choosing the channels

    @Test func aPersonsOwnChoicesComeFirstThenTheOperatorsOrderOnlyChannelsThatReachThem() throws {
        let url = URL(string: "http://127.0.0.1:1")!
        let channels = NotificationChannels(
            [
                EmailChannel(smtp: SMTPConfiguration(), sender: .init(email: "noreply@delegation.example")),
                SMSChannel(configuration: SMSGatewayConfiguration(baseURL: url, accountSID: "AC1", authToken: "t", from: "X")),
                WeChatChannel(configuration: WeChatConfiguration(apiURL: url, appID: "wx", appSecret: "s"), templates: [.reminder: "t"]),
            ], order: ["zh-Hans": [.sms, .email], "default": [.email]])
        var li = Recipient(name: "Li", email: "li@example.cn", language: .chineseSimplified, phone: "+86 755 1234 5678")
        #expect(channels.channels(for: li, kind: .reminder) == [.sms, .email], "the operator's order for Chinese")
        li.wechatOpenID = "o-li"
        li.channels = [.wechat, "fax", .email]
        #expect(channels.channels(for: li, kind: .reminder) == [.wechat, .email, .sms], "theirs first; fax is not run here")
        #expect(channels.channels(for: li, kind: .accepted) == [.email, .sms], "no WeChat template for acceptances")
        li.phone = "0905 123 456"
        #expect(channels.channels(for: li, kind: .accepted) == [.email], "a number without its country code is not guessed at")
        let an = Recipient(name: "An", email: "an@example.vn", language: .vietnamese, phone: "+84905123456")
        #expect(channels.channels(for: an, kind: .reminder) == [.email])
    }

    @Test func eachChannelIsSetUpFromItsSettingsAndAMistakeIsNamed() throws {
        let environment = [
            "NOTIFICATIONS_SMS_ACCOUNT_SID": "AC1", "NOTIFICATIONS_SMS_AUTH_TOKEN": "t", "NOTIFICATIONS_SMS_MESSAGING_SERVICE": "MG1",
            "NOTIFICATIONS_ZALO_APP_ID": "z1", "NOTIFICATIONS_ZALO_SECRET_KEY": "zs", "NOTIFICATIONS_ZALO_REFRESH_TOKEN": "r0",
            "NOTIFICATIONS_ZALO_TEMPLATES": "accepted=1,reminder=2", "NOTIFICATIONS_WECHAT_APP_ID": "wx",
            "NOTIFICATIONS_WECHAT_APP_SECRET": "ws", "NOTIFICATIONS_WECHAT_TEMPLATES": "itinerary-changed=T1",
            "NOTIFICATIONS_CHANNELS": "zh-Hans=wechat,sms,email;vi=zalo,email;default=email",
        ]
        let configuration = try NotificationsConfiguration.fromEnvironment(environment)
        #expect(configuration.channels.names == [.email, .sms, .wechat, .zalo])
        #expect(
            configuration.channels.order["vi"] == [.zalo, .email] && configuration.channels.order["zh-Hans"] == [.wechat, .sms, .email])
        #expect((configuration.channels[.zalo] as? ZaloChannel)?.templates == [.accepted: "1", .reminder: "2"])

        var wrong = environment
        wrong["NOTIFICATIONS_SMS_MESSAGING_SERVICE"] = nil
        wrong["NOTIFICATIONS_ZALO_TEMPLATES"] = "acepted=1"
        wrong["NOTIFICATIONS_WECHAT_APP_ID"] = nil
        #expect {
            try NotificationsConfiguration.fromEnvironment(wrong)
        } throws: { error in
            let text = "\(error)"
            return text.contains("set one of NOTIFICATIONS_SMS_FROM and NOTIFICATIONS_SMS_MESSAGING_SERVICE")
                && text.contains("NOTIFICATIONS_ZALO_TEMPLATES entry 'acepted=1'")
                && text.contains("NOTIFICATIONS_CHANNELS names 'wechat', which is not set up")
        }
    }
}

import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// Notifications no worker would ever claim: queued for no channel at all (none of the
/// recipient's could reach them), or for a channel the configuration has dropped since. A
/// worker's turn (`DeliveryService.round`, as at start-up) moves each to the recipient's next
/// channel that runs, or fails it with the reason and `notification.failed`.
extension DeliveryTests {
    /// A channel that is set up but never called here (the notifications wait before any send).
    static let nowhere = URL(string: "http://127.0.0.1:1")!

    @Test func aNotificationNoChannelCanReachFailsAtOnceWithTheReason() async throws {
        let bench = try await Self.bench(smtpPort: 1) { configuration in
            configuration.run(
                [
                    SMSChannel(configuration: SMSGatewayConfiguration(baseURL: Self.nowhere, accountSID: "AC1", authToken: "t", from: "X")),
                    WeChatChannel(
                        configuration: WeChatConfiguration(apiURL: Self.nowhere, appID: "wx", appSecret: "s"), templates: [.waitlisted: "t"]
                    ),
                ], order: ["zh-Hans": [.wechat, .sms], "default": [.email]])
        }
        // Li Wei gave neither an openid nor a phone number.
        try await bench.harness.send(ChannelDeliveryTests.waitlisted("unreachable-1", language: .chineseSimplified))
        let queued = try #require(try await bench.history("reg-unreachable-1").first)
        #expect(queued.notification.channels.isEmpty)

        #expect(try await bench.round(.email) == 0)
        let history = try #require(try await bench.history("reg-unreachable-1").first)
        #expect(history.notification.status == .failed && history.attempts.isEmpty, "failed without an attempt")
        #expect(history.notification.lastError?.contains("no channel set up here reaches the recipient (for zh-Hans: wechat, sms)") == true)
        let failed = try #require(try await bench.harness.emitted().of(NotificationFailed.self).first)
        #expect(failed.notificationID == history.notification.id && failed.permanent && failed.attempts == 0)
        #expect(failed.channel == .wechat && failed.reason.contains("no channel set up here reaches the recipient"), "\(failed.reason)")
        #expect(bench.metrics.contains(#"notification_attempts_total{service="notifications",channel="wechat",outcome="failed"} 1"#))
        #expect(try await bench.round(.email) == 0)
        #expect(try await bench.harness.emitted().isEmpty, "failed once")
    }

    /// Zalo was set up when they were queued and is not after a restart: the notification whose
    /// recipient has e-mail next goes by e-mail in the same turn (keeping its due time); the one
    /// whose only channel was Zalo fails with the reason.
    @Test func aNotificationForAChannelNoLongerSetUpMovesToTheNextOneOrFails() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let zalo = ZaloChannel(
            configuration: ZaloConfiguration(apiURL: Self.nowhere, oauthURL: Self.nowhere, appID: "app-1", secretKey: "s"),
            templates: [.waitlisted: "312345"], firstRefreshToken: "r0")
        let bench = try await Self.bench(smtp: smtp) {
            $0.run([zalo], order: ["vi": [.zalo, .email], "en": [.zalo], "default": [.email]])
        }
        try await bench.harness.send(ChannelDeliveryTests.waitlisted("zalo-gone-1", language: .vietnamese, phone: "+84 905 123 456"))
        try await bench.harness.send(ChannelDeliveryTests.waitlisted("zalo-gone-2", language: .english, phone: "+84 905 123 457"))
        var before: [NotificationRecord] = []
        for reference in ["zalo-gone-1", "zalo-gone-2"] {
            before.append(try #require(try await bench.history("reg-\(reference)").first).notification)
        }
        #expect(before.map(\.channels) == [[.zalo, .email], [.zalo]])

        var withoutZalo = bench.configuration
        withoutZalo.run([], order: ["default": [.email]])
        let restarted = DeliveryService(context: bench.context, configuration: withoutZalo, renderer: bench.renderer)
        #expect(try await restarted.round(.email, now: Date().addingTimeInterval(3600), limit: 10) == 1, "moved and claimed in one turn")

        let moved = try #require(try await bench.history("reg-zalo-gone-1").first)
        #expect(moved.notification.status == .sent && moved.notification.sentChannel == .email)
        #expect(ChannelDeliveryTests.outcomes(moved) == ["email:sent"], "no attempt on a channel that does not run")
        #expect(moved.notification.dueAt == before[0].dueAt)
        let stranded = try #require(try await bench.history("reg-zalo-gone-2").first)
        #expect(stranded.notification.status == .failed && stranded.attempts.isEmpty)
        let failed = try #require(try await bench.harness.emitted().of(NotificationFailed.self).first)
        #expect(failed.notificationID == stranded.notification.id && failed.channel == .zalo)
        #expect(failed.reason.contains("channel zalo is not set up here"), "\(failed.reason)")
        #expect(smtp.messages.count == 1)
    }

    /// A permanent failure falls back past a channel that does not run here to the next that does.
    @Test func aFallbackSkipsAChannelThatDoesNotRunHere() async throws {
        try await Self.withRefusingWebhook { bench, smtp, hook in
            try await bench.harness.write { db in
                var record = RendererTests.record(.waitlisted, language: .chineseSimplified, zone: "Asia/Shanghai")
                record.id = "ntf-skip-1"
                record.idempotencyKey = "key-skip-1"
                record.channels = [.webhook, .zalo, .email]
                _ = try NotificationStore.insert(record, in: db)
            }
            #expect(try await bench.round(.webhook) == 1)
            let record = try #require(try await bench.harness.read { db in try NotificationStore.notification("ntf-skip-1", in: db) })
            #expect(record.status == .pending && record.channel == .email, "zalo is not set up here")
            #expect(try await bench.round(.email) == 1)
            #expect(smtp.messages.count == 1 && hook.calls.count == 1)
        }
    }
}

import Foundation
import GRDB
import Logging
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// What a failure leaves behind: a reason without personal data wherever it goes, and a
/// provider's refusal of the channel itself kept apart from a refusal of one message.
extension DeliveryTests {
    /// The relay's 550 quotes the address: neither `notification.failed`, the stored error nor the
    /// attempt's detail (both shown by the history and the console) carries it.
    @Test func aFailureIsPublishedAndStoredWithoutTheAddress() async throws {
        let smtp = try await SMTPTestServer(reject: ["nobody"])
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        try await bench.harness.send(Self.accepted("redact-1", email: "nobody.li@example.cn"))
        #expect(try await bench.round() == 1)
        let failed = try #require(try await bench.harness.emitted().of(NotificationFailed.self).first)
        #expect(failed.reason.contains("RCPT TO → 550") && failed.reason.contains("<address>"), "\(failed.reason)")
        let history = try #require(try await bench.history("reg-redact-1").first)
        let texts = [failed.reason, history.notification.lastError ?? ""] + history.attempts.map { $0.detail ?? "" }
        for text in texts { #expect(!text.contains("nobody.li") && !text.contains("@example.cn"), "\(text)") }
    }

    @Test func aReasonLosesTheRecipientsNumberAndOpenIDInEveryForm() {
        let recipient = Recipient(
            name: "An", email: "an@example.vn", language: .vietnamese, phone: "+84 905-123 456", wechatOpenID: "o6_bmjrPTlm6_2sgVt7hMZOP")
        let error = DeliveryError.permanent(
            #"ZNS error -150: "84905123456 blocked"; +84905123456, +84 905-123 456, +86 755 1234 5678; o6_bmjrPTlm6_2sgVt7hMZOP; a@b.cn"#)
        #expect(
            error.redacted(for: recipient)
                == .permanent(#"ZNS error -150: "<number> blocked"; <number>, <number>, <number>; <openid>; <address>"#))
        #expect(
            DeliveryError.transient("SMS gateway answered 400 (error 21211: invalid number)").redacted(for: recipient).reason.contains(
                "21211"))
    }

    /// The relay's password was rotated: AUTH is refused (535) for every message. Each stays
    /// pending and is retried with backoff, none fails, and the operator reads one line about the
    /// channel, not one per message.
    @Test func aRefusedRelayPasswordIsRetriedAndToldOnceNotFailedPerMessage() async throws {
        let smtp = try await SMTPTestServer(auth: "notifier:s3cret")
        defer { smtp.stop() }
        let rotated = SMTPConfiguration(port: smtp.port, username: "notifier", password: "before-rotation", timeout: 5)
        let bench = try await Self.bench(smtp: smtp) { configuration in
            configuration.run([EmailChannel(smtp: rotated, sender: configuration.sender)], order: ["default": [.email]])
        }
        let logs = LogCapture()
        let delivery = DeliveryService(
            context: ServiceHost.Context(
                configuration: bench.configuration.service, store: bench.harness.store, metrics: bench.context.metrics, logger: logs.logger),
            configuration: bench.configuration, renderer: bench.renderer)
        for reference in ["rotated-1", "rotated-2"] { try await bench.harness.send(Self.accepted(reference)) }
        for _ in 1...2 { #expect(try await delivery.round(.email, now: Date().addingTimeInterval(3600), limit: 10) == 2) }

        for reference in ["rotated-1", "rotated-2"] {
            let history = try #require(try await bench.history("reg-\(reference)").first)
            #expect(history.notification.status == .pending, "retried, not failed")
            #expect(history.attempts.map(\.outcome) == ["transient", "transient"])
            #expect(history.notification.lastError?.contains("AUTH → 535") == true, "\(history.notification.lastError ?? "-")")
        }
        #expect(try await bench.harness.emitted().of(NotificationFailed.self).isEmpty)
        let told = logs.all.filter { $0.level >= .warning }
        #expect(told.count == 1, "\(told.map(\.message))")
        #expect(told.first?.message.contains("refuses the channel itself") == true && told.first?.metadata["channel"] == "email")
        #expect(smtp.messages.isEmpty)
    }
}

import Foundation
import Messages
import ServiceRuntime

/// A signed JSON POST to a chat bridge (`NOTIFICATIONS_WEBHOOK_URL` and `_SECRET`, both or
/// neither): the notification's kind, language, recipient's name, subject, text and short text.
/// It reaches every recipient (the bridge decides how).
public struct WebhookChannel: ConfigurableChannel {
    public var name: ChannelName { .webhook }
    public var parts: Renderer.Parts { [.subject, .body, .short] }
    public let configuration: WebhookConfiguration

    public init(configuration: WebhookConfiguration) { self.configuration = configuration }

    public func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool { true }

    struct Payload: Encodable {
        var notificationID: String
        var idempotencyKey: String
        var kind: String
        var language: String
        var registrationID: String?
        var recipient: String
        var subject: String
        var text: String
        var short: String?
    }

    public func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError) {
        let (record, rendered) = (notification.record, notification.rendered)
        let body: Data
        do {
            body = try MessageCoding.encode(
                Payload(
                    notificationID: record.id, idempotencyKey: record.idempotencyKey, kind: record.kind.rawValue,
                    language: rendered.language.rawValue, registrationID: record.registrationID, recipient: record.recipient.name,
                    subject: rendered.subject, text: rendered.text, short: rendered.short))
        } catch {
            throw .permanent("cannot encode the webhook payload: \(error)")
        }
        try await WebhookClient(configuration: configuration).post(body, idempotencyKey: record.idempotencyKey, now: notification.now)
    }

    public static func fromEnvironment(_ reader: inout EnvironmentReader, prefix p: String) -> WebhookChannel? {
        switch (reader.optionalString("\(p)_WEBHOOK_URL"), reader.optionalString("\(p)_WEBHOOK_SECRET")) {
        case (nil, nil):
            return nil
        case (let url?, let secret?):
            if WebhookConfiguration.key(secret) == nil {
                reader.problem(
                    "\(p)_WEBHOOK_SECRET: a whsec_ secret is whsec_ + base64 of 24 to 64 bytes, e.g. whsec_$(openssl rand -base64 32)")
            }
            guard let parsed = httpURL(url) else {
                reader.problem("\(p)_WEBHOOK_URL='\(url)' is not an http(s) URL")
                return nil
            }
            return WebhookChannel(configuration: WebhookConfiguration(url: parsed, secret: secret))
        default:
            reader.problem("\(p)_WEBHOOK_URL and \(p)_WEBHOOK_SECRET go together (the secret signs every call)")
            return nil
        }
    }
}

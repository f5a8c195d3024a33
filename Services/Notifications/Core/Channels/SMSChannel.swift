import Foundation
import Messages
import ServiceRuntime

/// SMS through Twilio's Messages API (`SMSGateway`), the short text of the notification
/// (`<kind>/<language>.sms`), to recipients with a phone number in international form. Set up by
/// `NOTIFICATIONS_SMS_ACCOUNT_SID`:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `NOTIFICATIONS_SMS_ACCOUNT_SID` / `_AUTH_TOKEN` | none | the account (both or neither) |
/// | `NOTIFICATIONS_SMS_FROM` / `_MESSAGING_SERVICE` | none | the sender: a number or sender id, or a Messaging Service (one of them) |
/// | `NOTIFICATIONS_SMS_URL` | `https://api.twilio.com` | the API |
///
/// Every message counts its segments into `notification_sms_segments_total{encoding}`.
public struct SMSChannel: ConfigurableChannel {
    public var name: ChannelName { .sms }
    public var parts: Renderer.Parts { .short }
    public let gateway: SMSGateway

    public init(configuration: SMSGatewayConfiguration) { gateway = SMSGateway(configuration: configuration) }

    public func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool { recipient.phone.flatMap(PhoneNumber.e164) != nil }

    public func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError) {
        guard let phone = notification.record.recipient.phone, let text = notification.rendered.short, !text.isEmpty else {
            throw .permanent("no phone number or no short text")
        }
        let accepted = try await gateway.send(to: phone, body: text)
        if accepted.sid == nil {
            context.logger.warning(
                "the SMS gateway took the message (2xx) with an answer that is not a message resource: recorded as sent, without its id",
                metadata: ["notification.id": "\(notification.record.id)"])
        }
        let sms = SMSText(text)
        context.metrics.registry.makeCounter(
            descriptor: .metric("notification_sms_segments_total", help: "SMS segments sent (what the gateway bills), by encoding"),
            labels: [("service", context.metrics.service), ("encoding", sms.encoding.rawValue)]
        ).increment(by: Int64(sms.segments.count))
    }

    public static func fromEnvironment(_ reader: inout EnvironmentReader, prefix p: String) -> SMSChannel? {
        guard let sid = reader.optionalString("\(p)_SMS_ACCOUNT_SID") else { return nil }
        let token = reader.optionalString("\(p)_SMS_AUTH_TOKEN")
        let from = reader.optionalString("\(p)_SMS_FROM"), service = reader.optionalString("\(p)_SMS_MESSAGING_SERVICE")
        let url = reader.string("\(p)_SMS_URL", default: "https://api.twilio.com")
        if token == nil { reader.problem("\(p)_SMS_AUTH_TOKEN is needed with \(p)_SMS_ACCOUNT_SID") }
        if (from == nil) == (service == nil) { reader.problem("set one of \(p)_SMS_FROM and \(p)_SMS_MESSAGING_SERVICE: the sender") }
        guard let base = httpURL(url) else {
            reader.problem("\(p)_SMS_URL='\(url)' is not an http(s) URL")
            return nil
        }
        return SMSChannel(
            configuration: SMSGatewayConfiguration(
                baseURL: base, accountSID: sid, authToken: token ?? "", from: from, messagingServiceSID: service))
    }
}

import Foundation
import Messages

/// E-mail through the SMTP relay (`NOTIFICATIONS_SMTP_*`, `NOTIFICATIONS_FROM`), over a few
/// connections kept open (`SMTPPool`): the subject,
/// text and HTML bodies, the calendar files and the passes. Every recipient has an address. A
/// notification one may stop carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058).
public struct EmailChannel: NotificationChannel {
    public var name: ChannelName { .email }
    public var parts: Renderer.Parts { .all.subtracting(.short) }
    public let smtp: SMTPConfiguration
    public let sender: MIMEMessage.Address
    let pool: SMTPPool

    public init(smtp: SMTPConfiguration, sender: MIMEMessage.Address) {
        self.smtp = smtp
        self.sender = sender
        pool = SMTPPool(configuration: smtp)
    }

    public func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool { !isPlaceholderAddress(recipient.email) }

    public func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError) {
        let (record, rendered) = (notification.record, notification.rendered)
        let calendars: [MIMEMessage.Attachment] =
            (rendered.calendar.map {
                [.init(filename: "itinerary.ics", contentType: "text/calendar; charset=UTF-8; method=PUBLISH", data: Data($0.utf8))]
            } ?? [])
            + (rendered.cancellation.map {
                [.init(filename: "cancelled.ics", contentType: "text/calendar; charset=UTF-8; method=CANCEL", data: Data($0.utf8))]
            } ?? [])
        let message = MIMEMessage(
            from: sender, to: .init(name: record.recipient.name, email: record.recipient.email), subject: rendered.subject,
            text: rendered.text, html: rendered.html, attachments: calendars, inline: rendered.images,
            messageID: "\(record.id)@notifications.delegation", date: notification.now,
            headers: [("X-Delegation-Notification", record.id), ("Content-Language", rendered.language.rawValue)]
                + (notification.optOutURL.map {
                    [("List-Unsubscribe", "<\($0)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
                } ?? []))
        try await pool.send(message.rendered(), from: sender.email, to: record.recipient.email)
    }
}

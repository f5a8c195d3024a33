import Foundation
import Messages
import ServiceRuntime

/// Zalo Notification Service template messages (`ZaloZNS`) to recipients with a phone number, for
/// the kinds with an approved template. Set up by `NOTIFICATIONS_ZALO_APP_ID`:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `NOTIFICATIONS_ZALO_APP_ID` / `_SECRET_KEY` | none | the app linked to the Official Account (both or neither) |
/// | `NOTIFICATIONS_ZALO_REFRESH_TOKEN` | none | the first refresh token (from the OA's authorisation); afterwards the store keeps the current one |
/// | `NOTIFICATIONS_ZALO_TEMPLATES` | none | approved template per kind, e.g. `accepted=231190,reminder=231204` |
/// | `NOTIFICATIONS_ZALO_API_URL` / `_OAUTH_URL` | `https://business.openapi.zalo.me` / `https://oauth.zaloapp.com` | the APIs |
///
/// A template's parameters are filled from `customer_name`, `organisation`, `reference`,
/// `subject` and `message` (the short text); the template uses those it names. A refresh token
/// is good once: the new pair is written to the store before it is used (kept in memory until
/// the store takes it, see `ChannelTokenKeeper`), one refresh at a time.
public struct ZaloChannel: ConfigurableChannel {
    public var name: ChannelName { .zalo }
    public var parts: Renderer.Parts { [.subject, .short] }
    public let zns: ZaloZNS
    /// The template per kind it may carry.
    let templates: [NotificationKind: String]
    let tokens: ChannelTokenKeeper

    public init(configuration: ZaloConfiguration, templates: [NotificationKind: String], firstRefreshToken: String?) {
        zns = ZaloZNS(configuration: configuration)
        self.templates = templates
        let zns = zns
        tokens = ChannelTokenKeeper(channel: .zalo, firstRefreshToken: firstRefreshToken) { refreshToken, _ throws(DeliveryError) in
            let fresh = try await zns.refresh(refreshToken)
            return ChannelTokens(
                accessToken: fresh.accessToken, refreshToken: fresh.refreshToken,
                expiresAt: Date().addingTimeInterval(Double(fresh.expiresIn)))
        }
    }

    public func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool {
        templates[kind] != nil && recipient.phone.flatMap(PhoneNumber.e164) != nil
    }

    public func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError) {
        let record = notification.record
        guard let phone = record.recipient.phone, let template = templates[record.kind] else {
            throw .permanent("no phone number, or no Zalo template for \(record.kind.rawValue)")
        }
        let data = [
            "customer_name": record.recipient.name, "organisation": record.content.organisation,
            "reference": record.content.reference ?? "", "subject": notification.rendered.subject,
            "message": notification.rendered.short ?? "",
        ]
        try await tokens.sending(context) { token throws(DeliveryError) in
            try await zns.send(phone: phone, templateID: template, data: data, trackingID: record.idempotencyKey, accessToken: token)
                != .tokenInvalid
        }
    }

    public static func fromEnvironment(_ reader: inout EnvironmentReader, prefix p: String) -> ZaloChannel? {
        guard let appID = reader.optionalString("\(p)_ZALO_APP_ID") else { return nil }
        let secret = reader.optionalString("\(p)_ZALO_SECRET_KEY")
        if secret == nil { reader.problem("\(p)_ZALO_SECRET_KEY is needed with \(p)_ZALO_APP_ID") }
        let templates = TemplateIDs.read(&reader, "\(p)_ZALO_TEMPLATES")
        let api = reader.string("\(p)_ZALO_API_URL", default: "https://business.openapi.zalo.me")
        let oauth = reader.string("\(p)_ZALO_OAUTH_URL", default: "https://oauth.zaloapp.com")
        guard let apiURL = httpURL(api), let oauthURL = httpURL(oauth) else {
            reader.problem("\(p)_ZALO_API_URL and \(p)_ZALO_OAUTH_URL must be http(s) URLs")
            return nil
        }
        return ZaloChannel(
            configuration: ZaloConfiguration(apiURL: apiURL, oauthURL: oauthURL, appID: appID, secretKey: secret ?? ""),
            templates: templates, firstRefreshToken: reader.optionalString("\(p)_ZALO_REFRESH_TOKEN"))
    }
}

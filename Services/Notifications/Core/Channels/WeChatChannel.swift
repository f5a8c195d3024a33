import Foundation
import Messages
import ServiceRuntime

/// WeChat Official Account template messages (`WeChatTemplate`) to recipients with an openid, for
/// the kinds with a template. Set up by `NOTIFICATIONS_WECHAT_APP_ID`:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `NOTIFICATIONS_WECHAT_APP_ID` / `_APP_SECRET` | none | the Service Account (both or neither) |
/// | `NOTIFICATIONS_WECHAT_TEMPLATES` | none | template per kind, e.g. `accepted=Xy…,itinerary-changed=Ab…` |
/// | `NOTIFICATIONS_WECHAT_API_URL` | `https://api.weixin.qq.com` | the API |
///
/// A template's fields are filled from `first` (the subject), `keyword1` (the organisation),
/// `keyword2` (the reference), `keyword3` (the short text) and `remark` (the short text), each cut
/// to 20 characters; the template uses those it names. The stable access token is kept in the
/// store and fetched again when it expires; only one the API refuses (40001, 42001) is forced anew
/// (`force_refresh`, which voids every other holder's token and is allowed 20 times a day).
public struct WeChatChannel: ConfigurableChannel {
    public var name: ChannelName { .wechat }
    public var parts: Renderer.Parts { [.subject, .short] }
    public let api: WeChatTemplate
    /// The template per kind it may carry.
    let templates: [NotificationKind: String]
    let tokens: ChannelTokenKeeper

    public init(configuration: WeChatConfiguration, templates: [NotificationKind: String]) {
        api = WeChatTemplate(configuration: configuration)
        self.templates = templates
        let api = api
        // The stable token needs no refresh token: the account's secret gets it.
        tokens = ChannelTokenKeeper(channel: .wechat, firstRefreshToken: "stable") { _, rejected throws(DeliveryError) in
            let fresh = try await api.token(forceRefresh: rejected)
            return ChannelTokens(
                accessToken: fresh.accessToken, refreshToken: "stable", expiresAt: Date().addingTimeInterval(Double(fresh.expiresIn)))
        }
    }

    public func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool {
        templates[kind] != nil && recipient.wechatOpenID?.isEmpty == false
    }

    public func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError) {
        let record = notification.record
        guard let openID = record.recipient.wechatOpenID, let template = templates[record.kind] else {
            throw .permanent("no openid, or no WeChat template for \(record.kind.rawValue)")
        }
        let short = notification.rendered.short ?? ""
        let data = [
            "first": notification.rendered.subject, "keyword1": record.content.organisation, "keyword2": record.content.reference ?? "",
            "keyword3": short, "remark": short,
        ]
        try await tokens.sending(context) { token throws(DeliveryError) in
            try await api.send(
                openID: openID, templateID: template, data: data, url: nil, messageID: record.idempotencyKey, accessToken: token)
                != .tokenInvalid
        }
    }

    public static func fromEnvironment(_ reader: inout EnvironmentReader, prefix p: String) -> WeChatChannel? {
        guard let appID = reader.optionalString("\(p)_WECHAT_APP_ID") else { return nil }
        let secret = reader.optionalString("\(p)_WECHAT_APP_SECRET")
        if secret == nil { reader.problem("\(p)_WECHAT_APP_SECRET is needed with \(p)_WECHAT_APP_ID") }
        let templates = TemplateIDs.read(&reader, "\(p)_WECHAT_TEMPLATES")
        let api = reader.string("\(p)_WECHAT_API_URL", default: "https://api.weixin.qq.com")
        guard let apiURL = httpURL(api) else {
            reader.problem("\(p)_WECHAT_API_URL='\(api)' is not an http(s) URL")
            return nil
        }
        return WeChatChannel(
            configuration: WeChatConfiguration(apiURL: apiURL, appID: appID, appSecret: secret ?? ""), templates: templates)
    }
}

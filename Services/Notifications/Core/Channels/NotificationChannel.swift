import Foundation
import Logging
import Messages
import ServiceRuntime

/// A way to reach a recipient: e-mail, the webhook, SMS, Zalo, WeChat. Each is a type of its own
/// in this folder, built from its settings by `NotificationChannels.fromEnvironment` and run by
/// `DeliveryService` with a worker of its own. Adding a channel touches its file, its settings
/// (its `ConfigurableChannel` conformance and the list in `NotificationChannels`) and its
/// templates.
public protocol NotificationChannel: Sendable {
    /// Its name in the channel orders, the recipients' preferences, the contracts and the metrics.
    var name: ChannelName { get }
    /// What `send` needs rendered.
    var parts: Renderer.Parts { get }
    /// Whether it can carry a notification of `kind` to `recipient` at all (an address, a phone
    /// number, an openid, a template approved for the kind); a channel that cannot is left out
    /// of the recipient's order when the notification is queued.
    func reaches(_ recipient: Recipient, kind: NotificationKind) -> Bool
    /// Sends once. A transient failure is tried again later on this channel; a permanent one
    /// moves the notification to the recipient's next channel.
    func send(_ notification: OutgoingNotification, context: ChannelContext) async throws(DeliveryError)
}

/// A channel whose settings are read from the environment (`NOTIFICATIONS_<CHANNEL>_…`).
public protocol ConfigurableChannel: NotificationChannel {
    /// The channel, if its settings are given (problems go to `reader`); nil when it is not set up.
    static func fromEnvironment(_ reader: inout EnvironmentReader, prefix: String) -> Self?
}

/// What a channel sends: the notification and its rendering.
public struct OutgoingNotification: Sendable {
    public var record: NotificationRecord
    public var rendered: Renderer.Rendered
    public var now: Date
    /// The link to stop notifications like this one (not essential, links configured).
    public var optOutURL: String?

    public init(record: NotificationRecord, rendered: Renderer.Rendered, now: Date, optOutURL: String? = nil) {
        self.record = record
        self.rendered = rendered
        self.now = now
        self.optOutURL = optOutURL
    }
}

/// What a channel may use while sending: the service's store (for tokens it must keep), metrics
/// and logger.
public struct ChannelContext: Sendable {
    public var store: ServiceStore
    public var metrics: ServiceMetrics
    public var logger: Logger

    public init(store: ServiceStore, metrics: ServiceMetrics, logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }
}

/// The channels the service runs, by name, and the operator's order of them per language.
public struct NotificationChannels: Sendable {
    /// Every kind of channel there is; each is set up when its settings are given.
    static let kinds: [any ConfigurableChannel.Type] = [WebhookChannel.self, SMSChannel.self, ZaloChannel.self, WeChatChannel.self]

    public private(set) var byName: [ChannelName: any NotificationChannel]
    /// Channel names by recipient language (`default` for any other), first choice first.
    public var order: [String: [ChannelName]]

    public init(_ channels: [any NotificationChannel], order: [String: [ChannelName]] = ["default": [.email]]) {
        byName = Dictionary(channels.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.order = order
    }

    public subscript(name: ChannelName) -> (any NotificationChannel)? { byName[name] }

    public var names: [ChannelName] { byName.keys.sorted() }

    /// The channels to try for a notification of `kind` to `recipient`, in order: the
    /// recipient's own choices, then the operator's order for their language; each once, and
    /// only those that run here and can reach them.
    public func channels(for recipient: Recipient, kind: NotificationKind) -> [ChannelName] {
        var chosen: [ChannelName] = []
        for name in (recipient.channels ?? []) + operatorOrder(for: recipient.language) where !chosen.contains(name) {
            if reaches(recipient, on: name, kind: kind) { chosen.append(name) }
        }
        return chosen
    }

    /// The operator's order for `language` (that of `default` for a language it does not name).
    public func operatorOrder(for language: Language) -> [ChannelName] {
        order[language.rawValue] ?? order["default"] ?? [.email]
    }

    /// Whether `name` runs here and can carry a notification of `kind` to `recipient`.
    public func reaches(_ recipient: Recipient, on name: ChannelName, kind: NotificationKind) -> Bool {
        byName[name]?.reaches(recipient, kind: kind) == true
    }

    /// Reads `<prefix>_CHANNELS` (the order) and each channel's settings; e-mail is given.
    static func fromEnvironment(_ reader: inout EnvironmentReader, prefix p: String, email: EmailChannel) -> NotificationChannels {
        var channels: [any NotificationChannel] = [email]
        for kind in kinds {
            if let channel = kind.fromEnvironment(&reader, prefix: p) { channels.append(channel) }
        }
        var result = NotificationChannels(channels)
        for rule in reader.string("\(p)_CHANNELS", default: "default=email").split(separator: ";") {
            let parts = rule.split(separator: "=", maxSplits: 1)
            let names =
                parts.count == 2
                ? parts[1].split(separator: ",").map { ChannelName(rawValue: $0.trimmingCharacters(in: .whitespaces)) } : []
            guard parts.count == 2, !names.isEmpty, names.allSatisfy({ $0 != nil }) else {
                reader.problem("\(p)_CHANNELS rule '\(rule)' must look like zh-Hans=wechat,sms,email")
                continue
            }
            for name in names.compactMap({ $0 }) where result[name] == nil {
                reader.problem(
                    "\(p)_CHANNELS names '\(name)', which is not set up (set up: \(result.names.map(\.rawValue).joined(separator: ", ")))")
            }
            result.order[parts[0].trimmingCharacters(in: .whitespaces)] = names.compactMap { $0 }
        }
        return result
    }
}

/// Templates per kind, from a setting such as `accepted=4021,reminder=4030` (Zalo's template
/// ids, WeChat's template ids): the kinds a template-message channel can carry.
enum TemplateIDs {
    static func read(_ reader: inout EnvironmentReader, _ key: String) -> [NotificationKind: String] {
        var byKind: [NotificationKind: String] = [:]
        for pair in (reader.optionalString(key) ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let kind = NotificationKind(rawValue: parts[0]), !parts[1].isEmpty else {
                reader.problem(
                    "\(key) entry '\(pair)' must be kind=template-id, kinds: \(NotificationKind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
                continue
            }
            byKind[kind] = parts[1]
        }
        if byKind.isEmpty { reader.problem("\(key) names no template: the channel could carry nothing") }
        return byKind
    }
}

/// `text` as an http(s) URL with a host, else nil (the channels' and the links' settings).
func httpURL(_ text: String) -> URL? {
    guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else { return nil }
    return url
}

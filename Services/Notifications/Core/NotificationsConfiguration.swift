import Foundation
import Messages
import Passes
import ServiceRuntime

/// The notifications service's settings: the shared ones (`ServiceConfiguration`, prefix
/// `NOTIFICATIONS`) plus
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `NOTIFICATIONS_SMTP_HOST` / `_PORT` | `127.0.0.1` / 25 | the mail relay |
/// | `NOTIFICATIONS_SMTP_SECURITY` | `none` | `none`, `starttls` or `tls` |
/// | `NOTIFICATIONS_SMTP_USER` / `_PASSWORD` | none | AUTH PLAIN when both are set |
/// | `NOTIFICATIONS_SMTP_CA_FILE` | system CAs | PEM of CAs to trust for the relay |
/// | `NOTIFICATIONS_FROM` / `_FROM_NAME` | `noreply@delegation.example` / `Da Nang Innovation Centre` | sender |
/// | `NOTIFICATIONS_CHANNELS` | `default=email` | channel order by language, e.g. `zh-Hans=wechat,sms,email;default=email` |
/// | `NOTIFICATIONS_TEMPLATES` | `Services/Notifications/Templates` | template folder |
/// | `NOTIFICATIONS_MAX_ATTEMPTS` | 5 | sends per channel before falling back / giving up |
/// | `NOTIFICATIONS_RETRY_BASE` / `_RETRY_MAX` | 2 / 300 | seconds: exponential backoff with jitter |
/// | `NOTIFICATIONS_DIGEST_WINDOW` | 60 | seconds in which itinerary changes for one recipient become one digest |
/// | `NOTIFICATIONS_QUIET_HOURS` | `22:00-07:00` | non-urgent messages wait until the end, in the recipient's zone (`off` to disable) |
/// | `NOTIFICATIONS_COUNTRY_ZONES` | `CN=Asia/Shanghai,VN=Asia/Ho_Chi_Minh` | recipients' time zones by country; others get the event's |
/// | `NOTIFICATIONS_CONCURRENCY` | 4 | sends in flight per channel |
/// | `NOTIFICATIONS_PASS_KEYS` | none | `id:base64[,…]`, keys (32 bytes or more) signing the delegates' passes, current first; unset: no passes |
/// | `NOTIFICATIONS_REMINDERS` | `1440,60` | minutes before each itinerary item a reminder goes to every recipient (`off`: none) |
/// | `NOTIFICATIONS_PUBLIC_URL` / `_LINK_KEY` | none | where recipients reach `/opt-out`, and the key (base64, 32 bytes or more) signing its links |
///
/// and each channel's own (`WebhookChannel`, `SMSChannel`, `ZaloChannel`, `WeChatChannel`):
/// a channel runs when its settings are given.
public struct NotificationsConfiguration: Sendable {
    public var service: ServiceConfiguration
    /// The e-mail channel's relay and sender (fixed: the channel is built from them).
    public let smtp: SMTPConfiguration
    public let sender: MIMEMessage.Address
    /// The channels that run (e-mail and those set up) and the operator's order of them.
    public var channels: NotificationChannels
    public var templates: String
    public var maxAttempts: Int
    public var retryBase: Double
    public var retryMax: Double
    public var digestWindow: Double
    /// Minutes after midnight; nil disables quiet hours.
    public var quietHours: (start: Int, end: Int)?
    public var countryZones: [String: String]
    public var concurrency: Int
    /// Minutes before each item of an itinerary when its reminder is due, longest first; those
    /// of an hour or less are sent through quiet hours.
    public var reminders: [Int]
    /// Sign the passes in acceptance and itinerary e-mails; nil: the e-mails carry none.
    public var passKeys: PassKeys?
    /// The links to stop non-essential notifications; nil: none are offered.
    public var optOut: OptOutLinks?

    public static let defaultHTTPPort = NotificationsService.description.defaultHTTPPort

    public init(
        service: ServiceConfiguration, smtp: SMTPConfiguration = SMTPConfiguration(),
        sender: MIMEMessage.Address = .init(name: "Da Nang Innovation Centre", email: "noreply@delegation.example"),
        channels: [any NotificationChannel] = [], channelOrder: [String: [ChannelName]] = ["default": [.email]],
        templates: String = NotificationsConfiguration.defaultTemplates, maxAttempts: Int = 5, retryBase: Double = 2,
        retryMax: Double = 300,
        digestWindow: Double = 60, quietHours: (start: Int, end: Int)? = (22 * 60, 7 * 60),
        countryZones: [String: String] = ["CN": "Asia/Shanghai", "VN": "Asia/Ho_Chi_Minh"], concurrency: Int = 4,
        reminders: [Int] = [1440, 60], passKeys: PassKeys? = nil
    ) {
        self.service = service
        self.smtp = smtp
        self.sender = sender
        self.channels = NotificationChannels([EmailChannel(smtp: smtp, sender: sender)] + channels, order: channelOrder)
        self.templates = templates
        self.maxAttempts = maxAttempts
        self.retryBase = retryBase
        self.retryMax = retryMax
        self.digestWindow = digestWindow
        self.quietHours = quietHours
        self.countryZones = countryZones
        self.concurrency = concurrency
        self.reminders = Array(Set(reminders)).sorted(by: >)
        self.passKeys = passKeys
    }

    /// Runs `channels` besides e-mail, tried in `order` per recipient language.
    public mutating func run(_ channels: [any NotificationChannel], order: [String: [ChannelName]]) {
        self.channels = NotificationChannels([email] + channels, order: order)
    }

    /// The e-mail channel, through the relay and from the sender above.
    var email: EmailChannel { EmailChannel(smtp: smtp, sender: sender) }

    /// The templates next to this source file (for development and tests).
    public static let defaultTemplates: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Templates").path
    }()

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> NotificationsConfiguration
    {
        var reader = EnvironmentReader(environment)
        let service = ServiceConfiguration.read(NotificationsService.description, from: &reader)
        let p = "NOTIFICATIONS"
        let security = reader.choice("\(p)_SMTP_SECURITY", default: SMTPConfiguration.Security.none, from: [.none, .startTLS, .tls])
        let smtp = SMTPConfiguration(
            host: reader.string("\(p)_SMTP_HOST", default: "127.0.0.1"),
            port: reader.integer("\(p)_SMTP_PORT", default: security == .tls ? 465 : 25, in: 1...65535),
            security: security, username: reader.optionalString("\(p)_SMTP_USER"), password: reader.optionalString("\(p)_SMTP_PASSWORD"),
            caFile: reader.optionalString("\(p)_SMTP_CA_FILE"))
        let sender = MIMEMessage.Address(
            name: reader.string("\(p)_FROM_NAME", default: "Da Nang Innovation Centre"),
            email: reader.string("\(p)_FROM", default: "noreply@delegation.example"))
        var quiet: (Int, Int)? = (22 * 60, 7 * 60)
        let quietText = reader.string("\(p)_QUIET_HOURS", default: "22:00-07:00")
        if quietText.lowercased() == "off" {
            quiet = nil
        } else if let parsed = Self.parseQuietHours(quietText) {
            quiet = parsed
        } else {
            reader.problem("\(p)_QUIET_HOURS='\(quietText)' must be HH:MM-HH:MM or off")
        }
        var zones: [String: String] = [:]
        for pair in reader.string("\(p)_COUNTRY_ZONES", default: "CN=Asia/Shanghai,VN=Asia/Ho_Chi_Minh").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, TimeZone(identifier: parts[1]) != nil else {
                reader.problem("\(p)_COUNTRY_ZONES entry '\(pair)' must be COUNTRY=Zone/Name with a known zone")
                continue
            }
            zones[parts[0]] = parts[1]
        }
        var reminders: [Int] = []
        let remindersText = reader.string("\(p)_REMINDERS", default: "1440,60")
        if remindersText.lowercased() != "off" {
            for part in remindersText.split(separator: ",") {
                guard let minutes = Int(part.trimmingCharacters(in: .whitespaces)), (1...(14 * 1440)).contains(minutes) else {
                    reader.problem("\(p)_REMINDERS entry '\(part)' must be minutes before the item, 1 to 20160 (or the whole setting off)")
                    continue
                }
                reminders.append(minutes)
            }
        }
        var configuration = NotificationsConfiguration(
            service: service, smtp: smtp, sender: sender,
            templates: reader.string("\(p)_TEMPLATES", default: defaultTemplates),
            maxAttempts: reader.integer("\(p)_MAX_ATTEMPTS", default: 5, in: 1...100),
            retryBase: reader.seconds("\(p)_RETRY_BASE", default: 2, in: 0.01...3600),
            retryMax: reader.seconds("\(p)_RETRY_MAX", default: 300, in: 0.01...86400),
            digestWindow: reader.seconds("\(p)_DIGEST_WINDOW", default: 60, in: 0...86400), quietHours: quiet, countryZones: zones,
            concurrency: reader.integer("\(p)_CONCURRENCY", default: 4, in: 1...64), reminders: reminders,
            passKeys: reader.parsed("\(p)_PASS_KEYS") { try PassKeys(spec: $0) })
        switch (reader.optionalString("\(p)_PUBLIC_URL"), reader.optionalString("\(p)_LINK_KEY")) {
        case (nil, nil):
            break
        case (let url?, let key?):
            guard let base = httpURL(url) else {
                reader.problem("\(p)_PUBLIC_URL='\(url)' is not an http(s) URL")
                break
            }
            guard let bytes = Data(base64Encoded: key), bytes.count >= 32 else {
                reader.problem("\(p)_LINK_KEY must be base64 of 32 random bytes or more (openssl rand -base64 32)")
                break
            }
            configuration.optOut = OptOutLinks(baseURL: base, key: bytes)
        default:
            reader.problem("\(p)_PUBLIC_URL and \(p)_LINK_KEY go together (the key signs the links to the page there)")
        }
        configuration.channels = NotificationChannels.fromEnvironment(&reader, prefix: p, email: configuration.email)
        if !FileManager.default.fileExists(atPath: configuration.templates) {
            reader.problem("\(p)_TEMPLATES='\(configuration.templates)' is not a folder")
        }
        try reader.validate()
        return configuration
    }

    /// `22:00-07:00` → minutes after midnight.
    static func parseQuietHours(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "-")
        func minutes(_ part: Substring) -> Int? {
            let hm = part.split(separator: ":").compactMap { Int($0) }
            guard hm.count == 2, (0..<24).contains(hm[0]), (0..<60).contains(hm[1]) else { return nil }
            return hm[0] * 60 + hm[1]
        }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else { return nil }
        return (start, end)
    }
}

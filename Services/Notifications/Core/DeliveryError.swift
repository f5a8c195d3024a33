import Foundation
import Messages
import ServiceRuntime

/// A delivery failure, sorted the way retries need it.
public enum DeliveryError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Worth trying again later: connection refused, timeout, 4xx SMTP, 5xx HTTP, 408, 429.
    case transient(String)
    /// Will never work for this message: a mailbox or number that does not exist, a recipient who
    /// cannot get it (the next of their channels is tried).
    case permanent(String)
    /// The provider refuses the channel itself, not this message: its credentials (SMTP AUTH 535,
    /// Twilio 20003, a WeChat AppSecret), its sender (a refused MAIL FROM), this server (a relay's
    /// 554 greeting, WeChat's IP whitelist), a feature the account lacks. Every message on the
    /// channel meets it until the operator fixes the channel's settings: it is tried again later
    /// like a transient failure, and the operator hears of it once (`DeliveryService`).
    case channelRefused(String)

    public var description: String {
        switch self {
        case .transient(let reason): return "transient: \(reason)"
        case .permanent(let reason): return "permanent: \(reason)"
        case .channelRefused(let reason): return "channel refused: \(reason)"
        }
    }

    /// What went wrong, without the kind of failure.
    public var reason: String {
        switch self {
        case .transient(let reason), .permanent(let reason), .channelRefused(let reason): return reason
        }
    }

    public var isPermanent: Bool { if case .permanent = self { return true } else { return false } }

    public var isChannelRefused: Bool { if case .channelRefused = self { return true } else { return false } }

    /// The same failure, its reason as `transform` rewrites it.
    func map(_ transform: (String) -> String) -> DeliveryError {
        switch self {
        case .transient(let reason): return .transient(transform(reason))
        case .permanent(let reason): return .permanent(transform(reason))
        case .channelRefused(let reason): return .channelRefused(transform(reason))
        }
    }

    /// The failure without personal data, to store, publish (`notification.failed`) and log: a
    /// relay's reply quotes the address ("550 5.1.1 <li.wei@example.cn>"), a provider's message
    /// may quote the number. E-mail addresses become `<address>`; the recipient's phone number
    /// (as given, in E.164, and without its `+`, as Zalo writes it), any other number in
    /// international form, and their openid become `<number>` and `<openid>`.
    func redacted(for recipient: Recipient) -> DeliveryError {
        var known: [(String, String)] = []
        if let phone = recipient.phone {
            let e164 = PhoneNumber.e164(phone)
            known += [phone, e164, e164.map { String($0.dropFirst()) }].compactMap { $0 }.map { ($0, "<number>") }
        }
        if let openID = recipient.wechatOpenID { known.append((openID, "<openid>")) }
        // (the longest first: a number's E.164 form holds its form without the `+`)
        let ordered = known.filter { $0.0.count >= 4 }.sorted { $0.0.count > $1.0.count }
        return map { reason in
            var text = Redaction.emailAddresses(in: reason)
            for (value, mark) in ordered { text = text.replacingOccurrences(of: value, with: mark) }
            return text.replacing(/\+[0-9][0-9 \-]{6,}[0-9]/, with: "<number>")
        }
    }
}

import Crypto
import Foundation
import Messages
import Passes

/// Opting out of what is not essential (issue 16): every non-essential notification carries a
/// link, signed for its address, to a page of the notifications service where the recipient
/// stops them (or takes them back); e-mails carry it as `List-Unsubscribe` with
/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so a mail client's button
/// does the same in one POST.
///
/// What is essential is never stopped: the registration's status (accepted, waitlisted,
/// rejected, cancelled), the first itinerary, anything urgent (a change within 24 hours, a
/// reminder an hour or less ahead) and the lead's alert at departure. What is not: reminders a
/// day ahead, and itinerary changes and digests that are not urgent.
///
/// The link holds the address's digest (never the address), the language for the page, and an
/// HMAC-SHA256 under `NOTIFICATIONS_LINK_KEY`: `OU1.<language>.<digest>.<mac>`. It does not
/// expire (an old e-mail's link still works); the key's rotation voids the old links.
public struct OptOutLinks: Sendable {
    /// Where recipients reach this service's `/opt-out` page (`NOTIFICATIONS_PUBLIC_URL`).
    public var baseURL: URL
    /// The signing key's bytes (32 or more).
    public var key: Data

    public init(baseURL: URL, key: Data) {
        self.baseURL = baseURL
        self.key = key
    }

    private func mac(_ body: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: key)))
    }

    /// What the store and the link know an address by: SHA-256 of it in lower case, hex.
    public static func digest(_ email: String) -> String {
        SHA256.hash(data: Data(email.lowercased().utf8)).hexString
    }

    public func token(email: String, language: Language) -> String {
        let body = "OU1.\(language.rawValue).\(Self.digest(email))"
        return body + "." + Pass.base64URL(mac(body))
    }

    public func url(email: String, language: Language) -> String {
        var components = URLComponents(url: baseURL.appendingPathComponent("opt-out"), resolvingAgainstBaseURL: false)
        components?.queryItems = [URLQueryItem(name: "t", value: token(email: email, language: language))]
        return components?.string ?? baseURL.absoluteString
    }

    /// The address digest and language a token was signed for; nil for anything else.
    public func verify(_ token: String) -> (digest: String, language: Language)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "OU1", let language = Language(rawValue: parts[1]), parts[2].count == 64,
            let signature = Pass.base64URLDecoded(parts[3])
        else { return nil }
        let body = "OU1.\(parts[1]).\(parts[2])"
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(body.utf8), using: SymmetricKey(data: key)) else {
            return nil
        }
        return (parts[2], language)
    }
}

extension NotificationRecord {
    /// Whether the recipient gets it even after opting out (`OptOutLinks`).
    public var isEssential: Bool {
        switch kind {
        case .reminder, .itineraryChanged, .digest: return urgent
        case .accepted, .waitlisted, .rejected, .cancelled, .itineraryPlanned, .missingAtDeparture: return true
        }
    }
}

import Crypto
import Foundation
import Messages

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where chat bridges (Zalo, WeChat, DingTalk) take notifications.
public struct WebhookConfiguration: Sendable {
    public var url: URL
    /// The signing key: `whsec_` + base64 of 24 to 64 random bytes (Standard Webhooks' form,
    /// which its verification libraries take as it is); any other text is used as its UTF-8
    /// bytes (the receiver then verifies with `whsec_` + base64 of that text).
    public var secret: String
    public var timeout: Double

    public init(url: URL, secret: String, timeout: Double = 10) {
        self.url = url
        self.secret = secret
        self.timeout = timeout
    }

    /// The key bytes `secret` stands for; nil for a `whsec_` secret that is not base64 of 24 to
    /// 64 bytes.
    public static func key(_ secret: String) -> Data? {
        guard secret.hasPrefix("whsec_") else { return Data(secret.utf8) }
        guard let key = Data(base64Encoded: String(secret.dropFirst(6))), (24...64).contains(key.count) else { return nil }
        return key
    }
}

/// POSTs a JSON notification signed the Standard Webhooks way (standardwebhooks.com), so that a
/// bridge can check it with the published verification libraries:
///
/// - `webhook-id`: the notification's idempotency key (the same on every retry: drop copies by it)
/// - `webhook-timestamp`: seconds since 1970 (receivers refuse stale ones, ±5 min)
/// - `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under the key
///
/// 2xx is delivered; 408, 429 and 5xx (and no answer) are transient; other 4xx permanent.
public struct WebhookClient: Sendable {
    public let configuration: WebhookConfiguration

    public init(configuration: WebhookConfiguration) { self.configuration = configuration }

    /// `v1,<base64 signature>` of a call.
    public static func signature(key: Data, id: String, timestamp: Int, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).".utf8) + body, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    public func post(_ body: Data, idempotencyKey: String, now: Date = Date()) async throws(DeliveryError) {
        guard let key = WebhookConfiguration.key(configuration.secret) else {
            throw .permanent("the webhook secret is not whsec_ + base64 of 24 to 64 bytes")
        }
        var request = URLRequest(url: configuration.url, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        let timestamp = Int(now.timeIntervalSince1970)
        request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.setValue(idempotencyKey, forHTTPHeaderField: "webhook-id")
        request.setValue(String(timestamp), forHTTPHeaderField: "webhook-timestamp")
        request.setValue(
            Self.signature(key: key, id: idempotencyKey, timestamp: timestamp, body: body), forHTTPHeaderField: "webhook-signature")
        request.httpBody = body
        let (status, _) = try await ProviderHTTP.exchange(request, provider: "webhook")
        switch status {
        case 200..<300: return
        case 408, 429, 500..<600, 0: throw .transient("webhook answered \(status)")
        default: throw .permanent("webhook answered \(status)")
        }
    }
}

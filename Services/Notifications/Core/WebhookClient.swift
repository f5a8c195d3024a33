import Crypto
import Foundation
import Messages

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where chat bridges (Zalo, WeChat, DingTalk) take notifications.
public struct WebhookConfiguration: Sendable {
    public var url: URL
    /// Shared secret for the signature.
    public var secret: String
    public var timeout: Double

    public init(url: URL, secret: String, timeout: Double = 10) {
        self.url = url
        self.secret = secret
        self.timeout = timeout
    }
}

/// POSTs a JSON notification, signed so the bridge can check it came from us and is fresh:
///
/// - `X-Delegation-Timestamp`: seconds since 1970
/// - `X-Delegation-Signature`: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the secret
/// - `X-Delegation-Idempotency-Key`: the notification's key (the same on every retry)
///
/// 2xx is delivered; 408, 429 and 5xx (and no answer) are transient; other 4xx permanent.
public struct WebhookClient: Sendable {
    public let configuration: WebhookConfiguration

    public init(configuration: WebhookConfiguration) { self.configuration = configuration }

    public static func signature(secret: String, timestamp: Int, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.hexString
    }

    public func post(_ body: Data, idempotencyKey: String, now: Date = Date()) async throws(DeliveryError) {
        var request = URLRequest(url: configuration.url, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        let timestamp = Int(now.timeIntervalSince1970)
        request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.setValue(String(timestamp), forHTTPHeaderField: "X-Delegation-Timestamp")
        request.setValue(
            Self.signature(secret: configuration.secret, timestamp: timestamp, body: body), forHTTPHeaderField: "X-Delegation-Signature")
        request.setValue(idempotencyKey, forHTTPHeaderField: "X-Delegation-Idempotency-Key")
        request.httpBody = body
        let response: URLResponse
        do {
            (_, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw .transient("webhook \(configuration.url.host ?? "?") unreachable: \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200..<300: return
        case 408, 429, 500..<600, 0: throw .transient("webhook answered \(status)")
        default: throw .permanent("webhook answered \(status)")
        }
    }
}

import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A Zalo Official Account's access to the Zalo Notification Service (template messages to a
/// phone number). What an operator registers: a Zalo OA approved for ZNS; an app on
/// developers.zalo.me (id and secret key), activated and linked to the OA, which the OA authorises
/// once (OAuth v4; the first refresh token comes from that); a template per kind of notification,
/// approved by Zalo, whose parameter names the notifications fill.
public struct ZaloConfiguration: Sendable {
    /// `https://business.openapi.zalo.me`.
    public var apiURL: URL
    /// `https://oauth.zaloapp.com`.
    public var oauthURL: URL
    public var appID: String
    public var secretKey: String
    public var timeout: Double

    public init(apiURL: URL, oauthURL: URL, appID: String, secretKey: String, timeout: Double = 10) {
        self.apiURL = apiURL
        self.oauthURL = oauthURL
        self.appID = appID
        self.secretKey = secretKey
        self.timeout = timeout
    }
}

/// The ZNS calls: `POST /message/template` (header `access_token`; JSON `phone` as `84…`,
/// `template_id`, `template_data`, `tracking_id`), answered 200 with `{"error": 0, "data":
/// {"msg_id", …}}` or a negative `error`; and the token refresh, `POST /v4/oa/access_token`
/// (header `secret_key`; form `refresh_token`, `app_id`, `grant_type=refresh_token`), whose
/// refresh token is good once: the new one must be kept before the next refresh.
public struct ZaloZNS: Sendable {
    public let configuration: ZaloConfiguration

    public init(configuration: ZaloConfiguration) { self.configuration = configuration }

    public enum Outcome: Sendable, Equatable {
        case sent(messageID: String)
        /// -124: the access token is no longer valid; refresh it and send again.
        case tokenInvalid
    }

    public struct Tokens: Sendable, Equatable {
        public var accessToken: String
        public var refreshToken: String
        public var expiresIn: Int
    }

    public func send(
        phone: String, templateID: String, data: [String: String], trackingID: String, accessToken: String
    ) async throws(DeliveryError) -> Outcome {
        guard let number = PhoneNumber.e164(phone) else { throw .permanent("not a phone number in international form") }
        struct Body: Encodable {
            var phone: String
            var templateID: String
            var templateData: [String: String]
            var trackingID: String
            enum CodingKeys: String, CodingKey {
                case phone, templateID = "template_id", templateData = "template_data", trackingID = "tracking_id"
            }
        }
        var request = URLRequest(
            url: configuration.apiURL.appendingPathComponent("message/template"), timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(accessToken, forHTTPHeaderField: "access_token")
        do {
            request.httpBody = try JSONEncoder().encode(
                Body(phone: String(number.dropFirst()), templateID: templateID, templateData: data, trackingID: trackingID))
        } catch {
            throw .permanent("cannot encode the ZNS request: \(error)")
        }
        let (status, body) = try await ProviderHTTP.exchange(request, provider: "Zalo")
        return try Self.outcome(status: status, body: body)
    }

    /// New tokens for `refreshToken` (which is spent by the call, whatever its answer).
    public func refresh(_ refreshToken: String) async throws(DeliveryError) -> Tokens {
        var request = URLRequest(
            url: configuration.oauthURL.appendingPathComponent("v4/oa/access_token"), timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue(configuration.secretKey, forHTTPHeaderField: "secret_key")
        request.httpBody = Data(
            "refresh_token=\(SMSGateway.formEncoded(refreshToken))&app_id=\(SMSGateway.formEncoded(configuration.appID))&grant_type=refresh_token"
                .utf8)
        let (status, body) = try await ProviderHTTP.exchange(request, provider: "Zalo")
        struct Answer: Decodable {
            var accessToken: String?
            var refreshToken: String?
            var expiresIn: String?
            var error: Int?
            enum CodingKeys: String, CodingKey {
                case accessToken = "access_token", refreshToken = "refresh_token", expiresIn = "expires_in", error
            }
        }
        guard (200..<300).contains(status), let answer = try? JSONDecoder().decode(Answer.self, from: body) else {
            throw status >= 500 || status == 429 ? .transient("Zalo OAuth answered \(status)") : .permanent("Zalo OAuth answered \(status)")
        }
        guard let access = answer.accessToken, let refresh = answer.refreshToken else {
            throw .permanent("Zalo refused the refresh token (error \(answer.error ?? 0)): the OA must authorise the app again")
        }
        return Tokens(accessToken: access, refreshToken: refresh, expiresIn: Int(answer.expiresIn ?? "") ?? 90000)
    }

    /// ZNS's answer, sorted (errors come in a 200's body): sent; the token to refresh; or why
    /// not, and whether to try again (-101…-105, the app's own set-up, are `channelRefused`).
    static func outcome(status: Int, body: Data) throws(DeliveryError) -> Outcome {
        struct Answer: Decodable {
            struct Sent: Decodable {
                var messageID: String?
                enum CodingKeys: String, CodingKey { case messageID = "msg_id" }
            }
            var error: Int
            var message: String?
            var data: Sent?
        }
        if status == 429 || status >= 500 || status == 0 { throw .transient("ZNS answered \(status)") }
        guard (200..<300).contains(status), let answer = try? JSONDecoder().decode(Answer.self, from: body) else {
            throw .permanent("ZNS answered \(status)")
        }
        switch answer.error {
        case 0: return .sent(messageID: answer.data?.messageID ?? "")
        case -124: return .tokenInvalid
        case -100: throw .transient("ZNS error -100 (unknown error: try again later)")
        case -105 ... -101:
            // The app itself (invalid, unknown, not activated, its secret key, not linked to the OA).
            throw .channelRefused("ZNS error \(answer.error): \(Self.meaning[answer.error] ?? "the app's set-up")")
        default:
            let meaning = Self.meaning[answer.error] ?? answer.message.map { "\"\($0)\"" } ?? "undocumented"
            throw .permanent("ZNS error \(answer.error): \(meaning)")
        }
    }

    /// Zalo Cloud's table (-100…-112) and the codes integrators agree on.
    static let meaning: [Int: String] = [
        -101: "application invalid", -102: "application does not exist", -103: "application not activated",
        -104: "app secret key invalid", -105: "application not linked to the OA", -106: "method unsupported",
        -107: "message id invalid", -108: "phone number invalid", -109: "template id invalid",
        -110: "the recipient's Zalo version cannot show it", -111: "template data empty", -112: "template data invalid",
        -114: "the user is inactive or refused the message", -117: "the OA or app may not use this template (not approved)",
        -118: "no Zalo account for this phone number",
    ]
}

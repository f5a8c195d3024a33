import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A WeChat Official Account's access to template messages. What an operator registers: a
/// verified Service Account with the template message feature (two industries chosen), a
/// template per kind of notification picked from the library (its id, and its fields, at most
/// 20 characters each, no colours or emoji since 2023), the account's AppID and AppSecret, and
/// this server's address on the account's IP whitelist. A recipient is an openid (they follow the
/// account), never a phone number.
public struct WeChatConfiguration: Sendable {
    /// `https://api.weixin.qq.com`.
    public var apiURL: URL
    public var appID: String
    public var appSecret: String
    public var timeout: Double

    public init(apiURL: URL, appID: String, appSecret: String, timeout: Double = 10) {
        self.apiURL = apiURL
        self.appID = appID
        self.appSecret = appSecret
        self.timeout = timeout
    }
}

/// The calls: the stable access token (`POST /cgi-bin/stable_token`, JSON `grant_type`, `appid`,
/// `secret`: several instances may ask without invalidating each other's token, unlike
/// `/cgi-bin/token`) and `POST /cgi-bin/message/template/send?access_token=…` (JSON `touser`,
/// `template_id`, `url`, `client_msg_id`, `data` of `{"value"}`), both answered 200 with
/// `errcode` 0 or the reason: 40001, 40014 and 42001 mean a token to fetch again; -1, 45009 and
/// 45011 to wait; 40003 and 43004 a recipient who cannot get it; 40037 a template to fix; 40013,
/// 40125, 40164 and 48001 the account itself (its AppID, its AppSecret, this server's address not
/// on its whitelist, template messages not granted): `channelRefused`, tried again later until the
/// operator fixes it.
public struct WeChatTemplate: Sendable {
    public let configuration: WeChatConfiguration

    public init(configuration: WeChatConfiguration) { self.configuration = configuration }

    public enum Outcome: Sendable, Equatable {
        case sent(messageID: Int)
        /// The access token is invalid or expired: fetch it again and send once more.
        case tokenInvalid
    }

    public struct Token: Sendable, Equatable {
        public var accessToken: String
        public var expiresIn: Int
    }

    /// The account's stable access token (`forceRefresh`: a new one, when the last was refused).
    public func token(forceRefresh: Bool = false) async throws(DeliveryError) -> Token {
        struct Body: Encodable {
            var grantType = "client_credential"
            var appid: String
            var secret: String
            var forceRefresh: Bool
            enum CodingKeys: String, CodingKey { case grantType = "grant_type", appid, secret, forceRefresh = "force_refresh" }
        }
        struct Answer: Decodable {
            var accessToken: String?
            var expiresIn: Int?
            var errcode: Int?
            enum CodingKeys: String, CodingKey { case accessToken = "access_token", expiresIn = "expires_in", errcode }
        }
        let answer: Answer = try await call(
            "cgi-bin/stable_token", Body(appid: configuration.appID, secret: configuration.appSecret, forceRefresh: forceRefresh))
        guard let token = answer.accessToken, (answer.errcode ?? 0) == 0 else {
            let code = answer.errcode ?? 0
            throw Self.failure(code, "WeChat token: errcode \(code)\(Self.meaning(code))")
        }
        return Token(accessToken: token, expiresIn: answer.expiresIn ?? 7200)
    }

    public func send(
        openID: String, templateID: String, data: [String: String], url: String?, messageID: String, accessToken: String
    ) async throws(DeliveryError) -> Outcome {
        struct Value: Encodable { var value: String }
        struct Body: Encodable {
            var touser: String
            var templateID: String
            var url: String?
            var clientMessageID: String
            var data: [String: Value]
            enum CodingKeys: String, CodingKey { case touser, templateID = "template_id", url, clientMessageID = "client_msg_id", data }
        }
        struct Answer: Decodable {
            var errcode: Int
            var msgid: Int?
        }
        let answer: Answer = try await call(
            "cgi-bin/message/template/send", query: accessToken,
            Body(
                touser: openID, templateID: templateID, url: url, clientMessageID: messageID,
                data: data.mapValues { Value(value: String($0.prefix(20))) }))
        switch answer.errcode {
        case 0: return .sent(messageID: answer.msgid ?? 0)
        case 40001, 40014, 42001: return .tokenInvalid
        default: throw Self.failure(answer.errcode, "WeChat errcode \(answer.errcode)\(Self.meaning(answer.errcode))")
        }
    }

    /// An errcode as a delivery error: to wait for (busy, quotas), the account's (`accountCodes`),
    /// or this message's.
    static func failure(_ code: Int, _ reason: String) -> DeliveryError {
        if [-1, 45009, 45011].contains(code) { return .transient(reason) }
        return accountCodes.contains(code) ? .channelRefused(reason) : .permanent(reason)
    }

    /// What the account itself is refused for, whatever the message: its AppID, its AppSecret, this
    /// server's address, template messages.
    static let accountCodes: Set<Int> = [40013, 40125, 40164, 48001]

    private func call<Body: Encodable, Answer: Decodable>(_ path: String, query token: String? = nil, _ body: Body)
        async throws(DeliveryError) -> Answer
    {
        var components = URLComponents(url: configuration.apiURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)
        if let token { components?.queryItems = [URLQueryItem(name: "access_token", value: token)] }
        guard let url = components?.url else { throw .permanent("WeChat API address \(configuration.apiURL) is not usable") }
        var request = URLRequest(url: url, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        do {
            request.httpBody = try JSONEncoder().encode(body)
        } catch {
            throw .permanent("cannot encode the WeChat request: \(error)")
        }
        let (status, data) = try await ProviderHTTP.exchange(request, provider: "WeChat")
        guard (200..<300).contains(status), let answer = try? JSONDecoder().decode(Answer.self, from: data) else {
            throw status == 429 || status >= 500 ? .transient("WeChat answered \(status)") : .permanent("WeChat answered \(status)")
        }
        return answer
    }

    static func meaning(_ code: Int) -> String {
        let known: [Int: String] = [
            -1: "system busy", 40003: "not an openid of this account", 43004: "the recipient does not follow the account",
            40037: "template id invalid", 45009: "daily quota reached", 45011: "minute quota reached",
            48001: "template messages not granted to the account", 40164: "this server is not on the account's IP whitelist",
            40013: "AppID invalid", 40125: "AppSecret invalid", 50002: "the recipient's account is limited",
        ]
        return known[code].map { " (\($0))" } ?? ""
    }
}

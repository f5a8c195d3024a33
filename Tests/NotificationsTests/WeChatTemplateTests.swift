import Foundation
import TestSupport
import Testing

@testable import NotificationsCore

/// WeChat template messages (issue 16) against a local fake of the Official Account API that
/// gives the documented answers: the stable token; a message to an openid with its fields (20
/// characters at most); a token no longer the latest fetched again; an unknown openid, a
/// recipient who does not follow, a template id not the account's permanent; the quota
/// transient.
@Suite struct WeChatTemplateTests {
    static func fake(busy: Int = 0) async throws -> ProviderFake {
        try await ProviderFake("wechat_fake.py", ["--app-id", "wx-app", "--app-secret", "wx-secret", "--busy", String(busy)])
    }

    static func wechat(_ fake: ProviderFake, secret: String = "wx-secret") -> WeChatTemplate {
        WeChatTemplate(configuration: WeChatConfiguration(apiURL: fake.url, appID: "wx-app", appSecret: secret, timeout: 5))
    }

    @Test func aTemplateMessageGoesToAnOpenIDAndAStaleTokenIsFetchedAgain() async throws {
        let fake = try await Self.fake()
        defer { fake.stop() }
        let wechat = Self.wechat(fake)
        let token = try await wechat.token()
        #expect(token == WeChatTemplate.Token(accessToken: "token-1", expiresIn: 7200))
        let data = ["thing1": "岘港创新中心代表团访问活动第二天行程提醒通知", "time2": "07:30"]
        let sent = try await wechat.send(
            openID: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", templateID: "tpl-1", data: data, url: "https://console.example.test/answer",
            messageID: "ntf-1", accessToken: token.accessToken)
        #expect(sent == .sent(messageID: 200_228_333))
        let call = try #require(fake.calls.last)
        #expect(call.path == "/cgi-bin/message/template/send?access_token=token-1")
        let body = try #require(try JSONSerialization.jsonObject(with: Data((call.body ?? "").utf8)) as? [String: Any])
        #expect(body["touser"] as? String == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M" && body["client_msg_id"] as? String == "ntf-1")
        let fields = try #require(body["data"] as? [String: [String: String]])
        #expect(
            fields["thing1"]?["value"] == "岘港创新中心代表团访问活动第二天行程提醒", "cut to the 20 characters a field holds")
        #expect(fields["time2"]?["value"] == "07:30")

        // Another instance forced a new token: ours is no longer the latest.
        _ = try await wechat.token(forceRefresh: true)
        #expect(
            try await wechat.send(openID: "o6", templateID: "tpl-1", data: [:], url: nil, messageID: "ntf-2", accessToken: "token-1")
                == .tokenInvalid)
        do {
            _ = try await Self.wechat(fake, secret: "wrong").token()
            Issue.record("a wrong AppSecret gets no token")
        } catch {
            // (the account's, not the recipient's: tried again once the operator fixes the secret)
            #expect(error == .channelRefused("WeChat token: errcode 40125 (AppSecret invalid)"), "\(error)")
        }
    }

    @Test func eachDocumentedRefusalIsSortedAndTheQuotaIsWorthWaitingFor() async throws {
        let fake = try await Self.fake(busy: 1)
        defer { fake.stop() }
        let wechat = Self.wechat(fake)
        func failure(_ openID: String, template: String = "tpl-1") async -> DeliveryError? {
            do {
                _ = try await wechat.send(openID: openID, templateID: template, data: [:], url: nil, messageID: "m", accessToken: "token-1")
                return nil
            } catch {
                return error
            }
        }
        let quota = await failure("o6")
        #expect(quota?.isPermanent == false && "\(quota.map { "\($0)" } ?? "")".contains("45011"), "\(String(describing: quota))")
        for (openID, template, words) in [
            ("unknown-openid", "tpl-1", "40003 (not an openid of this account)"),
            ("not-following", "tpl-1", "43004 (the recipient does not follow the account)"),
            ("o6", "bad-template", "40037 (template id invalid)"),
        ] {
            let error = await failure(openID, template: template)
            #expect(error?.isPermanent == true && "\(error.map { "\($0)" } ?? "")".contains(words), "\(String(describing: error))")
        }
    }
}

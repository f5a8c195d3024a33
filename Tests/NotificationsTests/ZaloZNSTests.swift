import Foundation
import TestSupport
import Testing

@testable import NotificationsCore

/// Zalo's template messages (issue 16) against a local fake of ZNS and its OAuth refresh that
/// gives the documented answers: sent; an invalid access token refreshed once (the refresh token
/// good once); an invalid number, a phone without Zalo, a template not approved permanent; the
/// rate limit transient.
@Suite struct ZaloZNSTests {
    static func zalo(_ fake: ProviderFake) -> ZaloZNS {
        ZaloZNS(configuration: ZaloConfiguration(apiURL: fake.url, oauthURL: fake.url, appID: "app-1", secretKey: "secret-1", timeout: 5))
    }

    static func fake(busy: Int = 0) async throws -> ProviderFake {
        try await ProviderFake("zalo_fake.py", ["--app-id", "app-1", "--secret-key", "secret-1", "--busy", String(busy)])
    }

    @Test func aTemplateMessageGoesByPhoneNumberAndAnInvalidTokenIsRefreshedOnce() async throws {
        let fake = try await Self.fake()
        defer { fake.stop() }
        let zalo = Self.zalo(fake)
        let data = ["customer_name": "Nguyễn Văn An", "bus": "bus-1", "time": "07:30"]
        #expect(
            try await zalo.send(phone: "+84 905 123 456", templateID: "312345", data: data, trackingID: "ntf-1", accessToken: "stale")
                == .tokenInvalid)
        let tokens = try await zalo.refresh("refresh-0")
        #expect(tokens == ZaloZNS.Tokens(accessToken: "access-1", refreshToken: "refresh-1", expiresIn: 90000))
        let sent = try await zalo.send(
            phone: "+84 905 123 456", templateID: "312345", data: data, trackingID: "ntf-1", accessToken: tokens.accessToken)
        #expect(sent == .sent(messageID: "msg-2"))
        let call = try #require(fake.calls.last)
        #expect(call.path == "/message/template" && call.header("access_token") == "access-1")
        struct Body: Decodable, Equatable {
            var phone: String
            var templateID: String
            var templateData: [String: String]
            var trackingID: String
            enum CodingKeys: String, CodingKey {
                case phone, templateID = "template_id", templateData = "template_data", trackingID = "tracking_id"
            }
        }
        #expect(
            try JSONDecoder().decode(Body.self, from: Data((call.body ?? "").utf8))
                == Body(phone: "84905123456", templateID: "312345", templateData: data, trackingID: "ntf-1"))
        let refresh = try #require(fake.calls.first { $0.path == "/v4/oa/access_token" })
        #expect(refresh.header("secret_key") == "secret-1")
        #expect(refresh.form == ["refresh_token": "refresh-0", "app_id": "app-1", "grant_type": "refresh_token"])
        // The spent refresh token is refused: the OA must authorise the app again.
        do {
            _ = try await zalo.refresh("refresh-0")
            Issue.record("a refresh token is good once")
        } catch {
            #expect(error.isPermanent && "\(error)".contains("authorise the app again"), "\(error)")
        }
    }

    @Test func eachDocumentedRefusalIsSortedAndTheRateLimitIsWorthTryingAgain() async throws {
        let fake = try await Self.fake(busy: 1)
        defer { fake.stop() }
        let zalo = Self.zalo(fake)
        func failure(_ phone: String, template: String = "312345") async -> DeliveryError? {
            do {
                _ = try await zalo.send(phone: phone, templateID: template, data: [:], trackingID: "t", accessToken: "access-0")
                return nil
            } catch {
                return error
            }
        }
        let limited = await failure("+84905123456")
        #expect(limited?.isPermanent == false, "\(String(describing: limited))")
        for (phone, template, words) in [
            ("+84000000108", "312345", "error -108: phone number invalid"), ("+84000000118", "312345", "error -118: no Zalo account"),
            ("+84905123456", "unapproved", "error -117: the OA or app may not use this template (not approved)"),
        ] {
            let error = await failure(phone, template: template)
            #expect(error?.isPermanent == true && "\(error.map { "\($0)" } ?? "")".contains(words), "\(String(describing: error))")
        }
        #expect(await failure("0905123456")?.isPermanent == true, "no country code: never sent")
        #expect(fake.calls.count == 4)
    }
}

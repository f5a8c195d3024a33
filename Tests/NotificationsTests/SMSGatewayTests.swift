import Foundation
import TestSupport
import Testing

@testable import NotificationsCore

/// The SMS gateway client (issue 16) against a local fake of Twilio's Messages API that gives its
/// documented answers: a message taken; each documented refusal permanent, with its code and
/// never the number; too many requests and no answer transient; a number without its country
/// code never sent.
@Suite struct SMSGatewayTests {
    static let sid = "AC00000000000000000000000000000001"

    static func fake(busy: Int = 0) async throws -> ProviderFake {
        try await ProviderFake("sms_gateway_fake.py", ["--sid", sid, "--token", "token-1", "--busy", String(busy)])
    }

    static func gateway(_ fake: ProviderFake, token: String = "token-1", service: String? = nil) -> SMSGateway {
        SMSGateway(
            configuration: SMSGatewayConfiguration(
                baseURL: fake.url, accountSID: sid, authToken: token, from: service == nil ? "+15005550006" : nil,
                messagingServiceSID: service, timeout: 5))
    }

    @Test func aMessageIsTakenWithItsTextAndNumberAsTheAPIWantsThem() async throws {
        let fake = try await Self.fake()
        defer { fake.stop() }
        let text = "Xe bus-1 đã khởi hành lúc 07:30 – 岘港 & co: 100% đúng giờ?"
        let accepted = try await Self.gateway(fake).send(to: "+84 905-123.456", body: text)
        #expect(accepted.sid?.hasPrefix("SM") == true && accepted.status == "queued")
        let call = try #require(fake.calls.first)
        #expect(call.path == "/2010-04-01/Accounts/\(Self.sid)/Messages.json")
        #expect(call.form == ["To": "+84905123456", "From": "+15005550006", "Body": text], "UTF-8, form-encoded, unchanged")
        let viaService = try await Self.gateway(fake, service: "MG00000000000000000000000000000001").send(to: "+8613800138000", body: "hi")
        #expect(viaService.status == "accepted")
        #expect(
            fake.calls.last?.form?["MessagingServiceSid"] == "MG00000000000000000000000000000001" && fake.calls.last?.form?["From"] == nil)
    }

    @Test func eachDocumentedRefusalIsPermanentAndNamesItsCodeNotTheNumber() async throws {
        let fake = try await Self.fake()
        defer { fake.stop() }
        for (number, code) in [("+15005550001", 21211), ("+15005550003", 21408), ("+15005550004", 21610), ("+15005550009", 21614)] {
            do {
                _ = try await Self.gateway(fake).send(to: number, body: "hello")
                Issue.record("\(number) should be refused")
            } catch {
                #expect(error.isPermanent, "\(code)")
                #expect("\(error)".contains("error \(code)") && !"\(error)".contains(number), "\(error)")
            }
        }
        do {
            _ = try await Self.gateway(fake, token: "wrong").send(to: "+84905123456", body: "hello")
            Issue.record("wrong credentials should be refused")
        } catch {
            // (the account's, not the number's: tried again once the operator fixes the token)
            #expect(error == .channelRefused("SMS gateway answered 401 (error 20003: credentials refused)"), "\(error)")
        }
        do {
            _ = try await Self.gateway(fake).send(to: "0905 123 456", body: "hello")
            Issue.record("a number without its country code is not sent")
        } catch {
            #expect(error.isPermanent)
        }
        #expect(fake.calls.count == 5, "the number without a country code never reached the gateway")
    }

    @Test func tooManyRequestsAndNoAnswerAreWorthTryingAgain() async throws {
        let fake = try await Self.fake(busy: 1)
        defer { fake.stop() }
        do {
            _ = try await Self.gateway(fake).send(to: "+84905123456", body: "hello")
            Issue.record("the first call is answered 429")
        } catch {
            #expect(!error.isPermanent && "\(error)".contains("429"), "\(error)")
        }
        #expect(try await Self.gateway(fake).send(to: "+84905123456", body: "hello").status == "queued", "then taken")
        let nobody = SMSGateway(
            configuration: SMSGatewayConfiguration(
                baseURL: try #require(URL(string: "http://127.0.0.1:1")), accountSID: Self.sid, authToken: "t", timeout: 2))
        do {
            _ = try await nobody.send(to: "+84905123456", body: "hello")
            Issue.record("nothing listens on port 1")
        } catch {
            #expect(!error.isPermanent)
        }
        do {
            _ = try SMSGateway.outcome(status: 503, body: Data())
            Issue.record("a 503 is no message taken")
        } catch {
            #expect(!error.isPermanent)
        }
        #expect(PhoneNumber.e164("+86 (755) 1234 5678") == "+8675512345678")
        #expect(throws: DeliveryError.channelRefused("SMS gateway answered 401")) { try SMSGateway.outcome(status: 401, body: Data()) }
        #expect(
            PhoneNumber.e164("+0 123 456 789") == nil && PhoneNumber.e164("+84 12") == nil && PhoneNumber.e164("+84 9O5 123 456") == nil)
    }

    /// A 2xx is a message the gateway took, even with a body that is not a message resource (a
    /// proxy's page, a truncated answer): sending it again would send it twice.
    @Test func anAnswer2xxIsAMessageTakenEvenWhenItsBodyCannotBeRead() throws {
        #expect(try SMSGateway.outcome(status: 201, body: Data("<html>Created</html>".utf8)) == .init(sid: nil, status: nil))
        #expect(try SMSGateway.outcome(status: 200, body: Data()) == .init(sid: nil, status: nil))
        let taken = try SMSGateway.outcome(status: 201, body: Data(#"{"sid": "SM1", "status": "queued"}"#.utf8))
        #expect(taken == .init(sid: "SM1", status: "queued"))
    }
}

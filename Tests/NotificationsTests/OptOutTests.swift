import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Opting out of what is not essential (issue 16): the signed link, what it stops and what it
/// never stops, the `List-Unsubscribe` headers, and the page through the running service.
@Suite struct OptOutTests {
    static let links = OptOutLinks(baseURL: URL(string: "https://notify.example.org/")!, key: Data(repeating: 7, count: 32))

    @Test func theLinkIsSignedForOneAddressAndItsLanguageAndRefusedAltered() throws {
        let token = Self.links.token(email: "Li.Wei@Example.cn", language: .chineseSimplified)
        let signed = try #require(Self.links.verify(token))
        #expect(signed.digest == OptOutLinks.digest("li.wei@example.cn") && signed.language == .chineseSimplified)
        #expect(!token.lowercased().contains("li.wei"), "the address is never in the link")
        let parts = token.split(separator: ".").map(String.init)
        #expect(Self.links.verify([parts[0], "vi", parts[2], parts[3]].joined(separator: ".")) == nil, "another language")
        #expect(
            Self.links.verify([parts[0], parts[1], OptOutLinks.digest("someone@else.cn"), parts[3]].joined(separator: ".")) == nil,
            "another address")
        let otherKey = OptOutLinks(baseURL: Self.links.baseURL, key: Data(repeating: 8, count: 32))
        #expect(otherKey.verify(token) == nil, "another key")
        #expect(Self.links.verify("DP1.k.p.s") == nil && Self.links.verify("") == nil)
        #expect(Self.links.url(email: "a@b.cn", language: .english).hasPrefix("https://notify.example.org/opt-out?t=OU1.en."))
    }

    @Test(arguments: Language.allCases)
    func thePageIsInTheLinksLanguageAndOffersTheOtherChoice(_ language: Language) async throws {
        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        for optedOut in [false, true] {
            let page = try #require(
                renderer.page(
                    "opt-out", language: language,
                    values: ["action": "?t=a&b", "optedOut": optedOut, "done": true, "organiser": "Trần & Co"]))
            #expect(
                page.contains("lang=\"\(language.rawValue)\"") && page.contains("action=\"?t=a&amp;b\"") && page.contains("Trần &amp; Co"))
            #expect(page.contains("name=\"choice\" value=\"\(optedOut ? "in" : "out")\""))
            #expect(!page.contains("<script") && !page.contains("src="))
        }
    }

    @Test func theLinksAreSetUpWithTheirKeyOrRefusedWithTheReason() throws {
        let key = Data(repeating: 5, count: 32).base64EncodedString()
        let configured = try NotificationsConfiguration.fromEnvironment([
            "NOTIFICATIONS_PUBLIC_URL": "https://notify.example.org/delegation/", "NOTIFICATIONS_LINK_KEY": key,
        ])
        #expect(
            configured.optOut?.url(email: "a@b.cn", language: .vietnamese).hasPrefix("https://notify.example.org/delegation/opt-out?t=")
                == true)
        #expect(try NotificationsConfiguration.fromEnvironment([:]).optOut == nil, "no links unless asked for")
        for (environment, problem) in [
            (["NOTIFICATIONS_PUBLIC_URL": "https://notify.example.org"], "go together"),
            (["NOTIFICATIONS_PUBLIC_URL": "https://notify.example.org", "NOTIFICATIONS_LINK_KEY": "c2hvcnQ="], "32 random bytes"),
            (["NOTIFICATIONS_PUBLIC_URL": "notify.example.org", "NOTIFICATIONS_LINK_KEY": key], "not an http(s) URL"),
        ] {
            #expect(throws: (any Error).self, "\(environment)") { try NotificationsConfiguration.fromEnvironment(environment) }
            do {
                _ = try NotificationsConfiguration.fromEnvironment(environment)
            } catch {
                #expect("\(error)".contains(problem), "\(error)")
            }
        }
    }

    @Test func whatIsEssentialIsTheRegistrationTheFirstItineraryAndAnythingUrgent() {
        func record(_ kind: NotificationKind, urgent: Bool) -> NotificationRecord {
            var record = RendererTests.record(kind, language: .english, zone: "Asia/Ho_Chi_Minh")
            record.urgent = urgent
            return record
        }
        for kind in [NotificationKind.accepted, .waitlisted, .rejected, .cancelled, .itineraryPlanned, .missingAtDeparture] {
            #expect(record(kind, urgent: false).isEssential, "\(kind)")
        }
        for kind in [NotificationKind.reminder, .itineraryChanged, .digest] {
            #expect(!record(kind, urgent: false).isEssential, "\(kind)")
            #expect(record(kind, urgent: true).isEssential, "\(kind) within the hour or the day")
        }
    }

    /// A reminder a day ahead and a non-urgent change carry the link (body and headers); an
    /// acceptance does not. Once the address opts out, the next reminder is withdrawn unsent
    /// while an urgent change and an acceptance still go.
    @Test func anOptedOutAddressGetsWhatIsEssentialAndNothingElse() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let bench = try await DeliveryTests.bench(smtp: smtp) { $0.optOut = Self.links }
        var sequence = 0
        func queue(_ kind: NotificationKind, urgent: Bool) async throws -> String {
            sequence += 1
            let item = NotificationFlowTests.item("visit-\(sequence)", startingIn: 48)
            var record = RendererTests.record(kind, language: .vietnamese, zone: "Asia/Ho_Chi_Minh", items: [item])
            record.id = "ntf-opt-\(sequence)"
            record.idempotencyKey = "key-opt-\(sequence)"
            record.urgent = urgent
            record.content.reminderMinutes = urgent ? 60 : 1440
            record.content.changes = [
                ItineraryChange(
                    uid: RendererTests.portVisit.uid, kind: .moved, before: RendererTests.portVisit, after: RendererTests.portVisit)
            ]
            try await bench.harness.write { [record] db in _ = try NotificationStore.insert(record, in: db) }
            return record.id
        }
        func status(_ id: String) async throws -> NotificationRecord.Status? {
            try await bench.harness.read { db in try NotificationStore.notification(id, in: db)?.status }
        }

        _ = try await queue(.reminder, urgent: false)
        _ = try await queue(.accepted, urgent: false)
        let first = try await bench.round()
        let queued = try await bench.harness.read { db in try NotificationStore.notifications(registrationID: "reg-1", in: db) }
        #expect(first == 2, "\(queued.map { "\($0.id) \($0.status) \($0.lastError ?? "")" })")
        let mails = try await smtp.messages.asyncMap { try await inspectEmail($0) }
        let reminder = try #require(mails.first { $0["text/plain"]?.contains("opt-out?t=OU1.vi.") == true })
        let url = Self.links.url(email: "li.wei@example.cn", language: .vietnamese)
        let raw = String(
            decoding: try #require(smtp.messages.first { String(decoding: $0, as: UTF8.self).contains("List-Unsubscribe:") }), as: UTF8.self
        )
        #expect(raw.contains("List-Unsubscribe: <\(url)>\r\n") && raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
        #expect(reminder["text/html"]?.contains("href=\"\(url.replacingOccurrences(of: "&", with: "&amp;"))\"") == true)
        #expect(
            smtp.messages.filter { String(decoding: $0, as: UTF8.self).contains("List-Unsubscribe") }.count == 1, "not on the acceptance")

        try await bench.harness.write { db in
            try NotificationStore.setOptedOut(OptOutLinks.digest("LI.WEI@example.cn"), true, now: Date(), in: db)
        }
        let stopped = try await queue(.reminder, urgent: false)
        let changed = try await queue(.itineraryChanged, urgent: false)
        let urgent = try await queue(.itineraryChanged, urgent: true)
        let accepted = try await queue(.accepted, urgent: false)
        #expect(try await bench.round() == 4)
        for (id, expected) in [(stopped, NotificationRecord.Status.cancelled), (changed, .cancelled), (urgent, .sent), (accepted, .sent)] {
            #expect(try await status(id) == expected, "\(id)")
        }
        #expect(smtp.messages.count == 4)
        #expect(try await bench.harness.read { db in try NotificationStore.attempts(stopped, in: db) }.isEmpty, "not attempted")
        #expect(bench.metrics.contains(#"outcome="opted-out"} 2"#))
    }

    /// The same lead contact for two delegations: erasing one registration keeps the address's
    /// opt-out, which is the other's choice as well; erasing the other forgets it.
    @Test func erasingOneRegistrationKeepsTheOptOutOfAnAddressAnotherStillHolds() async throws {
        let harness = try NotificationRulesTests.harness()
        try await harness.send(Samples.programme())
        for reference in ["first", "second"] {
            var accepted = NotificationRulesTests.accepted(reference)
            accepted.registrationID = registrationID(eventID: "danang-2026-01", reference: reference)
            accepted.delegation.leadContact.email = reference == "first" ? "li.wei@example.cn" : "Li.Wei@Example.cn"
            try await harness.send(accepted)
        }
        let address = OptOutLinks.digest("li.wei@example.cn")
        try await harness.write { db in try NotificationStore.setOptedOut(address, true, now: Date(), in: db) }
        func erase(_ reference: String) async throws {
            try await harness.send(
                RegistrationEraseRequested(
                    eventID: "danang-2026-01", reference: reference, requestedBy: "dpo", reason: .request, requestedAt: Date()))
        }
        func optedOut() async throws -> Bool { try await harness.read { db in try NotificationStore.isOptedOut(address, in: db) } }

        try await erase("first")
        #expect(try await optedOut(), "the second registration still holds the address")
        try await erase("second")
        #expect(try await !optedOut(), "nobody holds it any more")
    }

    /// The page through the running service: a GET changes nothing; the mail client's one-click
    /// POST opts out; the page's button takes it back; a link altered is refused; the API's
    /// tokens are not asked for.
    @Test func thePageShowsTheChoiceAndTheOneClickPostStopsThem() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        try await NotificationFlowTests.withService(smtp: smtp, adjust: { $0.optOut = Self.links }) { bed, host in
            #expect(try await eventually(within: 30) { host.httpPort != nil }, "the HTTP server listens")
            let port = try #require(host.httpPort)
            let token = Self.links.token(email: "an.nguyen@example.vn", language: .vietnamese)
            let page = try #require(URL(string: "http://127.0.0.1:\(port)/opt-out?t=\(token)"))
            let address = OptOutLinks.digest("an.nguyen@example.vn")
            func optedOut() async throws -> Bool {
                try await host.store.database.read { db in try NotificationStore.isOptedOut(address, in: db) }
            }

            let (body, response) = try await URLSession.shared.data(from: page)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 200 && http.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/html") == true)
            #expect(http.value(forHTTPHeaderField: "Referrer-Policy") == "no-referrer")
            let html = String(decoding: body, as: UTF8.self)
            #expect(html.contains("lang=\"vi\"") && html.contains("name=\"choice\" value=\"out\""))
            #expect(try await !optedOut(), "a GET changes nothing")

            var oneClick = URLRequest(url: page)
            oneClick.httpMethod = "POST"
            oneClick.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            oneClick.httpBody = Data("List-Unsubscribe=One-Click".utf8)
            let (_, clicked) = try await URLSession.shared.data(for: oneClick)
            #expect((clicked as? HTTPURLResponse)?.statusCode == 200)
            #expect(try await optedOut())
            let (again, _) = try await URLSession.shared.data(from: page)
            #expect(String(decoding: again, as: UTF8.self).contains("name=\"choice\" value=\"in\""))

            var back = oneClick
            back.httpBody = Data("choice=in".utf8)
            _ = try await URLSession.shared.data(for: back)
            #expect(try await !optedOut())

            let forged = try #require(URL(string: "http://127.0.0.1:\(port)/opt-out?t=\(token.dropLast(2))xx"))
            var forgedPost = URLRequest(url: forged)
            forgedPost.httpMethod = "POST"
            forgedPost.httpBody = Data("choice=out".utf8)
            let (_, refused) = try await URLSession.shared.data(for: forgedPost)
            #expect((refused as? HTTPURLResponse)?.statusCode == 400)
            #expect(try await !optedOut())
        }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

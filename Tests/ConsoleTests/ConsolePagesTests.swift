import AMQP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Messages
import NIOCore
import Passes
import ServiceRuntime
import TestSupport
import Testing

@testable import ConsoleCore

/// The pages over HTTP (Hummingbird's router, the console's real routes and templates), on the
/// read model of `ConsoleFixtures.event()`: logging in, what the pages show, and what is refused
/// (no session, no CSRF token, the wrong role, too many failed logins).
@Suite struct ConsolePagesTests {
    static let password = "correct horse battery"

    /// A client that keeps cookies and does not follow redirects.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var language: String?

        init(_ client: any TestClientProtocol) { self.client = client }

        struct Page {
            let status: HTTPResponse.Status
            let body: String
            let headers: HTTPFields
            var location: String? { headers[.location] }
        }

        func request(
            _ method: HTTPRequest.Method, _ uri: String, form: [String: String]? = nil, json: Data? = nil, headers extra: HTTPFields = [:]
        ) async throws -> Page {
            var headers = extra
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") }
            var body: ByteBuffer? = json.map { ByteBuffer(bytes: $0) }
            if json != nil { headers[.contentType] = "application/json" }
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
                body = ByteBuffer(
                    string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(
                        separator: "&"))
            }
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            for header in response.headers[values: .setCookie] {
                guard let pair = header.split(separator: ";").first else { continue }
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { cookies[parts[0]] = parts[1].isEmpty ? nil : parts[1] }
            }
            return Page(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }

        func get(_ uri: String) async throws -> Page { try await request(.get, uri) }
        func post(_ uri: String, _ form: [String: String]) async throws -> Page { try await request(.post, uri, form: form) }

        /// The CSRF token a page's forms carry.
        static func csrf(in page: Page) throws -> String {
            let marker = "name=\"_csrf\" value=\""
            let start = try #require(page.body.range(of: marker)).upperBound
            return String(page.body[start...].prefix { $0 != "\"" })
        }

        func login(_ name: String, _ password: String = ConsolePagesTests.password) async throws -> Page {
            let form = try await get("/login")
            return try await post("/login", ["_csrf": try Self.csrf(in: form), "name": name, "password": password])
        }
    }

    /// The console's routes on `harness`'s store, with an organiser `mai`, a marshal `tuan`, and a
    /// marshal `an` with the personal-data role; `documentKeys`, the console's.
    static func withConsole(
        _ harness: HandlerHarness, documentKeys: DocumentKeys? = nil, parked: ParkedMessages = ParkedMessages(queues: []),
        passKeys: PassKeys? = nil, passwords: PasswordChecks = PasswordChecks(), now: @escaping @Sendable () -> Date = { Date() },
        _ body: @Sendable (Browser, Browser) async throws -> Void
    ) async throws {
        try await harness.write { db in
            try Accounts.add(name: "mai", role: .organiser, password: password, cost: .testing, in: db)
            try Accounts.add(name: "tuan", role: .marshal, password: password, cost: .testing, in: db)
            try Accounts.add(name: "an", role: .marshal, personalData: true, password: password, cost: .testing, in: db)
        }
        let configuration = ConsoleConfiguration(
            service: ServiceConfiguration(serviceName: "console", amqp: AMQPConfiguration(), storePath: harness.store.path),
            documentKeys: documentKeys, passKeys: passKeys)
        let pages = try ConsolePages(assets: ConsoleConfiguration.defaultAssets)
        let app = try ServiceHTTP.application(
            configuration: configuration.service, readiness: .init(connections: [], store: harness.store), store: harness.store,
            metrics: ServiceMetrics(service: "console"), logger: Logger(label: "console-test"),
            routes: { routes in
                ConsoleHTTP.routes(configuration: configuration, pages: pages, parked: parked, passwords: passwords, now: now)(
                    routes, harness.store)
            })
        try await app.test(.router) { client in try await body(Browser(client), Browser(client)) }
    }

    @Test func anOrganiserLogsInAndSeesTheEvent() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, _ in
            #expect(try await browser.get("/").location == "/login", "nobody signed in sees nothing but the login page")
            let login = try await browser.login("mai")
            #expect(login.status == .seeOther)
            let cookie = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("console_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Strict"))
            let overview = try await browser.get("/")
            #expect(overview.status == .ok)
            #expect(overview.body.contains("id=\"accepted\">3<"))
            #expect(overview.body.contains("550 mailbox unavailable"), "what failed to send is on the overview")
            #expect(overview.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            let list = try await browser.get("/registrations?q=guangxi")
            #expect(list.body.contains("Guangxi Port Group"))
            #expect(!list.body.contains("Hanoi AI Labs"))
            let acme = try await browser.get("/registrations/\(ConsoleFixtures.id("acme"))")
            #expect(acme.body.contains("Shenzhen Logistics Co."))
            #expect(acme.body.contains("cancel-form"), "an organiser gets the actions")
        }
    }

    @Test func thePlanSaysWhoIsOnWhichBusAndWhereAtATime() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, _ in
            _ = try await browser.login("mai")
            let plan = try await browser.get("/plan?day=2026-01-14&at=14:00")
            #expect(plan.status == .ok)
            #expect(plan.body.contains("<svg"))
            let bus1 = try #require(
                plan.body.range(of: "<section class=\"bus\" data-bus=\"bus-1\">").map {
                    plan.body[$0.lowerBound...].components(separatedBy: "</section>")[0]
                })
            #expect(bus1.contains("Enosta Space – Da Nang Innovation Hub (13:00–14:30)"))
            #expect(bus1.contains("Shenzhen Logistics Co.") && bus1.contains("Guangxi Port Group"))
            #expect(!bus1.contains("Hanoi AI Labs"))
            let bus2 = try #require(
                plan.body.range(of: "<section class=\"bus\" data-bus=\"bus-2\">").map {
                    plan.body[$0.lowerBound...].components(separatedBy: "</section>")[0]
                })
            #expect(bus2.contains("tour over"))
            #expect(bus2.contains("Hanoi AI Labs"))
        }
    }

    @Test func everyPageSpeaksTheThreeLanguages() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, _ in
            _ = try await browser.login("mai")
            for (code, word) in [("vi", "Tổng quan"), ("zh-Hans", "概览"), ("en", "Overview")] {
                for path in ["/", "/registrations", "/registrations/\(ConsoleFixtures.id("acme"))", "/plan", "/audit"] {
                    let page = try await browser.get(path + (path.contains("?") ? "&" : "?") + "lang=\(code)")
                    #expect(page.status == .ok, "\(path) in \(code)")
                    #expect(page.body.contains(word), "\(path) in \(code)")
                    #expect(page.body.contains("<html lang=\"\(code)\">"))
                }
                // The choice is remembered.
                #expect(try await browser.get("/").body.contains(word))
            }
        }
    }

    @Test func aFormWithoutItsTokenAndAMarshalsActionAreRefusedAndAudited() async throws {
        let harness = try await ConsoleFixtures.event()
        let id = ConsoleFixtures.id("delta")
        try await Self.withConsole(harness) { organiser, marshal in
            _ = try await organiser.login("mai")
            let withoutToken = try await organiser.post("/registrations/\(id)/cancel", ["reason": "no"])
            #expect(withoutToken.status == .forbidden)
            let wrongToken = try await organiser.post("/registrations/\(id)/cancel", ["_csrf": "forged", "reason": "no"])
            #expect(wrongToken.status == .forbidden)

            _ = try await marshal.login("tuan")
            let page = try await marshal.get("/registrations/\(id)")
            #expect(!page.body.contains("cancel-form"), "a marshal is not offered the action")
            let refused = try await marshal.post("/registrations/\(id)/cancel", ["_csrf": try Browser.csrf(in: page), "reason": "no"])
            #expect(refused.status == .forbidden)
            #expect(try await harness.emitted().isEmpty, "nothing was sent")

            let mine = try await organiser.get("/registrations/\(id)")
            let done = try await organiser.post(
                "/registrations/\(id)/cancel", ["_csrf": try Browser.csrf(in: mine), "reason": "asked by phone"])
            #expect(done.status == .seeOther)
            let location = try #require(done.location)
            #expect(location.hasPrefix("/registrations/\(id)?action=action-"))
            #expect(try await harness.emitted().of(RegistrationCancelRequested.self).map(\.reason) == ["asked by phone"])
            let shown = try await organiser.get(location)
            #expect(shown.body.contains("data-pending=\"1\""), "the page shows the action waiting for its answer")

            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            #expect(audit.contains { $0.account == "mai" && $0.outcome == "refused: no valid CSRF token" })
            #expect(audit.contains { $0.account == "tuan" && $0.outcome == "refused: the marshal role may not act" })
            #expect(audit.contains { $0.account == "mai" && $0.action == "registration.cancel-requested" && $0.subject == id })
        }
    }

    @Test func everyFormIsRefusedWithoutItsTokenAndEveryActionToAMarshal() async throws {
        let harness = try await ConsoleFixtures.event()
        let id = ConsoleFixtures.id("delta")
        let forms: [(path: String, fields: [String: String])] = [
            ("/registrations/\(id)/cancel", ["reason": "x"]),
            ("/overrides", ["kind": "lock-tour", "busID": "bus-1", "day": "2026-01-14"]),
            ("/reoptimise", [:]),
            ("/reoptimise/preview-1/apply", [:]),
            ("/notifications/n-2/resend", ["reference": "delta"]),
        ]
        try await Self.withConsole(harness) { organiser, marshal in
            _ = try await organiser.login("mai")
            _ = try await marshal.login("tuan")
            let token = try Browser.csrf(in: try await marshal.get("/"))
            for form in forms {
                #expect(try await organiser.post(form.path, form.fields).status == .forbidden, "\(form.path) without a token")
                var signed = form.fields
                signed["_csrf"] = token
                #expect(try await marshal.post(form.path, signed).status == .forbidden, "\(form.path) by a marshal")
            }
            #expect(try await organiser.post("/logout", [:]).status == .forbidden, "a logout needs its token too")
            #expect(try await harness.emitted().isEmpty, "nothing was sent")
            #expect(try await organiser.get("/").status == .ok, "still signed in")
        }
    }

    @Test func anActionReturnsToThePageTheServerChoosesNeverOneTheFormNames() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { organiser, _ in
            _ = try await organiser.login("mai")
            let token = try Browser.csrf(in: try await organiser.get("/"))
            let pin = try await organiser.post(
                "/overrides",
                [
                    "_csrf": token, "kind": "pin", "reference": "acme", "busID": "bus-2", "day": "2026-01-14",
                    "back": "/%09/evil.example",
                ])
            #expect(pin.status == .seeOther)
            #expect(pin.location?.hasPrefix("/registrations/\(ConsoleFixtures.id("acme"))?action=action-") == true, "\(pin.location ?? "")")
            let lock = try await organiser.post(
                "/overrides", ["_csrf": token, "kind": "lock-tour", "busID": "bus-1", "day": "2026-01-14", "back": "//evil.example"])
            #expect(lock.location?.hasPrefix("/plan?day=2026-01-14&action=action-") == true, "\(lock.location ?? "")")
            let published = try await harness.emitted().of(PlanOverrideRequested.self)
            #expect(published.map(\.overrideID) == ["pin:acme:bus-2:2026-01-14", "lock-tour:bus-1:2026-01-14"])
            #expect(published.allSatisfy { $0.requestedBy == "mai" && $0.requestedAt != nil })
        }
    }

    @Test func aLoginNameThatIsNoAccountIsNotRecorded() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, _ in
            #expect(try await browser.login("MySecret-Passw0rd", "anything at all").status == .unauthorized)
            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            #expect(audit.first?.account == "(unknown account)")
            #expect(!audit.contains { $0.account.contains("MySecret") })
        }
    }

    @Test func loginsAreRefusedThenThrottled() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, other in
            // A login form sent without the nonce of its own cookie is refused.
            let page = try await other.get("/login")
            other.cookies = [:]
            let forged = try await other.post("/login", ["_csrf": try Browser.csrf(in: page), "name": "tuan", "password": Self.password])
            #expect(forged.status == .forbidden)

            for _ in 0..<Accounts.failureLimit {
                #expect(try await browser.login("mai", "wrong password!!").status == .unauthorized)
            }
            #expect(try await browser.login("mai").status == .tooManyRequests, "the right password waits out the window too")
            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            #expect(audit.filter { $0.account == "mai" && $0.action == "login" }.map(\.outcome).first == "throttled")
            #expect(!audit.contains { $0.account.contains("wrong") || $0.subject?.contains("wrong") == true }, "no password is logged")
        }
    }

    @Test func aLogoutEndsTheSession() async throws {
        let harness = try await ConsoleFixtures.event()
        try await Self.withConsole(harness) { browser, _ in
            _ = try await browser.login("tuan")
            let overview = try await browser.get("/")
            #expect(overview.status == .ok)
            let session = try #require(browser.cookies["console_session"])
            let out = try await browser.post("/logout", ["_csrf": try Browser.csrf(in: overview)])
            #expect(out.location == "/login")
            browser.cookies["console_session"] = session
            #expect(try await browser.get("/").location == "/login", "the old cookie opens nothing")
        }
    }
}

/// A large event's pages stay readable: the plan shows twenty buses a page, the registrations
/// two hundred.
@Suite struct ConsolePagingTests {
    @Test func theBusesAndTheRegistrationsComeInPages() async throws {
        let harness = try ConsoleFixtures.harness()
        var programme = ConsoleFixtures.programme()
        programme.buses = (1...25).map { Bus(id: String(format: "bus-%02d", $0), seats: 45) }
        try await harness.send(programme)
        for index in 1...205 {
            let reference = String(format: "company-%03d", index)
            try await ConsoleFixtures.accept(harness, ConsoleFixtures.accepted(reference, name: "Company \(reference)", delegates: 1))
            if index <= 25 {
                try await harness.send(
                    ConsoleFixtures.planned(
                        reference, [ConsoleFixtures.visit(reference, bus: String(format: "bus-%02d", index), venue: "enosta-hub", hour: 9)])
                )
            }
        }
        try await ConsolePagesTests.withConsole(harness) { browser, _ in
            _ = try await browser.login("mai")
            let first = try await browser.get("/plan?day=2026-01-14")
            #expect(first.body.components(separatedBy: "<section class=\"bus\"").count - 1 == 20)
            #expect(first.body.contains("<strong>bus-01–bus-20</strong>"))
            #expect(first.body.contains("page=2\">bus-21–bus-25</a>"))
            let second = try await browser.get("/plan?day=2026-01-14&page=2")
            #expect(second.body.components(separatedBy: "<section class=\"bus\"").count - 1 == 5)
            #expect(second.body.contains("data-bus=\"bus-25\""))
            // Every visit of the day is on the venues' picture, whichever page of buses.
            #expect(second.body.components(separatedBy: "<g class=\"visit").count - 1 == 25)

            let list = try await browser.get("/registrations")
            #expect(list.body.contains("205 registrations"))
            #expect(list.body.components(separatedBy: "<tr><td><a href=\"/registrations/").count - 1 == 200)
            let rest = try await browser.get("/registrations?page=2")
            #expect(rest.body.components(separatedBy: "<tr><td><a href=\"/registrations/").count - 1 == 5)
            #expect(rest.body.contains("Company company-205"))
        }
    }
}

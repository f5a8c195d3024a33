import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Messages
import NIOCore
import Passes
import ServiceRuntime

/// The console's pages, behind its own accounts (`Accounts`): a session cookie (HTTP-only,
/// SameSite=Strict, Secure unless on loopback), a CSRF token in every form, the role checked on
/// every action. Server-rendered HTML; the only script polls an action's outcome.
///
/// - `GET /login`, `POST /login`, `POST /logout`
/// - `GET /` the event at a glance; `GET /registrations` (search, filter); `GET /registrations/{id}`
/// - `GET /plan?day=&at=` each bus's day as a timeline, and where every bus is at a time
/// - `GET /audit` what every account did
/// - `POST /registrations/{id}/cancel`, `POST /overrides`, `POST /notifications/{id}/resend`,
///   `POST /reoptimise`, `POST /reoptimise/{id}/apply` (organisers); `GET /actions/{id}` an
///   action's outcome (JSON)
public struct ConsoleHTTP: Sendable {
    let configuration: ConsoleConfiguration
    let pages: ConsolePages
    let store: ServiceStore
    let outbox: Doorbell
    let parked: ParkedMessages
    let passwords: PasswordChecks
    let now: @Sendable () -> Date

    static let sessionCookie = "console_session"
    static let loginCookie = "console_login"
    static let languageCookie = "console_lang"

    /// `parked`: the dead-letter queues' depths the overview shows; `passwords`: where login
    /// passwords are checked.
    public static func routes(
        configuration: ConsoleConfiguration, pages: ConsolePages, parked: ParkedMessages = ParkedMessages(queues: []),
        passwords: PasswordChecks = PasswordChecks(), now: @escaping @Sendable () -> Date = { Date() }
    ) -> @Sendable (ServiceRoutes, ServiceStore) -> Void {
        { routes, store in
            ConsoleHTTP(
                configuration: configuration, pages: pages, store: store, outbox: routes.outbox, parked: parked, passwords: passwords,
                now: now
            )
            .add(to: routes.ownAccess)
        }
    }

    func add(to group: RouterGroup<ServiceRequestContext>) {
        group.get("/static/:file") { _, context in try self.asset(try context.parameters.require("file")) }
        group.get("/login") { request, _ in try self.loginPage(request) }
        group.post("/login") { request, context in try await self.login(request, context) }
        group.post("/logout") { request, context in
            try await self.signedIn(request, context) { session, form in
                if let token = request.cookies[Self.sessionCookie]?.value {
                    try await store.database.write { db in
                        try Accounts.logout(token: token, in: db)
                        try Accounts.audit(account: session.account.name, action: "logout", outcome: "ok", in: db)
                    }
                }
                var response = Self.redirect("/login")
                response.setCookie(self.cookie(Self.sessionCookie, "", maxAge: 0))
                return response
            }
        }
        group.get("/") { request, context in try await self.page(request) { try await self.overview($0, $1) } }
        group.get("/registrations") { request, context in try await self.page(request) { try await self.registrations(request, $0, $1) } }
        group.get("/registrations/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await self.page(request) { try await self.registration(id, request, $0, $1) }
        }
        group.get("/plan") { request, context in try await self.page(request) { try await self.plan(request, $0, $1) } }
        group.get("/audit") { request, context in try await self.page(request) { try await self.audit($0, $1) } }
        group.get("/manifests") { request, context in try await self.page(request) { try await self.manifestsPage(request, $0, $1) } }
        group.get("/manifests.csv") { request, context in
            guard let session = try await self.session(request) else { return Self.redirect("/login") }
            return try await self.manifestsCSV(request, session)
        }
        group.get("/checkin") { request, context in try await self.page(request) { try await self.checkinPage(request, $0, $1) } }
        group.post("/checkins") { request, _ in try await self.checkins(request) }
        group.get("/checkins/status") { request, _ in try await self.checkinStatus(request) }
        group.post("/absences") { request, _ in try await self.absences(request) }
        group.get("/answer") { request, _ in
            try await self.answerPage(request, token: request.uri.queryParameters.get("t").map { String($0) })
        }
        group.post("/answer") { request, context in try await self.answer(request, context) }
        group.get("/actions/:id") { request, context in
            let id = try context.parameters.require("id")
            guard try await self.session(request) != nil else { throw HTTPError(.unauthorized) }
            guard let action = try await store.database.read({ db in try ConsoleStore.action(id, in: db) }) else {
                throw HTTPError(.notFound)
            }
            return try ServiceHTTP.json(["status": action.status.rawValue, "outcome": action.outcome ?? ""])
        }
        group.post("/registrations/:id/cancel") { request, context in
            let id = try context.parameters.require("id")
            return try await self.act(request, context, back: { _, _ in "/registrations/\(id)" }) { session, form, db in
                try ConsoleCommands.cancel(registrationID: id, reason: form["reason"], by: session.account.name, now: self.now(), in: db)
            }
        }
        group.post("/overrides") { request, context in
            try await self.act(request, context, back: Self.overrideReturn) { session, form, db in
                let kind = form["kind"].flatMap(PlanOverrideRequested.Kind.init(rawValue:))
                let withdraw = form["withdraw"] == "1"
                guard withdraw || kind != nil else { throw ConsoleCommands.Refusal.invalid("say what the override keeps") }
                let overrideID =
                    form["overrideID"].nonEmpty
                    ?? [kind?.rawValue, form["reference"], form["busID"], form["day"], form["venueID"]].compactMap(\.nonEmpty)
                    .joined(separator: ":")
                let request = PlanOverrideRequested(
                    eventID: try self.eventID(in: db), overrideID: overrideID, kind: kind, withdraw: withdraw,
                    reference: form["reference"].nonEmpty, busID: form["busID"].nonEmpty, day: form["day"].nonEmpty,
                    venueID: form["venueID"].nonEmpty, seats: form["seats"].flatMap { Int($0) }, reason: form["reason"].nonEmpty)
                return try ConsoleCommands.override(request, by: session.account.name, now: self.now(), in: db)
            }
        }
        group.post("/notifications/:id/resend") { request, context in
            let id = try context.parameters.require("id")
            return try await self.act(request, context, back: Self.overrideReturn) { session, _, db in
                try ConsoleCommands.resend(notificationID: id, by: session.account.name, now: self.now(), in: db)
            }
        }
        group.post("/reoptimise") { request, context in
            try await self.act(request, context, back: { _, _ in "/plan" }) { session, _, db in
                try ConsoleCommands.reoptimise(eventID: try self.eventID(in: db), by: session.account.name, now: self.now(), in: db)
            }
        }
        group.post("/reoptimise/:id/apply") { request, context in
            let preview = try context.parameters.require("id")
            return try await self.act(request, context, back: { _, _ in "/plan" }) { session, _, db in
                try ConsoleCommands.reoptimise(
                    eventID: try self.eventID(in: db), applying: preview, by: session.account.name, now: self.now(), in: db)
            }
        }
    }

    // MARK: Sessions

    func session(_ request: Request) async throws -> Accounts.Session? {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty else { return nil }
        let now = now()
        return try await store.database.read { db in try Accounts.session(token: token, now: now, in: db) }
    }

    /// A page for whoever is signed in; the login page for anyone else.
    func page(_ request: Request, _ build: (Accounts.Session, Language) async throws -> View) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect("/login") }
        let language = language(request)
        let view = try await build(session, language)
        var context = view.values
        context["account"] = session.account.name
        context["accountRole"] = pages.word("role.\(session.account.role.rawValue)", language)
        context["organiser"] = session.account.role == .organiser
        context["csrf"] = session.csrf
        return html(try pages.render(view.template, language: language, context: context), request: request)
    }

    /// A form sent by a signed-in account with its CSRF token; anything else is refused.
    func signedIn(
        _ request: Request, _ context: ServiceRequestContext, _ handle: (Accounts.Session, [String: String]) async throws -> Response
    ) async throws -> Response {
        guard let session = try await session(request) else { return Self.redirect("/login") }
        let form = try await ServiceHTTP.form(request)
        guard let token = form["_csrf"], Self.same(token, session.csrf) else {
            try await store.database.write { db in
                try Accounts.audit(
                    account: session.account.name, action: "\(request.uri.path)", outcome: "refused: no valid CSRF token", in: db)
            }
            return try refusal(.forbidden, "csrf.refused", request: request)
        }
        return try await handle(session, form)
    }

    /// The event the console shows, or a refusal while no programme has arrived.
    func eventID(in db: Database) throws -> String {
        guard let eventID = try ConsoleQueries.programme(eventID: configuration.eventID, in: db)?.eventID else {
            throw ConsoleCommands.Refusal.invalid("no programme yet")
        }
        return eventID
    }

    /// Where an override's (or a resend's) form returns: the delegation's page, or the plan of its day.
    @Sendable static func overrideReturn(_ form: [String: String], _ eventID: String) -> String {
        if let reference = form["reference"].nonEmpty { return "/registrations/\(registrationID(eventID: eventID, reference: reference))" }
        if let day = form["day"], day.range(of: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", options: .regularExpression) != nil {
            return "/plan?day=\(day)"
        }
        return "/plan"
    }

    /// An organiser's action: its command, record and audit entry in one transaction; then back to
    /// the page `back` names (from the form and the event, never a place the form names itself),
    /// showing the action until its answer arrives.
    func act(
        _ request: Request, _ context: ServiceRequestContext, back: @escaping @Sendable ([String: String], String) -> String,
        _ command: @escaping @Sendable (Accounts.Session, [String: String], Database) throws -> ConsoleAction
    ) async throws -> Response {
        try await signedIn(request, context) { session, form in
            guard session.account.role == .organiser else {
                try await store.database.write { db in
                    try Accounts.audit(
                        account: session.account.name, action: "\(request.uri.path)",
                        outcome: "refused: the \(session.account.role.rawValue) role may not act", in: db)
                }
                return try refusal(.forbidden, "role.refused", request: request)
            }
            do {
                let (action, returnTo) = try await store.database.write { db in
                    (try command(session, form, db), back(form, try self.eventID(in: db)))
                }
                outbox.ring()
                return Self.redirect(returnTo + (returnTo.contains("?") ? "&" : "?") + "action=\(action.id)")
            } catch let refusal as ConsoleCommands.Refusal {
                try await store.database.write { db in
                    try Accounts.audit(account: session.account.name, action: "\(request.uri.path)", outcome: "refused: \(refusal)", in: db)
                }
                return try self.refusal(.badRequest, refusal.description, request: request)
            }
        }
    }

    // MARK: Check-in

    /// `GET /checkin?day=&bus=&venue=`: the marshal's page for a bus (boarding; at one stop, or
    /// any) or a venue's gate (arriving): everyone expected there with their pass's short code
    /// and whether they are checked in, which the page's script checks scans against offline.
    func checkinPage(_ request: Request, _ session: Accounts.Session, _ language: Language) async throws -> View {
        let wanted = request.uri.queryParameters.get("day")
        let bus = request.uri.queryParameters.get("bus").nonEmpty
        let venue = request.uri.queryParameters.get("venue").nonEmpty
        return try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: self.configuration.eventID, in: db) else {
                return View("empty", [:])
            }
            let day = wanted.flatMap { programme.days.contains($0) ? $0 : nil } ?? programme.days.first ?? ""
            let visits = try ConsoleQueries.busVisits(eventID: programme.eventID, day: day, in: db)
            let names = Dictionary(programme.venues.map { ($0.id, $0.name.text(in: language)) }, uniquingKeysWith: { first, _ in first })
            var context: [String: Any] = [
                "day": day, "days": programme.days.map { ["day": $0, "current": $0 == day] },
                "busIDs": try ConsoleQueries.buses(eventID: programme.eventID, day: day, in: db).map { ["id": $0, "selected": $0 == bus] },
                "venues": Array(Set(visits.map(\.venueID))).sorted().map { ["id": $0, "name": names[$0] ?? $0, "selected": $0 == venue] },
                "bus": bus ?? "", "venue": venue ?? "",
            ]
            guard bus != nil || venue != nil, let keys = self.configuration.passKeys,
                let expires = programme.passesExpire
            else {
                if self.configuration.passKeys == nil { context["problem"] = self.pages.word("checkin.noKeys", language) }
                return View("checkin", context)
            }
            let expected = visits.filter { visit in (bus.map { visit.busID == $0 } ?? true) && (venue.map { visit.venueID == $0 } ?? true) }
            let registrations = Set(expected.map(\.registrationID))
            let people = try ConsoleQueries.people(eventID: programme.eventID, only: registrations, in: db)
            let done = try ConsoleQueries.checkedIn(eventID: programme.eventID, day: day, bus: bus, venue: venue, in: db)
            let declined = try ConsoleQueries.absent(eventID: programme.eventID, day: day, in: db)
            context["place"] = [bus, venue.map { names[$0] ?? $0 }].compactMap { $0 }.joined(separator: " · ")
            // When everyone should be on board: when the bus leaves the stop chosen, or else when
            // it leaves for its tour (`MissingRiders`). Who is not on board by then is missing.
            let leaves =
                venue == nil
                ? MissingRiders.departures(programme: programme, day: day, visits: expected).first?.at
                : expected.min { $0.arrival < $1.arrival }?.departure
            if bus != nil, let leaves {
                context["departure"] = Int(leaves.timeIntervalSince1970 * 1000)
                context["departureTime"] = EventClock(zone: programme.timeZone).time(leaves)
            }
            context["riders"] = people.sorted {
                ($0.value.delegation.organisation.name, $0.key) < ($1.value.delegation.organisation.name, $1.key)
            }
            .flatMap { registrationID, found in
                found.delegation.delegates.enumerated().map { index, person in
                    [
                        "registration": registrationID, "person": index + 1, "name": person.name, "first": index == 0,
                        "organisation": found.delegation.organisation.name,
                        "code": Pass(eventID: programme.eventID, registrationID: registrationID, person: index + 1, expires: expires)
                            .shortCode(keys),
                        "done": done.contains("\(registrationID)|\(index + 1)"),
                        "declined": declined.contains("\(registrationID)|\(index + 1)"),
                    ] as [String: Any]
                }
            }
            return View("checkin", context)
        }
    }

    /// `POST /checkins` (marshals and organisers): a JSON batch `{"scans": [Checkins.Scan]}`, what
    /// the check-in page scanned (and kept while offline), with the session's CSRF token in
    /// `X-CSRF-Token`. Answers each scan's outcome; a refused one is kept nowhere.
    func checkins(_ request: Request) async throws -> Response {
        guard let session = try await session(request) else { throw HTTPError(.unauthorized) }
        guard let token = request.headers[Self.csrfHeader], Self.same(token, session.csrf), session.account.role != .viewer else {
            try await store.database.write { db in
                try Accounts.audit(
                    account: session.account.name, action: "/checkins", outcome: "refused: no valid CSRF token, or a viewer", in: db)
            }
            throw HTTPError(.forbidden, message: "a check-in needs a marshal's or organiser's session and its CSRF token")
        }
        guard let keys = configuration.passKeys else {
            throw HTTPError(.serviceUnavailable, message: "CONSOLE_PASS_KEYS is not set: passes cannot be checked")
        }
        struct Batch: Decodable { var scans: [Checkins.Scan] }
        let batch: Batch
        do {
            batch = try MessageCoding.decode(Batch.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
        } catch {
            throw HTTPError(.badRequest, message: "expected {\"scans\": [{\"id\", \"pass\" or \"code\", \"day\", \"bus\" or \"venue\"}]}")
        }
        guard batch.scans.count <= 1000 else { throw HTTPError(.contentTooLarge, message: "at most 1000 scans at once") }
        let now = now()
        let outcomes = try await store.database.write { db in
            guard let programme = try ConsoleQueries.programme(eventID: self.configuration.eventID, in: db) else {
                throw HTTPError(.notFound, message: "no programme yet")
            }
            return try batch.scans.map { scan in
                try Checkins.record(scan, marshal: session.account.name, keys: keys, programme: programme, now: now, in: db)
            }
        }
        if outcomes.contains(where: { $0.status == .recorded }) { outbox.ring() }
        struct Answer: Encodable { var outcomes: [Checkins.Outcome] }
        return try ServiceHTTP.json(Answer(outcomes: outcomes))
    }

    /// `GET /checkins/status?day=&bus=` (or `&venue=`): boarded (or arrived) against expected, per
    /// stop, as JSON (all marshals' check-ins; the check-in page counts its own list).
    func checkinStatus(_ request: Request) async throws -> Response {
        guard try await session(request) != nil else { throw HTTPError(.unauthorized) }
        let day = request.uri.queryParameters.get("day") ?? ""
        let bus = request.uri.queryParameters.get("bus").nonEmpty
        let venue = request.uri.queryParameters.get("venue").nonEmpty
        let status = try await store.database.read { db in
            try ConsoleQueries.checkinStatus(eventID: try self.eventID(in: db), day: day, bus: bus, venue: venue, in: db)
        }
        return try ServiceHTTP.json(status)
    }

    /// `POST /absences` (marshals and organisers): `{"registration", "day", "persons": [Int]}`,
    /// people the lead said will not come that day (by phone, at the bus door), with the
    /// session's CSRF token in `X-CSRF-Token`. Answers who was newly declared.
    func absences(_ request: Request) async throws -> Response {
        guard let session = try await session(request) else { throw HTTPError(.unauthorized) }
        guard let token = request.headers[Self.csrfHeader], Self.same(token, session.csrf), session.account.role != .viewer else {
            throw HTTPError(.forbidden, message: "declaring someone absent needs a marshal's or organiser's session and its CSRF token")
        }
        struct Absence: Decodable {
            var registration: String
            var day: String
            var persons: [Int]
        }
        let absence: Absence
        do {
            absence = try MessageCoding.decode(Absence.self, from: Data(buffer: try await request.body.collect(upTo: 64 * 1024)))
        } catch {
            throw HTTPError(.badRequest, message: "expected {\"registration\", \"day\", \"persons\": [1, 2]}")
        }
        let now = now()
        let declared = try await store.database.write { db in
            try self.decline(
                absence.registration, absence.persons, day: absence.day, source: .console, by: session.account.name, now: now, in: db)
        }
        if !declared.isEmpty { outbox.ring() }
        return try ServiceHTTP.json(["declined": declared])
    }

    /// Checks and records an answer that `persons` will not come on `day` (`MissingRiders.decline`),
    /// with its audit entry.
    func decline(
        _ registrationID: String, _ persons: [Int], day: String, source: AttendanceDeclined.Source, by account: String, now: Date,
        in db: Database
    ) throws -> [Int] {
        guard let programme = try ConsoleQueries.programme(eventID: configuration.eventID, in: db) else {
            throw HTTPError(.notFound, message: "no programme yet")
        }
        guard programme.days.contains(day) else { throw HTTPError(.badRequest, message: "\(day) is not a day of \(programme.eventID)") }
        guard let people = try ConsoleQueries.people(eventID: programme.eventID, only: [registrationID], in: db)[registrationID] else {
            throw HTTPError(.notFound, message: "no accepted registration \(registrationID)")
        }
        let count = people.delegation.delegates.count
        guard !persons.isEmpty, persons.allSatisfy({ (1...count).contains($0) }) else {
            throw HTTPError(.badRequest, message: "persons are places in the delegation, 1 to \(count)")
        }
        let declared = try MissingRiders.decline(
            eventID: programme.eventID, registrationID: registrationID, persons: persons, day: day, source: source,
            recordedBy: source == .console ? account : nil, now: now, in: db)
        try Accounts.audit(
            account: account, action: "absence \(registrationID) \(day)",
            outcome: declared.isEmpty ? "already declared" : "declined \(declared.map(String.init).joined(separator: ", "))", in: db)
        return declared
    }

    /// The lead's answer link (`MissingRiders.answerURL`): the pass it names, if it holds.
    func answerToken(_ token: String?) -> Pass? {
        guard let token, let keys = configuration.passKeys, let pass = try? Pass.verify(token, keys: keys, now: now(), for: .answer),
            pass.person == 0
        else { return nil }
        return pass
    }

    /// `GET /answer?t=`: for a delegation's lead, without an account (the signed link is the
    /// key): their delegates, who was not on board, and a box each to say who will not come
    /// today.
    func answerPage(_ request: Request, token: String?, done: [Int]? = nil) async throws -> Response {
        guard let pass = answerToken(token) else { return try refusal(.forbidden, "answer.invalid", request: request) }
        let view: View? = try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: pass.eventID, in: db),
                let people = try ConsoleQueries.people(eventID: pass.eventID, only: [pass.registrationID], in: db)[pass.registrationID]
            else { return nil }
            let clock = EventClock(zone: programme.timeZone)
            let day = clock.day(pass.expires.addingTimeInterval(-120))
            let alerts = try ConsoleQueries.alerts(registrationID: pass.registrationID, day: day, in: db)
            let missing = Set(alerts.flatMap(\.persons))
            let absent = try ConsoleQueries.absent(eventID: pass.eventID, day: day, in: db)
            return View(
                "answer",
                [
                    "token": token ?? "", "day": day, "organisation": people.delegation.organisation.name,
                    "alerts": alerts.map { ["bus": $0.busID, "time": clock.time($0.departure)] }, "hasAlerts": !alerts.isEmpty,
                    "people": people.delegation.delegates.enumerated().map { index, delegate in
                        [
                            "person": index + 1, "name": delegate.name, "missing": missing.contains(index + 1),
                            "declined": absent.contains("\(pass.registrationID)|\(index + 1)"),
                        ] as [String: Any]
                    },
                    "noted": (done?.count ?? 0) > 0, "answered": done != nil,
                ])
        }
        guard let view else { return try refusal(.notFound, "answer.gone", request: request) }
        return html(try pages.render(view.template, language: language(request), context: view.values), request: request)
    }

    /// `POST /answer`: the lead's boxes (`person-N`), with the link's token (`t`).
    func answer(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let form = try await ServiceHTTP.form(request)
        guard let pass = answerToken(form["t"]) else { return try refusal(.forbidden, "answer.invalid", request: request) }
        let persons = form.keys.compactMap { $0.hasPrefix("person-") ? Int($0.dropFirst(7)) : nil }.sorted()
        let now = now()
        var declared: [Int] = []
        if !persons.isEmpty {
            declared = try await store.database.write { db in
                guard let programme = try ConsoleQueries.programme(eventID: pass.eventID, in: db) else { return [] }
                let day = EventClock(zone: programme.timeZone).day(pass.expires.addingTimeInterval(-120))
                return try self.decline(pass.registrationID, persons, day: day, source: .lead, by: "lead", now: now, in: db)
            }
            if !declared.isEmpty { outbox.ring() }
        }
        return try await answerPage(request, token: form["t"], done: declared)
    }

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    // MARK: Logging in

    func loginPage(_ request: Request, problem: String? = nil, status: HTTPResponse.Status = .ok) throws -> Response {
        let language = language(request)
        let nonce = Accounts.randomToken()
        var context: [String: Any] = ["nonce": nonce]
        if let problem { context["problem"] = pages.word(problem, language) }
        var response = html(try pages.render("login", language: language, context: context), request: request, status: status)
        response.setCookie(cookie(Self.loginCookie, nonce, maxAge: 3600))
        return response
    }

    func login(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let form = try await ServiceHTTP.form(request)
        guard let nonce = request.cookies[Self.loginCookie]?.value, let sent = form["_csrf"], Self.same(nonce, sent) else {
            return try loginPage(request, problem: "csrf.refused", status: .forbidden)
        }
        let name = form["name"] ?? ""
        let password = form["password"] ?? ""
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        let lifetime = configuration.sessionLifetime
        let now = now()
        // A flood of logins (from many addresses) waits in a line of bounded length; one that
        // finds it full is turned away at once, neither counted nor checked.
        guard !passwords.isFull else {
            var busy = try loginPage(request, problem: "login.busy", status: .serviceUnavailable)
            busy.headers[.retryAfter] = "10"
            return busy
        }
        // The attempt is counted as a failure before its password is checked, so that logins
        // sent at once cannot all be let through by the same count.
        let reservation = try await store.database.write { db in
            let reservation = try Accounts.reserveLogin(name: name, address: address, now: now, in: db)
            if case .throttled = reservation { try Self.auditLogin(name, .throttled, now: now, in: db) }
            return reservation
        }
        guard case .reserved(let check) = reservation else {
            return try loginPage(request, problem: "login.throttled", status: .tooManyRequests)
        }
        let matched = await passwords.verify(password, against: check.hash)
        let outcome = try await store.database.write { db in
            let outcome = try Accounts.concludeLogin(check, matched: matched, lifetime: lifetime, now: now, in: db)
            try Self.auditLogin(name, outcome, now: now, in: db)
            return outcome
        }
        switch outcome {
        case .success(let token, _):
            var response = Self.redirect("/")
            response.setCookie(cookie(Self.sessionCookie, token, maxAge: Int(lifetime)))
            return response
        case .refused:
            return try loginPage(request, problem: "login.refused", status: .unauthorized)
        case .throttled:
            return try loginPage(request, problem: "login.throttled", status: .tooManyRequests)
        }
    }

    /// A name typed by mistake may be a password: only an account's own name is recorded.
    static func auditLogin(_ name: String, _ outcome: Accounts.LoginOutcome, now: Date, in db: Database) throws {
        let audited = try Accounts.account(name, in: db) != nil ? name : "(unknown account)"
        switch outcome {
        case .success: try Accounts.audit(account: audited, action: "login", outcome: "ok", now: now, in: db)
        case .refused: try Accounts.audit(account: audited, action: "login", outcome: "refused", now: now, in: db)
        case .throttled: try Accounts.audit(account: audited, action: "login", outcome: "throttled", now: now, in: db)
        }
    }

    // MARK: Pages

    func overview(_ session: Accounts.Session, _ language: Language) async throws -> View {
        let eventID = configuration.eventID
        return try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: eventID, in: db) else { return View("empty", [:]) }
            let counts = try ConsoleQueries.counts(eventID: programme.eventID, in: db)
            let clock = EventClock(zone: programme.timeZone)
            let failed = try ConsoleQueries.notifications(eventID: programme.eventID, outcome: "failed", limit: 20, in: db)
            let refused = try ConsoleQueries.overrides(eventID: programme.eventID, in: db).filter { $0.outcome == "refused" }
            let actions = try ConsoleStore.actions(limit: 10, in: db)
            return View(
                "overview",
                [
                    "event": programme.name.text(in: language), "eventID": programme.eventID,
                    "days": programme.days.joined(separator: ", "),
                    "capacityOrganisations": programme.capacity.organisations, "capacityDelegates": programme.capacity.delegates,
                    "accepted": counts.accepted, "waitlisted": counts.waitlisted, "cancelled": counts.cancelled,
                    "rejected": counts.rejected, "delegates": counts.delegatesAccepted, "withItinerary": counts.withItinerary,
                    "meetings": counts.meetings, "delivered": counts.notificationsDelivered, "failedCount": counts.notificationsFailed,
                    "failedAlert": counts.notificationsFailed > 0,
                    "overridesPending": counts.overridesPending, "overridesRefused": counts.overridesRefused,
                    "failed": failed.map { self.notificationContext($0, language, clock) },
                    "hasFailed": !failed.isEmpty,
                    "hasRefused": !refused.isEmpty, "hasActions": !actions.isEmpty,
                    "refusedOverrides": refused.map { ["id": $0.request.overrideID, "reason": $0.reason ?? ""] },
                    "actions": actions.map { self.actionContext($0, language) },
                ].merging(self.parkedContext(language, clock)) { $1 }
            )
        }
    }

    /// The parked messages' figure and, when any wait or the broker could not be asked, the
    /// queues that hold them.
    func parkedContext(_ language: Language, _ clock: EventClock) -> [String: Any] {
        guard !parked.queues.isEmpty else { return ["parked": "–"] }
        guard let reading = parked.latest else { return ["parked": pages.word("overview.parkedUnknown", language)] }
        let shown = reading.queues.filter { ($0.messages ?? 1) > 0 }
        return [
            "parked": reading.total, "parkedAlert": !shown.isEmpty || reading.problem != nil,
            "parkedProblem": reading.problem ?? "", "parkedAt": clock.full(reading.at),
            "parkedQueues": shown.map { queue in
                ["name": queue.name, "messages": queue.messages.map(String.init) ?? pages.word("overview.parkedMissing", language)]
            },
        ]
    }

    func registrations(_ request: Request, _ session: Accounts.Session, _ language: Language) async throws -> View {
        let search = request.uri.queryParameters.get("q")
        let status = request.uri.queryParameters.get("status").flatMap(RegistrationStatus.init(rawValue:))
        let page = Int(request.uri.queryParameters.get("page") ?? "") ?? 1
        let eventID = configuration.eventID
        return try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: eventID, in: db) else { return View("empty", [:]) }
            let count = try ConsoleQueries.registrationCount(eventID: programme.eventID, status: status, search: search, in: db)
            let pageCount = max(1, (count + Self.registrationsPerPage - 1) / Self.registrationsPerPage)
            let pageIndex = min(max(1, page), pageCount)
            let rows = try ConsoleQueries.registrations(
                eventID: programme.eventID, status: status, search: search, page: (Self.registrationsPerPage, pageIndex - 1), in: db)
            let query = "q=\(search?.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "")&status=\(status?.rawValue ?? "")"
            return View(
                "registrations",
                [
                    "q": search ?? "", "count": count,
                    "pages": pageCount > 1
                        ? (1...pageCount).map { ["number": $0, "current": $0 == pageIndex, "query": query] as [String: Any] } : [],
                    "statuses": RegistrationStatus.allCases.map {
                        ["value": $0.rawValue, "label": self.pages.word("status.\($0.rawValue)", language), "selected": $0 == status]
                    },
                    "rows": rows.map { row in
                        [
                            "id": row.registrationID, "reference": row.reference, "organisation": row.organisation, "country": row.country,
                            "status": self.pages.word("status.\(row.status.rawValue)", language), "statusClass": row.status.rawValue,
                            "delegates": row.delegates, "position": row.waitlistPosition.map { "#\($0)" } ?? "",
                        ] as [String: Any]
                    },
                ]
            )
        }
    }

    func registration(_ id: String, _ request: Request, _ session: Accounts.Session, _ language: Language) async throws -> View {
        let eventID = configuration.eventID
        let action = request.uri.queryParameters.get("action")
        return try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: eventID, in: db),
                let registration = try ConsoleQueries.registration(id, in: db)
            else { return View("not-found", [:]) }
            let clock = EventClock(zone: programme.timeZone)
            let venues = Dictionary(programme.venues.map { ($0.id, $0.name.text(in: language)) }, uniquingKeysWith: { a, _ in a })
            let delegation = registration.delegation
            var context: [String: Any] = [
                "id": registration.row.registrationID, "reference": registration.row.reference,
                "organisation": registration.row.organisation, "country": registration.row.country,
                "role": self.pages.word("delegation.\(registration.row.role)", language),
                "status": self.pages.word("status.\(registration.row.status.rawValue)", language),
                "statusClass": registration.row.status.rawValue, "revision": registration.revision,
                "active": registration.row.status != .cancelled, "erased": registration.row.erased,
                "lead": [
                    "name": delegation.leadContact.name, "phone": delegation.leadContact.phone ?? "",
                    "language": delegation.leadContact.language.rawValue,
                ],
                "people": delegation.delegates.enumerated().map { index, person in
                    [
                        "name": person.name, "title": person.title ?? "", "language": person.language.rawValue, "phone": person.phone ?? "",
                        "interpreter": person.needsInterpreter,
                        "document": index < registration.documents.count && registration.documents[index],
                    ] as [String: Any]
                },
                "history": registration.history.map { entry in
                    [
                        "at": clock.full(entry.at), "status": entry.status, "revision": entry.revision.map(String.init) ?? "",
                        "detail": entry.detail ?? "",
                    ]
                },
                "notifications": registration.notifications.map { self.notificationContext($0, language, clock) },
                "buses": programme.buses.map(\.id), "days": programme.days,
                "venues": programme.venues.filter(\.isSiteVisit).map { ["id": $0.id, "name": $0.name.text(in: language)] },
            ]
            if let itinerary = registration.itinerary {
                context["planVersion"] = itinerary.planVersion
                context["hasItems"] = !itinerary.items.isEmpty
                context["hasUnmet"] = !itinerary.unmet.isEmpty
                context["items"] = itinerary.items.sorted { $0.start < $1.start }.map { item in
                    var entry: [String: Any] = [
                        "when": "\(clock.full(item.start))–\(clock.time(item.end))",
                        "kind": self.pages.word("item.\(item.kind.rawValue)", language), "title": item.title.text(in: language),
                        "venue": item.venueID.flatMap { venues[$0] } ?? "", "bus": item.busID ?? "",
                    ]
                    if let counterpart = item.counterpart, !counterpart.isEmpty { entry["counterpart"] = counterpart }
                    return entry
                }
                context["unmet"] = itinerary.unmet.map { unmet in
                    [
                        "venue": venues[unmet.venueID] ?? unmet.venueID,
                        "reason": self.pages.word("unmet.\(unmet.reason.rawValue)", language), "detail": unmet.detail,
                    ]
                }
            }
            if let action, let found = try ConsoleStore.action(action, in: db) { context["action"] = self.actionContext(found, language) }
            return View("registration", context)
        }
    }

    func plan(_ request: Request, _ session: Accounts.Session, _ language: Language) async throws -> View {
        let eventID = configuration.eventID
        let wantedDay = request.uri.queryParameters.get("day")
        let at = request.uri.queryParameters.get("at").flatMap {
            $0.range(of: "^[0-2][0-9]:[0-5][0-9]$", options: .regularExpression) != nil ? $0 : nil
        }
        let action = request.uri.queryParameters.get("action")
        return try await store.database.read { db in
            guard let programme = try ConsoleQueries.programme(eventID: eventID, in: db) else { return View("empty", [:]) }
            let (whole, day, organisations) = try Self.timeline(programme, wanted: wantedDay, language, db)
            let days = whole.days
            // A page of buses: the first `busesPerPage` of the day, or those of `page`.
            let allBuses = whole.busDays(on: day).map(\.busID)
            let pageCount = max(1, (allBuses.count + Self.busesPerPage - 1) / Self.busesPerPage)
            let pageIndex = min(max(1, Int(request.uri.queryParameters.get("page") ?? "") ?? 1), pageCount)
            let shown = Set(allBuses.dropFirst((pageIndex - 1) * Self.busesPerPage).prefix(Self.busesPerPage))
            let timeline = BusTimeline(
                programme: programme, busDays: whole.busDays.filter { shown.contains($0.busID) }, days: days, language: language)
            let moment = at.flatMap { timeline.moment(day: day, time: $0) }
            let pictures = PlanPictures(
                timeline: whole, itineraries: try ConsoleQueries.meetingItineraries(eventID: programme.eventID, in: db),
                organisations: organisations)
            let grid = pictures.meetingGrid(on: day)
            let buses = timeline.busDays(on: day)
            var context: [String: Any] = [
                "day": day, "at": at ?? "",
                "pages": pageCount > 1
                    ? (1...pageCount).map { number in
                        [
                            "number": number, "current": number == pageIndex,
                            "first": allBuses[(number - 1) * Self.busesPerPage],
                            "last": allBuses[min(allBuses.count, number * Self.busesPerPage) - 1],
                        ] as [String: Any]
                    } : [],
                "page": pageIndex,
                "days": days.map { ["day": $0, "current": $0 == day] },
                "svg": timeline.svg(day: day, marker: moment),
                "venuesSVG": pictures.venuesSVG(day: day), "mapSVG": pictures.mapSVG(day: day, buses: shown),
                "meetingSlots": grid.slots.map(timeline.clock), "hasMeetings": !grid.tables.isEmpty,
                "meetingTables": grid.tables.map { ["table": $0.table, "cells": $0.cells] as [String: Any] },
                "buses": buses.map { bus in
                    var entry: [String: Any] = [
                        "bus": bus.busID, "people": bus.people, "seats": bus.seats,
                        "stops": bus.stops.map {
                            ["venue": $0.venue, "arrival": timeline.clock($0.arrival), "departure": timeline.clock($0.departure)]
                        },
                        "riders": bus.riders.map {
                            ["id": $0.registrationID, "organisation": $0.organisation, "people": $0.people] as [String: Any]
                        },
                    ]
                    if let moment, let position = BusTimeline.position(of: bus, at: moment) {
                        entry["where"] = self.describe(position, timeline, language)
                    }
                    return entry
                },
                "overrides": try ConsoleQueries.overrides(eventID: programme.eventID, in: db).map { override in
                    [
                        "id": override.request.overrideID, "kind": override.request.kind?.rawValue ?? "withdraw",
                        "target": [override.request.reference, override.request.busID, override.request.day, override.request.venueID]
                            .compactMap { $0 }.joined(separator: " · "),
                        "outcome": override.outcome.map { self.pages.word("outcome.\($0)", language) }
                            ?? self.pages.word("outcome.pending", language),
                        "reason": override.reason ?? "", "cost": override.cost.map { String(format: "%.0f", $0) } ?? "",
                    ]
                },
                "previews": try ConsoleQueries.reoptimisations(eventID: programme.eventID, in: db).map { preview in
                    [
                        "id": preview.requestID, "outcome": self.pages.word("outcome.\(preview.outcome)", language),
                        "before": String(format: "%.0f", preview.valueBefore), "after": String(format: "%.0f", preview.valueAfter),
                        "gain": String(format: "%+.0f", preview.valueAfter - preview.valueBefore), "moved": preview.moved.count,
                        "applicable": preview.outcome == PlanReoptimised.Outcome.previewed.rawValue, "reason": preview.reason ?? "",
                    ] as [String: Any]
                },
                "busIDs": programme.buses.map(\.id), "eventDays": programme.days,
            ]
            if moment != nil { context["showWhere"] = true }
            if let action, let found = try ConsoleStore.action(action, in: db) { context["action"] = self.actionContext(found, language) }
            return View("plan", context)
        }
    }

    /// The buses of the day asked for (`wanted` if a bus is on the road then, else the first day
    /// one is), and that day.
    static func timeline(
        _ programme: ProgrammePublished, wanted: String?, bus: String? = nil, _ language: Language, _ db: Database
    ) throws -> (timeline: BusTimeline, day: String, organisations: [String: String]) {
        let days = try ConsoleQueries.busDays(eventID: programme.eventID, in: db)
        let day = wanted.flatMap { days.contains($0) ? $0 : nil } ?? days.first ?? programme.days.first ?? ""
        let organisations = try ConsoleQueries.organisations(eventID: programme.eventID, in: db)
        let visits = try ConsoleQueries.busVisits(eventID: programme.eventID, day: day, bus: bus, in: db)
        return (
            BusTimeline(
                programme: programme, visits: visits, days: days, organisations: organisations.mapValues { ($0.name, $0.people) },
                language: language),
            day, organisations.mapValues(\.name)
        )
    }

    /// What a query value may hold unencoded (RFC 3986's unreserved characters).
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Registrations listed on one page.
    static let registrationsPerPage = 200

    /// Buses shown on one plan page.
    static let busesPerPage = 20

    /// Whether `session` may see identity document numbers: the account has the personal-data
    /// role and the console holds the key their copies are sealed to.
    func seesDocuments(_ session: Accounts.Session) -> Bool { session.account.personalData && configuration.documentKeys != nil }

    /// The manifests of `day` (every bus, or the one named), with the chosen columns; the
    /// documents are opened only when their column is chosen by an account that may see them.
    func manifests(_ request: Request, _ session: Accounts.Session, _ language: Language, in db: Database) throws -> (
        programme: ProgrammePublished, day: String, days: [String], manifests: [Manifest], columns: [Manifest.Column], timeline: BusTimeline
    )? {
        guard let programme = try ConsoleQueries.programme(eventID: configuration.eventID, in: db) else { return nil }
        let bus = request.uri.queryParameters.get("bus").nonEmpty
        let (timeline, day, _) = try Self.timeline(
            programme, wanted: request.uri.queryParameters.get("day"), bus: bus, language, db)
        let days = timeline.days
        let buses = timeline.busDays(on: day)
        let people = try ConsoleQueries.people(
            eventID: programme.eventID, only: bus == nil ? nil : Set(buses.flatMap { $0.riders.map(\.registrationID) }), in: db)
        // The form's checkboxes (`col=…&col=…`), or a link's `cols=a,b`.
        let checked = request.uri.queryParameters.getAll("col")
        let columns = Manifest.columns(
            checked.isEmpty ? (request.uri.queryParameters.get("cols") ?? "").split(separator: ",").map(String.init) : checked,
            personalData: seesDocuments(session))
        var documents: [String: [Result<IdentityDocument, SealedDocumentError>?]] = [:]
        if columns.contains(.documentNumber), let keys = configuration.documentKeys {
            for (id, found) in people {
                documents[id] = found.sealed.map { sealed in
                    sealed.map { sealed in
                        Result { () throws(SealedDocumentError) in try sealed.open(with: keys, reference: found.reference) }
                    }
                }
            }
        }
        var pass: (String, Int) -> Manifest.PassShown? = { _, _ in nil }
        if columns.contains(.pass), let keys = configuration.passKeys, let expires = programme.passesExpire {
            pass = { registrationID, person in
                let pass = Pass(eventID: programme.eventID, registrationID: registrationID, person: person, expires: expires)
                return (try? pass.qrCode(keys)).map { Manifest.PassShown(code: pass.shortCode(keys), svg: $0.svg(scale: 2, margin: 2)) }
            }
        }
        let manifests = buses.map { Manifest(bus: $0, people: people, documents: documents, pass: pass) }
        return (programme, day, days, manifests, columns, timeline)
    }

    /// Records that `session` was shown document numbers (the page or the CSV of `subject`).
    func auditDocuments(_ session: Accounts.Session, _ columns: [Manifest.Column], action: String, subject: String) async throws {
        guard columns.contains(.documentNumber) else { return }
        try await store.database.write { db in
            try Accounts.audit(account: session.account.name, action: action, subject: subject, outcome: "document numbers shown", in: db)
        }
    }

    func manifestsPage(_ request: Request, _ session: Accounts.Session, _ language: Language) async throws -> View {
        let (view, columns, subject) = try await store.database.read { db -> (View, [Manifest.Column], String) in
            guard let found = try self.manifests(request, session, language, in: db) else { return (View("empty", [:]), [], "") }
            let (programme, day, days, manifests, columns, timeline) = found
            let bus = request.uri.queryParameters.get("bus") ?? ""
            let query =
                "day=\(day)&bus=\(bus.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "")"
                + "&cols=\(columns.map(\.rawValue).joined(separator: ","))"
            let view = View(
                "manifests",
                [
                    "day": day, "days": days.map { ["day": $0, "current": $0 == day] }, "bus": bus,
                    "busIDs": try ConsoleQueries.buses(eventID: programme.eventID, day: day, in: db).map {
                        ["id": $0, "selected": $0 == bus]
                    },
                    "columns": Manifest.Column.allCases.filter { column in
                        (self.seesDocuments(session) || !column.isPersonalData) && (column != .pass || self.configuration.passKeys != nil)
                    }.map { column in
                        [
                            "id": column.rawValue, "label": self.pages.word("col.\(column.rawValue)", language),
                            "chosen": columns.contains(column),
                        ]
                    },
                    "headings": columns.map { self.pages.word("col.\($0.rawValue)", language) },
                    "csv": "/manifests.csv?\(query)",
                    "manifests": manifests.map { manifest in
                        [
                            "bus": manifest.bus.busID, "people": manifest.bus.people, "seats": manifest.bus.seats,
                            "stops": manifest.bus.stops.map {
                                ["venue": $0.venue, "arrival": timeline.clock($0.arrival), "departure": timeline.clock($0.departure)]
                            },
                            "rows": manifest.rows.map { row in
                                [
                                    "cells": columns.map { column in
                                        ["text": manifest.value(column, of: row), "svg": column == .pass ? row.pass?.svg ?? "" : ""]
                                    },
                                    "stops": row.stops.map { $0 ? "✓" : "" },
                                ] as [String: Any]
                            },
                        ] as [String: Any]
                    },
                ])
            return (view, columns, "manifest \(day) \(bus.isEmpty ? "all buses" : bus)")
        }
        try await auditDocuments(session, columns, action: "manifest view", subject: subject)
        return view
    }

    func manifestsCSV(_ request: Request, _ session: Accounts.Session) async throws -> Response {
        let language = language(request)
        let (csv, name, columns) = try await store.database.read { db -> (String, String, [Manifest.Column]) in
            guard let found = try self.manifests(request, session, language, in: db) else { throw HTTPError(.notFound) }
            let headings =
                [self.pages.word("col.bus", language)] + found.columns.map { self.pages.word("col.\($0.rawValue)", language) }
                + [self.pages.word("manifest.stops", language)]
            let csv = Manifest.csv(found.manifests, columns: found.columns, headings: headings) {
                "\(found.timeline.clock($0.arrival)) \($0.venue)"
            }
            let bus = request.uri.queryParameters.get("bus").nonEmpty ?? "all-buses"
            return (csv, "manifest-\(found.day)-\(bus)".filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, found.columns)
        }
        try await store.database.write { db in
            let outcome = columns.contains(.documentNumber) ? "document numbers shown" : "ok"
            try Accounts.audit(account: session.account.name, action: "manifest download", subject: name, outcome: outcome, in: db)
        }
        var headers = Self.pageHeaders(contentType: "text/csv; charset=utf-8")
        headers[.contentDisposition] = "attachment; filename=\"\(name).csv\""
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: csv)))
    }

    func audit(_ session: Accounts.Session, _ language: Language) async throws -> View {
        try await store.database.read { db in
            let zone = try ConsoleQueries.programme(eventID: self.configuration.eventID, in: db)?.timeZone ?? "UTC"
            let clock = EventClock(zone: zone)
            return View(
                "audit",
                [
                    "entries": try Accounts.auditLog(in: db).map { entry in
                        [
                            "at": clock.full(entry.at), "account": entry.account, "action": entry.action, "subject": entry.subject ?? "",
                            "outcome": entry.outcome,
                        ]
                    }
                ]
            )
        }
    }

    // MARK: Parts

    func describe(_ position: BusTimeline.Position, _ timeline: BusTimeline, _ language: Language) -> String {
        switch position {
        case .notStarted(let first):
            return "\(pages.word("where.notStarted", language)) \(first.venue) \(timeline.clock(first.arrival))"
        case .at(let stop):
            return "\(pages.word("where.at", language)) \(stop.venue) (\(timeline.clock(stop.arrival))–\(timeline.clock(stop.departure)))"
        case .driving(let from, let to):
            return "\(pages.word("where.driving", language)) \(from.venue) → \(to.venue) (\(timeline.clock(to.arrival)))"
        case .finished(let last):
            return "\(pages.word("where.finished", language)) \(last.venue) \(timeline.clock(last.departure))"
        }
    }

    func notificationContext(_ row: ConsoleQueries.NotificationRow, _ language: Language, _ clock: EventClock) -> [String: Any] {
        [
            "id": row.notificationID,
            "kind": row.kind, "channel": row.channel, "outcome": pages.word("outcome.\(row.outcome)", language),
            "failed": row.outcome == "failed",
            "attempts": row.attempts, "reason": row.reason ?? "", "at": clock.full(row.at),
        ]
    }

    func actionContext(_ action: ConsoleAction, _ language: Language) -> [String: Any] {
        [
            "id": action.id, "kind": pages.word("action.\(action.kind.rawValue)", language), "subject": action.subject,
            "account": action.account, "status": action.status.rawValue,
            "statusText": pages.word("action.\(action.status.rawValue)", language),
            "outcome": action.outcome ?? "", "pending": action.status == .sent,
        ]
    }

    // MARK: HTTP

    func language(_ request: Request) -> Language {
        if let code = request.uri.queryParameters.get("lang"), let language = Language(rawValue: code) { return language }
        if let code = request.cookies[Self.languageCookie]?.value, let language = Language(rawValue: code) { return language }
        for part in (request.headers[.acceptLanguage] ?? "").split(separator: ",") {
            let tag = part.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if tag.hasPrefix("vi") { return .vietnamese }
            if tag.hasPrefix("zh") { return .chineseSimplified }
            if tag.hasPrefix("en") { return .english }
        }
        return .english
    }

    func html(_ body: String, request: Request, status: HTTPResponse.Status = .ok) -> Response {
        var response = Response(
            status: status, headers: Self.pageHeaders(contentType: "text/html; charset=utf-8"),
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        if let code = request.uri.queryParameters.get("lang"), Language(rawValue: code) != nil {
            response.setCookie(cookie(Self.languageCookie, code, maxAge: 365 * 86400))
        }
        return response
    }

    func refusal(_ status: HTTPResponse.Status, _ key: String, request: Request) throws -> Response {
        let language = language(request)
        return html(
            try pages.render("refused", language: language, context: ["message": pages.word(key, language)]), request: request,
            status: status)
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: configuration.secureCookies, httpOnly: true, sameSite: .strict)
    }

    func asset(_ file: String) throws -> Response {
        guard file.range(of: "^[a-z0-9-]+\\.(css|js)$", options: .regularExpression) != nil,
            let data = FileManager.default.contents(atPath: "\(pages.assets)/static/\(file)")
        else { throw HTTPError(.notFound) }
        var headers = Self.pageHeaders(contentType: file.hasSuffix(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8")
        headers[.cacheControl] = "max-age=3600"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Every page's headers: no caching, and a policy that lets nothing but the console's own
    /// files run or load.
    static func pageHeaders(contentType: String) -> HTTPFields {
        var fields: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-store",
            .contentSecurityPolicy:
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ]
        fields.append(contentsOf: hardening)
        return fields
    }

    private static let hardening: [HTTPField] = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")].compactMap {
        name, value in HTTPField.Name(name).map { HTTPField(name: $0, value: value) }
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// Compares two tokens in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool { Accounts.sameBytes(Array(a.utf8), Array(b.utf8)) }
}

/// A page's template and what it shows. Only values (strings, numbers, booleans, and arrays and
/// dictionaries of them) are put in, built in a store read and rendered once after it.
struct View: @unchecked Sendable {
    let template: String
    let values: [String: Any]

    init(_ template: String, _ values: [String: Any]) {
        self.template = template
        self.values = values
    }
}

extension Optional where Wrapped == String {
    /// nil for nil or an empty field.
    var nonEmpty: String? { flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) } }
}

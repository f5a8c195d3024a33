import AMQP
import Foundation
import GRDB
import Messages
import Passes
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The organisers' console in a real browser (Debian's chromium driven by Playwright,
/// `Browser/console_browser.py`) on the seed scenario, through the four real services: log in;
/// read from the plan page who is on which bus at 14:00 on 14 January and where it is (judged
/// against the itineraries service's own plan); move a delegation to another bus and see its new
/// itinerary on its page and its e-mail arrive at the local SMTP server; a form without its CSRF
/// token refused; a marshal refused an organiser's action; the pages in the three languages. Then
/// its store is lost and rebuilt with `delegation-ops replay --to console`, and shows the same.
/// With `CONSOLE_SCREENSHOTS=DIR` the main pages are saved there (docs/console).
@Suite(.serialized) struct ConsoleBrowserTests {
    static let day = "2026-01-14"
    static let time = "14:00"

    @Test func theOrganisersRunTheSeedEventFromTheBrowser() async throws {
        try await RunningSystem.inVirtualHost("console-browser") { system, smtp, publisher, url in
            let started = Date().addingTimeInterval(-1)
            // Registrations seals a copy of each identity document to the console's key.
            let (consoleKeys, consolePrivate) = DocumentKeys.generate(id: "c-test")
            system.environment["CONSOLE_DOCUMENT_KEYS"] = consolePrivate
            system.environment["REGISTRATIONS_CONSOLE_DOCUMENT_KEY"] = consoleKeys.current?.spec
            // Passes, for the check-in page.
            let passKeys = "p-test:" + Data(repeating: 5, count: 32).base64EncodedString()
            system.environment["CONSOLE_PASS_KEYS"] = passKeys
            for service in SystemServices.all where service.name != "console" { try system.start(service.name) }
            try system.start("console", extra: ["LOG_LEVEL": "info"])
            let port = try #require(await system.httpPort("console"), "the console listens")
            let (programme, submissions) = try Self.seedScenario()
            try await Self.publish(programme, publisher)
            for submission in submissions { try await Self.publish(submission, publisher) }

            // Every accepted delegation's itinerary reached the console and the plan settled.
            let settled = await RunningSystem.settle(within: 120) {
                let shown = (try? system.read("console") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM itineraries") }) ?? 0
                let accepted =
                    (try? system.read("console") { db in
                        try Int.fetchOne(db, sql: "SELECT count(*) FROM registrations WHERE status = 'accepted'")
                    }) ?? 0
                let plans = (try? system.read("itineraries") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM plans") }) ?? 0
                return (accepted > 0 && shown == accepted && plans > 0, "\(accepted) accepted, \(shown) shown, \(plans) plans")
            }
            #expect(settled.settled, "the console caught up: \(settled.last)")

            let passwords = system.directory.appendingPathComponent("password")
            try Data("seed scenario password\n".utf8).write(to: passwords)
            for (name, role, grant) in [("mai", "organiser", []), ("tuan", "marshal", []), ("an", "marshal", ["--personal-data"])] {
                let added = try await system.command(
                    "console", ["users", "add", "--name", name, "--role", role, "--password-file", passwords.path] + grant)
                #expect(added.status == 0, "\(added.output)")
            }

            // The plan as the itineraries service keeps it: the answer the page must give.
            let plan = try Self.latestPlan(system)
            let names = Dictionary(
                uniqueKeysWithValues: submissions.map {
                    (registrationID(eventID: $0.eventID, reference: $0.reference), $0.organisation.name)
                })
            let venues = Dictionary(uniqueKeysWithValues: programme.venues.map { ($0.id, $0.name.text(in: .english)) })
            let moment = try #require(Self.moment(programme.timeZone))
            let move = try #require(Self.move(plan, submissions: submissions, programme: programme), "a delegation that can change bus")
            // A rider of one bus that day and one of another, neither the one moved: their pass codes.
            let dayTours = plan.tours.filter { $0.day == Self.day }
            let here = try #require(dayTours.first { $0.passengers.contains { $0 != move.registrationID } })
            // (the largest delegation on it, for its lead to answer for the others)
            let sizes = Dictionary(
                submissions.map { (registrationID(eventID: $0.eventID, reference: $0.reference), $0.delegates.count) },
                uniquingKeysWith: { first, _ in first })
            let rider = try #require(here.passengers.filter { $0 != move.registrationID }.max { (sizes[$0] ?? 0) < (sizes[$1] ?? 0) })
            let other = try #require(
                dayTours.lazy.filter { $0.busID != here.busID }.flatMap { $0.passengers }.first { id in
                    id != move.registrationID && !here.passengers.contains(id)
                })
            let keys = try PassKeys(spec: passKeys)
            func code(_ registrationID: String) -> String {
                Pass(eventID: programme.eventID, registrationID: registrationID, person: 1, expires: .distantFuture).shortCode(keys)
            }
            let mailsBefore = smtp.messages.count

            let out = system.directory.appendingPathComponent("browser.json")
            let screenshots = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS"]
            let run = try await TestBroker.run(
                "\(TestBroker.root)/.run/python/bin/python",
                [
                    "\(TestBroker.root)/Tests/SystemTests/Browser/console_browser.py", "--url", "http://127.0.0.1:\(port)",
                    "--organiser", "mai:seed scenario password", "--marshal", "tuan:seed scenario password",
                    "--personal-data", "an:seed scenario password", "--checkin", here.busID, Self.day, code(rider), code(other), rider,
                    "--day",
                    Self.day, "--at",
                    Self.time, "--move", move.registrationID, move.busID, Self.day, "--out", out.path,
                ] + (screenshots.map { ["--screenshots", $0] } ?? []))
            let result = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any], "the browser's report: \(run)")

            // Logged in: the overview's figures are the read model's.
            let overview = try #require(result["overview"] as? [String: String])
            #expect(Int(overview["accepted"] ?? "") == plan.accepted, "\(overview)")
            #expect(overview["parked"] == "0", "the dead-letter queues read from the broker, and nothing parked: \(overview)")

            // Who is on which bus at 14:00 on 14 January, and where it is.
            let buses = try #require(result["buses"] as? [String: [String: Any]])
            let tours = plan.tours.filter { $0.day == Self.day }
            #expect(!tours.isEmpty && Set(buses.keys) == Set(tours.map(\.busID)), "\(buses.keys.sorted())")
            for tour in tours {
                let shown = try #require(buses[tour.busID])
                let riders = Set(shown["riders"] as? [String] ?? [])
                #expect(riders == Set(tour.passengers.compactMap { names[$0] }), "\(tour.busID)'s riders")
                let position = shown["where"] as? String ?? ""
                if let stop = tour.stops.first(where: { $0.arrival <= moment && moment < $0.departure }) {
                    #expect(position.hasPrefix("at \(venues[stop.venueID] ?? "?")"), "\(tour.busID) at 14:00: \(position)")
                } else if let next = tour.stops.first(where: { $0.arrival > moment }), tour.stops.first?.arrival ?? moment < moment {
                    #expect(position.hasPrefix("driving") && position.contains(venues[next.venueID] ?? "?"), "\(tour.busID): \(position)")
                } else {
                    #expect(position.hasPrefix("not left yet") || position.hasPrefix("tour over"), "\(tour.busID): \(position)")
                }
            }
            #expect((result["timeline"] as? Int ?? 0) > 0, "the day is drawn")

            // The pages in the three languages.
            let languages = try #require(result["languages"] as? [String: [String: String]])
            #expect(languages["vi"]?["lang"] == "vi" && languages["vi"]?["nav"]?.contains("Tổng quan") == true)
            #expect(languages["zh-Hans"]?["lang"] == "zh-Hans" && languages["zh-Hans"]?["nav"]?.contains("概览") == true)
            #expect(languages["en"]?["nav"]?.contains("Overview") == true)

            // Refused: a form without its token, and a marshal's organiser action.
            #expect(result["withoutToken"] as? Int == 403)
            #expect(result["marshalOffered"] as? Int == 0)
            #expect(result["marshalRefused"] as? Int == 403)

            // Document numbers: never offered to that marshal; to the one with the personal-data
            // role, each rider's own (the seed's documents, sealed by registrations to the console).
            let numbers = submissions.flatMap { $0.delegates.compactMap { $0.identityDocument?.number } }
            #expect(!numbers.isEmpty && result["marshalDocumentColumn"] as? Int == 0)
            let marshalCells = result["marshalCells"] as? [String] ?? []
            #expect(!marshalCells.isEmpty && marshalCells.allSatisfy { cell in !numbers.contains { cell.contains($0) } })
            let riding = try system.read("console") { db in
                try String.fetchSet(db, sql: "SELECT registration_id FROM bus_visits WHERE day = ?", arguments: [Self.day])
            }
            let expected = Set(
                submissions.filter { riding.contains(registrationID(eventID: $0.eventID, reference: $0.reference)) }.flatMap { submission in
                    submission.delegates.compactMap { person in
                        person.identityDocument.map { "\(person.name): \($0.kind.rawValue) \($0.number)" }
                    }
                })
            let shownNumbers = Set(
                (result["documents"] as? [[String]] ?? []).compactMap { row -> String? in
                    guard row.count == 2, let number = row[1].split(separator: " (").first, !number.isEmpty else { return nil }
                    return "\(row[0]): \(number)"
                })
            #expect(
                !expected.isEmpty && shownNumbers == expected,
                "missing \(expected.subtracting(shownNumbers)), unexpected \(shownNumbers.subtracting(expected))")

            // Checked in on a phone that lost the network: kept offline, another bus's rider refused
            // offline, the second scan harmless; sent when the network came back, and kept once.
            let checkin = try #require(result["checkin"] as? [String: String])
            #expect(checkin["kept"]?.hasPrefix("Checked in:") == true && checkin["queuedOffline"] == "1", "\(checkin)")
            #expect(checkin["network"]?.hasPrefix("offline") == true)
            #expect(checkin["elsewhere"]?.hasPrefix("Refused") == true, "\(checkin)")
            #expect(checkin["twice"]?.hasPrefix("Checked in already") == true, "\(checkin)")
            #expect(checkin["queuedOnline"] == "0" && checkin["checked"] == "1" && checkin["checkedAfterReload"] == "1", "\(checkin)")
            let kept = try system.read("console") { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM checkins WHERE registration_id = ? AND person = 1 AND bus_id = ? AND kind = 'boarded'",
                    arguments: [rider, here.busID])
            }
            #expect(kept == 1)
            // Missing at departure, and the rest of the first rider's delegation on the lead's word.
            let size = sizes[rider] ?? 0
            #expect(size >= 2, "a delegation whose lead answers for someone")
            let missingBefore = Int(checkin["missingBefore"] ?? "") ?? -1
            #expect(checkin["missingShown"] == "yes" && missingBefore == (Int(checkin["expected"] ?? "") ?? 0) - 1, "\(checkin)")
            #expect(Int(checkin["missingAfter"] ?? "") == missingBefore - (size - 1), "\(checkin)")
            #expect(Int(checkin["checkedAfterLead"] ?? "") == size, "\(checkin)")
            let byLead = try system.read("console") { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM checkins WHERE registration_id = ? AND method = 'lead' AND bus_id = ?",
                    arguments: [rider, here.busID])
            }
            #expect(byLead == size - 1)

            // Moved: the new bus in its itinerary on its page, and its e-mail sent.
            let moved = try #require(result["move"] as? [String: [String]])
            #expect(!(moved["before"] ?? []).contains(move.busID) && (moved["after"] ?? []).contains(move.busID), "\(moved)")
            let lead = try #require(
                submissions.first { registrationID(eventID: $0.eventID, reference: $0.reference) == move.registrationID }
            )
            .leadContact.email
            #expect(
                await eventually(within: 60) {
                    smtp.messages.dropFirst(mailsBefore).contains { String(decoding: $0, as: UTF8.self).contains(lead) }
                }, "the changed itinerary's e-mail reached the lead")
            #expect((result["audit"] as? String ?? "").contains("plan.override-requested"), "the move is in the audit log")
            let refused = try system.read("console") { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM audit WHERE account = 'tuan' AND outcome LIKE 'refused%'") ?? 0
            }
            #expect(refused == 1)

            // The console's store is lost, and rebuilt from the archive: it shows the same.
            let quiet = await RunningSystem.settle(within: 30) {
                let model = (try? Self.readModel(system)) ?? []
                return (!model.isEmpty, "\(model.count) rows, \(model.joined().hashValue)")
            }
            #expect(quiet.settled, "nothing more arrives: \(quiet.last)")
            let shown = try Self.readModel(system)
            #expect(await system.stop("console") == 0)
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: system.store("console") + suffix) }
            try system.start("console")
            let replay = try ServiceProcess(
                executable: ServiceTestBed.executable("delegation-ops"),
                arguments: ["replay", "--to", "console", "--since", MessageCoding.format(started), "--idle", "3"],
                environment: ProcessInfo.processInfo.environment.merging(["DELEGATION_OPS_URL": url, "EXCHANGE": "delegation"]) { $1 },
                logFile: system.directory.appendingPathComponent("replay.log"))
            #expect(await replay.wait(within: 120) == 0, "\(replay.log)")
            let rebuilt = await eventually(within: 60) { (try? Self.readModel(system)) == shown }
            #expect(rebuilt, "the rebuilt read model: \(String(describing: try? Self.readModel(system)).prefix(500))")
        }
    }

    /// What the console's pages show, from its store: every table of the read model (not the
    /// accounts, sessions, actions and audit, which are the console's own and not in the archive).
    static func readModel(_ system: RunningSystem) throws -> [String] {
        try system.read("console") { db in
            var rows: [String] = []
            for (table, columns) in [
                ("events", "event_id, version, programme"),
                ("registrations", "registration_id, revision, status, organisation, delegates, waitlist_position, delegation, documents"),
                ("itineraries", "registration_id, plan_version, items, unmet"),
                ("bus_visits", "registration_id, bus_id, day, venue_id, arrival, departure"),
                ("history", "registration_id, message_id, at, status, revision, detail"),
                ("notifications", "notification_id, kind, outcome, attempts"), ("overrides", "override_id, outcome, reason, cost"),
                ("reoptimisations", "request_id, outcome, value_before, value_after, moved"), ("rejections", "message_id, issues"),
            ] {
                let order = (1...columns.split(separator: ",").count).map(String.init).joined(separator: ", ")
                for row in try Row.fetchAll(db, sql: "SELECT \(columns) FROM \(table) ORDER BY \(order)") {
                    rows.append("\(table): \(row)")
                }
            }
            return rows
        }
    }

    // MARK: The scenario

    /// `deploy/sample-data`, its registration deadline dropped (it may have passed).
    static func seedScenario() throws -> (ProgrammePublished, [RegistrationSubmitted]) {
        let folder = "\(TestBroker.root)/deploy/sample-data"
        var programme = try MessageCoding.decode(
            ProgrammePublished.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/programme.json")))
        programme.registrationDeadline = nil
        let submissions = try MessageCoding.decode(
            [RegistrationSubmitted].self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/registrations.json")))
        return (programme, submissions)
    }

    static func publish<T: MessagePayload>(_ payload: T, _ publisher: AMQPConnection) async throws {
        let message = try OutgoingMessage.domain(payload, exchange: "delegation", appID: "console-browser-test")
        try await publisher.publish(
            message.body, exchange: "delegation", routingKey: message.routingKey, properties: message.properties, mandatory: true)
    }

    static func moment(_ zone: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.date(from: "\(day) \(time)")
    }

    // MARK: The itineraries service's plan

    struct Tour {
        var busID: String
        var day: String
        var stops: [(venueID: String, arrival: Date, departure: Date)]
        var passengers: [String]
    }

    struct Plan {
        var tours: [Tour]
        var accepted: Int
    }

    /// The latest plan in the itineraries store, and how many registrations the console has accepted.
    static func latestPlan(_ system: RunningSystem) throws -> Plan {
        let body = try #require(
            try system.read("itineraries") { db in try String.fetchOne(db, sql: "SELECT body FROM plans ORDER BY version DESC LIMIT 1") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let tours = (json["tours"] as? [[String: Any]] ?? []).map { tour in
            Tour(
                busID: tour["busID"] as? String ?? "", day: tour["day"] as? String ?? "",
                stops: (tour["stops"] as? [[String: Any]] ?? []).compactMap { stop in
                    guard let venue = stop["venueID"] as? String, let arrival = (stop["arrival"] as? String).flatMap(MessageCoding.parse),
                        let departure = (stop["departure"] as? String).flatMap(MessageCoding.parse)
                    else { return nil }
                    return (venue, arrival, departure)
                }, passengers: tour["passengers"] as? [String] ?? [])
        }
        let accepted = try system.read("console") { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM registrations WHERE status = 'accepted'") ?? 0
        }
        return Plan(tours: tours, accepted: accepted)
    }

    /// A delegation riding a bus on the day that another bus that day has room for, whose stops
    /// need no documents, and that it rides on no day yet.
    static func move(_ plan: Plan, submissions: [RegistrationSubmitted], programme: ProgrammePublished) -> (
        registrationID: String, busID: String
    )? {
        let sizes = Dictionary(
            uniqueKeysWithValues: submissions.map { (registrationID(eventID: $0.eventID, reference: $0.reference), $0.delegates.count) })
        let seats = Dictionary(uniqueKeysWithValues: programme.buses.map { ($0.id, $0.seats) })
        let restricted = Set(programme.venues.filter { $0.restrictedAccess != nil }.map(\.id))
        let tours = plan.tours.filter { $0.day == day }
        for target in tours where !target.stops.contains(where: { restricted.contains($0.venueID) }) {
            let room = (seats[target.busID] ?? 0) - target.passengers.reduce(0) { $0 + (sizes[$1] ?? 0) }
            for source in tours where source.busID != target.busID {
                let riders = source.passengers.sorted { (sizes[$0] ?? 0, $0) < (sizes[$1] ?? 0, $1) }
                if let rider = riders.first(where: { id in
                    (sizes[id] ?? 99) <= room && !plan.tours.contains { $0.busID == target.busID && $0.passengers.contains(id) }
                }) {
                    return (rider, target.busID)
                }
            }
        }
        return nil
    }
}

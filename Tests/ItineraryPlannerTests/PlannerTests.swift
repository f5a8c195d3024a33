import Foundation
import ItineraryPlanner
import Messages
import TestSupport
import Testing

/// Small instances built to tempt each hard constraint.
enum Instance {
    static let eventID = "test-event"

    static func venue(
        _ id: String, capacity: Int = 40, minutes: Int = 60, topics: [String] = [], day: Int = 13, from: Int = 13, to: Int = 17,
        restricted: RestrictedAccess? = nil, latitude: Double = 16.06, longitude: Double = 108.22
    ) -> Venue {
        Venue(
            id: id, name: LocalizedText(en: id), address: "\(id) street",
            coordinates: Coordinates(latitude: latitude, longitude: longitude),
            openingWindows: [TimeWindow(start: Samples.danang(day: day, from), end: Samples.danang(day: day, to))], visitMinutes: minutes,
            capacityPerVisit: capacity, topics: topics, restrictedAccess: restricted)
    }

    static let hall = Venue(
        id: "hall", name: LocalizedText(en: "Hall"), address: "hall", coordinates: Coordinates(latitude: 16.06, longitude: 108.22),
        openingWindows: [],
        visitMinutes: 0, capacityPerVisit: 500, topics: [], isSiteVisit: false)

    static func programme(
        venues: [Venue], buses: [Bus] = [Bus(id: "bus-1", seats: 45)], matrix: [TravelTime] = [], interpreters: [Interpreter] = [],
        slots: [MeetingSlot] = [], days: [String] = ["2026-01-13"], sessions: [FixedSession]? = nil, version: Int = 1
    ) -> ProgrammePublished {
        ProgrammePublished(
            eventID: eventID, version: version, name: LocalizedText(en: "Test"), timeZone: "Asia/Ho_Chi_Minh", days: days,
            capacity: EventCapacity(organisations: 100, delegates: 1000),
            sessions: sessions ?? [
                FixedSession(
                    id: "networking", title: LocalizedText(en: "Networking"), venueID: "hall", start: Samples.danang(9),
                    end: Samples.danang(11))
            ],
            venues: [hall] + venues, buses: buses, travel: TravelTimes(matrix: matrix), interpreters: interpreters, meetingSlots: slots,
            publishedAt: Samples.danang(day: 1, 9))
    }

    static func delegation(
        _ id: String, size: Int = 3, prefers: [String] = [], interests: [String] = [], sectors: [String] = [],
        role: DelegationRole = .visiting,
        languages: [Language] = [], documents: IdentityDocument.Kind? = .passport, given: Date = Samples.danang(day: 5, 9)
    ) -> PlanningDelegation {
        PlanningDelegation(
            id: id, name: id, role: role, size: size, interpreterLanguages: languages, interests: interests, sectors: sectors,
            preferredVisits: prefers, documentKinds: Array(repeating: documents, count: size), documentsGivenAt: given)
    }
}

extension Planner {
    /// The planner as production makes it, without the wall-clock cap: a test's plan depends on
    /// its budget of iterations only, never on how busy the machine is.
    static var untimed: Planner {
        var planner = Planner()
        planner.searchTimeLimit = nil
        return planner
    }
}

@Suite struct PlannerTests {
    let planner = Planner.untimed
    let checker = PlanChecker()

    func planAndCheck(_ input: PlanningInput, previous: Plan? = nil) -> Plan {
        let plan = planner.plan(input, previous: previous)
        let violations = checker.violations(of: plan, for: input)
        #expect(violations.isEmpty, "hard constraints broken: \(violations)")
        return plan
    }

    @Test func seatsAreNeverExceededEvenWhenEveryoneWantsTheSameVisit() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", capacity: 200)], buses: [Bus(id: "small", seats: 10), Bus(id: "big", seats: 12)]),
            delegations: (0..<10).map { Instance.delegation("d\($0)", size: 4, prefers: ["a"]) })
        let plan = planAndCheck(input)
        let carried = plan.tours.flatMap(\.passengers)
        #expect(carried.count == 5, "2 + 3 delegations of 4 fit on 10 + 12 seats")
        #expect(plan.unmet.values.flatMap { $0 }.allSatisfy { $0.reason == .full })
        #expect(plan.unmet.count == 5)
    }

    @Test func aVenueNeverTakesMoreThanItsCapacityPerVisitNorTwoGroupsAtOnce() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("port", capacity: 10, minutes: 60, from: 13, to: 16)],
                buses: [Bus(id: "b1", seats: 45), Bus(id: "b2", seats: 45), Bus(id: "b3", seats: 45)]),
            delegations: (0..<9).map { Instance.delegation("d\($0)", size: 5, prefers: ["port"]) })
        let plan = planAndCheck(input)
        let visits = plan.tours.flatMap { tour in tour.stops.filter { $0.venueID == "port" }.map { (tour, $0) } }
        #expect(visits.count == 3, "three one-hour groups fit between 13:00 and 16:00")
        for (tour, _) in visits { #expect(tour.passengers.count <= 2, "two delegations of 5 fill a group of 10") }
    }

    @Test func visitsStayInsideOpeningWindowsAndAllowForTravel() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("near", minutes: 60, from: 13, to: 15), Instance.venue("far", minutes: 60, from: 13, to: 15)],
                matrix: [
                    TravelTime(from: "near", to: "far", minutes: 90), TravelTime(from: "hall", to: "near", minutes: 10),
                    TravelTime(from: "hall", to: "far", minutes: 10),
                ]),
            delegations: [Instance.delegation("d1", prefers: ["near", "far"])])
        let plan = planAndCheck(input)
        #expect(plan.tours.first?.stops.count == 1, "the 90-minute drive leaves no time for the second visit before 15:00")
        #expect(plan.unmet["d1"]?.map(\.reason) == [.clash])
    }

    @Test func restrictedVenuesAdmitOnlyDelegationsWithDocumentsBeforeTheDeadline() {
        let access = RestrictedAccess(documents: [.passport], deadline: Samples.danang(day: 9, 17))
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("port", restricted: access), Instance.venue("park")],
                buses: [Bus(id: "b1", seats: 45), Bus(id: "b2", seats: 45)]),
            delegations: [
                Instance.delegation("ready", prefers: ["port"]),
                Instance.delegation("no-papers", prefers: ["port", "park"], documents: nil),
                Instance.delegation("late", prefers: ["port"], given: Samples.danang(day: 10, 9)),
                Instance.delegation("wrong-kind", prefers: ["port"], documents: .nationalID),
            ])
        let plan = planAndCheck(input)
        let portGoers = plan.tours.filter { $0.stops.contains { $0.venueID == "port" } }.flatMap(\.passengers)
        #expect(portGoers == ["ready"])
        for id in ["no-papers", "late", "wrong-kind"] {
            #expect(plan.unmet[id]?.first { $0.venueID == "port" }?.reason == .documentsMissing)
        }
        #expect(plan.tour(of: "no-papers", on: "2026-01-13")?.stops.map(\.venueID) == ["park"], "still gets the visit it may make")
    }

    @Test func toursNeverOverlapTheFixedSessionsOrMeetingSlots() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", from: 8, to: 17), Instance.venue("b", from: 8, to: 17)],
                slots: [MeetingSlot(id: "s1", venueID: "hall", start: Samples.danang(11), end: Samples.danang(12), tables: 5)]),
            delegations: [Instance.delegation("d1", prefers: ["a", "b"])])
        let plan = planAndCheck(input)
        let stops = plan.tours.flatMap(\.stops)
        #expect(!stops.isEmpty)
        #expect(stops.allSatisfy { $0.arrival >= Samples.danang(12) })
    }

    @Test func aDelegationIsInOnePlacePerDayAndDoesNotRepeatAVisitOnTheNextDay() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", day: 13), Instance.venue("a2", day: 13), Instance.venue("b", day: 14, from: 9, to: 12)],
                buses: [Bus(id: "b1", seats: 10), Bus(id: "b2", seats: 10)], days: ["2026-01-13", "2026-01-14"]),
            delegations: (0..<6).map { Instance.delegation("d\($0)", size: 3, prefers: ["a", "b", "a2"]) })
        let plan = planAndCheck(input)
        for day in ["2026-01-13", "2026-01-14"] {
            let riders = plan.tours.filter { $0.day == day }.flatMap(\.passengers)
            #expect(riders.count == Set(riders).count)
        }
    }

    @Test func interpretersGoWhereTheirLanguageIsNeededOneTourAtATime() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", topics: ["ai"]), Instance.venue("b", topics: ["logistics"])],
                buses: [Bus(id: "b1", seats: 6), Bus(id: "b2", seats: 6)],
                interpreters: [Interpreter(id: "int-zh", languages: [.chineseSimplified, .vietnamese])]),
            delegations: [
                Instance.delegation("zh", size: 6, prefers: ["a"], languages: [.chineseSimplified]),
                Instance.delegation("en", size: 6, prefers: ["b"], languages: [.english]),
            ])
        let plan = planAndCheck(input)
        #expect(plan.tour(of: "zh", on: "2026-01-13")?.interpreterID == "int-zh")
        #expect(plan.tour(of: "en", on: "2026-01-13")?.interpreterID == nil, "nobody speaks English among the interpreters")
        #expect(checker.score(of: plan, for: input).interpreterCovered == 1)
    }

    @Test func meetingsPairMutualInterestFirstAndNeverForceStrangersTogether() {
        let slots = [
            MeetingSlot(id: "s1", venueID: "hall", start: Samples.danang(11), end: Samples.danang(11, 30), tables: 1),
            MeetingSlot(id: "s2", venueID: "hall", start: Samples.danang(11, 30), end: Samples.danang(12), tables: 1),
        ]
        let input = PlanningInput(
            programme: Instance.programme(venues: [Instance.venue("a")], slots: slots),
            delegations: [
                Instance.delegation("v-mutual", interests: ["logistics"], sectors: ["e-commerce"]),
                Instance.delegation("v-one-sided", interests: ["logistics"], sectors: ["toys"]),
                Instance.delegation("v-stranger", interests: ["fishing"], sectors: ["fishing"]),
                Instance.delegation("h-logistics", interests: ["e-commerce"], sectors: ["logistics"], role: .host),
            ])
        let plan = planAndCheck(input)
        #expect(plan.meetings.count == 2)
        #expect(plan.meetings.first { $0.slotID == "s1" }?.visitorID == "v-mutual")
        #expect(plan.meetings.first { $0.slotID == "s1" }?.mutual == true)
        #expect(plan.meetings.first { $0.slotID == "s2" }?.visitorID == "v-one-sided")
        #expect(!plan.meetings.contains { $0.visitorID == "v-stranger" })
    }

    @Test func theSameInputGivesTheSamePlan() {
        let input = PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", topics: ["ai"]), Instance.venue("b", topics: ["logistics"]), Instance.venue("c")],
                buses: [Bus(id: "b1", seats: 20), Bus(id: "b2", seats: 20)]),
            delegations: (0..<12).map {
                Instance.delegation(
                    "d\($0)", size: 1 + $0 % 4, prefers: [["a", "b"], ["b", "c"], ["c"]][$0 % 3],
                    interests: $0 % 2 == 0 ? ["ai"] : ["logistics"])
            })
        let first = planAndCheck(input)
        let shuffled = PlanningInput(programme: input.programme, delegations: input.delegations.reversed())
        #expect(planner.plan(shuffled) == first)
    }

    @Test func oneCancellationMovesOnlyWhatItMust() {
        let programme = Instance.programme(
            venues: [
                Instance.venue("a", topics: ["ai"]), Instance.venue("b", topics: ["logistics"]), Instance.venue("c", topics: ["trade"]),
            ],
            buses: [Bus(id: "b1", seats: 15), Bus(id: "b2", seats: 15), Bus(id: "b3", seats: 15)])
        let delegations = (0..<12).map { Instance.delegation("d\($0)", size: 3, prefers: [["a", "b"], ["b", "c"], ["c", "a"]][$0 % 3]) }
        let before = planAndCheck(PlanningInput(programme: programme, delegations: delegations))
        let gone = try? #require(before.tours.first?.passengers.first)
        let after = planAndCheck(PlanningInput(programme: programme, delegations: delegations.filter { $0.id != gone }), previous: before)
        for delegation in delegations where delegation.id != gone {
            let old = before.tour(of: delegation.id, on: "2026-01-13")
            let new = after.tour(of: delegation.id, on: "2026-01-13")
            #expect(old?.busID == new?.busID && old?.stops == new?.stops, "\(delegation.id) moved")
        }
        #expect(after.tour(of: gone ?? "", on: "2026-01-13") == nil)
    }

    @Test func thoseWhoWillNotComeFreeTheirSeatsForThatDayWithoutMovingAnyone() {
        let programme = Instance.programme(
            venues: [Instance.venue("a", topics: ["ai"]), Instance.venue("b", topics: ["ai"], day: 14)], buses: [Bus(id: "b1", seats: 6)],
            days: ["2026-01-13", "2026-01-14"])
        // d0 and d1 fill the bus (they share the venues' topic); d2 has no tour.
        var delegations = [
            Instance.delegation("d0", size: 4, prefers: ["a", "b"], interests: ["ai"]),
            Instance.delegation("d1", size: 2, prefers: ["a", "b"], interests: ["ai"]),
            Instance.delegation("d2", size: 2, prefers: ["a", "b"]),
        ]
        let before = planAndCheck(PlanningInput(programme: programme, delegations: delegations))
        #expect(before.tour(of: "d0", on: "2026-01-13")?.passengers == ["d0", "d1"])
        #expect(before.tour(of: "d2", on: "2026-01-13") == nil)
        // Two of d0's will not come on the 13th: d2 takes their seats that day only.
        delegations[0].absent = ["2026-01-13": [2, 4, 4, 9]]
        #expect(delegations[0].on("2026-01-13").size == 2 && delegations[0].on("2026-01-14").size == 4, "places, once, in the delegation")
        let after = planAndCheck(PlanningInput(programme: programme, delegations: delegations), previous: before)
        #expect(after.tour(of: "d2", on: "2026-01-13")?.passengers == ["d0", "d1", "d2"])
        #expect(after.tour(of: "d2", on: "2026-01-14") == nil)
        for day in ["2026-01-13", "2026-01-14"] {
            #expect(after.tour(of: "d0", on: day)?.stops == before.tour(of: "d0", on: day)?.stops, "nobody moves")
        }
        // Counted in full, the bus would be over its seats: the absence is what makes room.
        let counted = PlanningInput(
            programme: programme,
            delegations: delegations.map {
                var d = $0
                d.absent = nil
                return d
            })
        #expect(checker.violations(of: after, for: counted).contains { $0.rule == "seats" })
        // All of a delegation away that day: no place on the tour.
        delegations[1].absent = ["2026-01-13": [1, 2]]
        let without = planAndCheck(PlanningInput(programme: programme, delegations: delegations), previous: after)
        #expect(without.tour(of: "d1", on: "2026-01-13") == nil && without.tour(of: "d1", on: "2026-01-14") != nil)
    }

    @Test func aNewcomerJoinsWithoutMovingAnyoneElse() {
        let programme = Instance.programme(
            venues: [Instance.venue("a"), Instance.venue("b")], buses: [Bus(id: "b1", seats: 20), Bus(id: "b2", seats: 20)])
        let delegations = (0..<6).map { Instance.delegation("d\($0)", size: 3, prefers: [$0 % 2 == 0 ? "a" : "b"]) }
        let before = planAndCheck(PlanningInput(programme: programme, delegations: delegations))
        let after = planAndCheck(
            PlanningInput(programme: programme, delegations: delegations + [Instance.delegation("new", size: 2, prefers: ["a"])]),
            previous: before)
        for delegation in delegations {
            #expect(
                before.tour(of: delegation.id, on: "2026-01-13")
                    == after.tour(of: delegation.id, on: "2026-01-13").map { tour in
                        var original = tour
                        original.passengers.removeAll { $0 == "new" }
                        return original
                    })
        }
        #expect(after.tour(of: "new", on: "2026-01-13")?.stops.contains { $0.venueID == "a" } == true)
    }

    @Test func theCheckerCatchesABrokenPlan() {
        let input = PlanningInput(
            programme: Instance.programme(venues: [Instance.venue("a", capacity: 5, from: 13, to: 14)], buses: [Bus(id: "b1", seats: 4)]),
            delegations: [Instance.delegation("d1", size: 6, prefers: ["a"]), Instance.delegation("h", role: .host)])
        let broken = Plan(
            eventID: Instance.eventID, programmeVersion: 1,
            tours: [
                Tour(
                    busID: "b1", day: "2026-01-13", departure: Samples.danang(13),
                    stops: [Stop(venueID: "a", arrival: Samples.danang(13, 30), departure: Samples.danang(14, 30))],
                    passengers: ["d1", "h"])
            ],
            meetings: [Meeting(slotID: "nope", table: 1, visitorID: "d1", hostID: "h", mutual: false)], unmet: [:])
        let rules = Set(checker.violations(of: broken, for: input).map(\.rule))
        #expect(rules.isSuperset(of: ["seats", "venue-capacity", "closed", "host-on-tour", "unknown-slot"]), "\(rules)")
    }
}

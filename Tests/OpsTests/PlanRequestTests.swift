import AMQP
import Foundation
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import OpsCore

/// `delegation-ops plan`: the requests built from the options (every kind, withdrawing, what is
/// refused before anything is sent), then the command line, and its `--wait` on a broker.
@Suite struct PlanRequestTests {
    static let now = Date(timeIntervalSince1970: 1_768_280_400)  // 2026-01-13T05:00:00Z

    static func options(_ id: String = "vip", _ adjust: (inout PlanRequests.OverrideOptions) -> Void) -> PlanRequests.OverrideOptions {
        var options = PlanRequests.OverrideOptions(eventID: "danang-2026", overrideID: id)
        options.requestedBy = "ops-oncall"
        adjust(&options)
        return options
    }

    /// The `OpsError.usage` message building `options` throws, or nil if it builds.
    static func refusal(_ options: PlanRequests.OverrideOptions) -> String? {
        do {
            _ = try PlanRequests.override(options, requestedAt: now)
            return nil
        } catch let error as OpsError {
            guard case .usage(let text) = error else { return "not a usage error: \(error)" }
            return text
        } catch {
            return "unexpected \(error)"
        }
    }

    // MARK: Overrides

    @Test func aPinNamesTheDelegationTheBusAndTheDay() throws {
        let request = try PlanRequests.override(
            Self.options {
                $0.pin = true
                $0.reference = "CN-0042"
                $0.busID = "bus-1"
                $0.day = "2026-01-13"
                $0.reason = "travels with the minister"
            }, requestedAt: Self.now)
        #expect(
            request
                == PlanOverrideRequested(
                    eventID: "danang-2026", overrideID: "vip", kind: .pin, reference: "CN-0042", busID: "bus-1", day: "2026-01-13",
                    reason: "travels with the minister", requestedBy: "ops-oncall", requestedAt: Self.now))
        // As the itineraries service reads it.
        let body = try MessageCoding.encode(request)
        #expect(try MessageCoding.decode(PlanOverrideRequested.self, from: body) == request)
        let json = try PlanRequests.json(request)
        #expect(json.contains(#""kind" : "pin""#) && json.contains(#""requestedAt" : "2026-01-13T05:00:00Z""#), "\(json)")
    }

    @Test func aVisitIsRequiredOrForbiddenForADelegationAtAVenue() throws {
        for (kind, set) in [
            (PlanOverrideRequested.Kind.requireVisit, { (o: inout PlanRequests.OverrideOptions) in o.requireVisit = true }),
            (.forbidVisit, { (o: inout PlanRequests.OverrideOptions) in o.forbidVisit = true }),
        ] {
            let request = try PlanRequests.override(
                Self.options {
                    set(&$0)
                    $0.reference = "CN-0007"
                    $0.venueID = "hoa-khanh-park"
                }, requestedAt: Self.now)
            #expect(request.kind == kind && !request.withdraw)
            #expect(request.reference == "CN-0007" && request.venueID == "hoa-khanh-park")
            #expect(request.busID == nil && request.day == nil && request.seats == nil)
        }
    }

    @Test func aTourIsLockedByBusAndDay() throws {
        let request = try PlanRequests.override(
            Self.options {
                $0.lockTour = true
                $0.busID = "bus-2"
                $0.day = "2026-01-14"
            }, requestedAt: Self.now)
        #expect(request.kind == .lockTour && request.busID == "bus-2" && request.day == "2026-01-14" && request.reference == nil)
    }

    @Test func seatsAreReservedOnOneDayOrEveryDay() throws {
        let oneDay = try PlanRequests.override(
            Self.options {
                $0.reserveSeats = 4
                $0.busID = "bus-3"
                $0.day = "2026-01-13"
            }, requestedAt: Self.now)
        #expect(oneDay.kind == .reserveSeats && oneDay.seats == 4 && oneDay.busID == "bus-3" && oneDay.day == "2026-01-13")
        let everyDay = try PlanRequests.override(
            Self.options {
                $0.reserveSeats = 2
                $0.busID = "bus-3"
            }, requestedAt: Self.now)
        #expect(everyDay.kind == .reserveSeats && everyDay.seats == 2 && everyDay.day == nil)
    }

    @Test func aWithdrawalNamesOnlyTheOverride() throws {
        let request = try PlanRequests.override(
            Self.options {
                $0.withdraw = true
                $0.reason = "the minister cancelled"
            }, requestedAt: Self.now)
        #expect(
            request
                == PlanOverrideRequested(
                    eventID: "danang-2026", overrideID: "vip", kind: nil, withdraw: true, reason: "the minister cancelled",
                    requestedBy: "ops-oncall", requestedAt: Self.now))
        #expect(try PlanRequests.json(request).contains(#""withdraw" : true"#))
    }

    @Test func valuesAreTrimmed() throws {
        let request = try PlanRequests.override(
            Self.options(" vip ") {
                $0.eventID = " danang-2026\n"
                $0.lockTour = true
                $0.busID = " bus-2"
                $0.day = "2026-01-14 "
            }, requestedAt: Self.now)
        #expect(request.eventID == "danang-2026" && request.overrideID == "vip" && request.busID == "bus-2" && request.day == "2026-01-14")
    }

    @Test func whatIsMissingOrDoesNotGoTogetherIsSaidAndNothingIsBuilt() {
        let cases: [(PlanRequests.OverrideOptions, String)] = [
            (
                Self.options { _ in },
                "say what the planner must keep: one of --pin, --require-visit, --forbid-visit, --lock-tour, --reserve-seats"
            ),
            (
                Self.options {
                    $0.pin = true
                    $0.lockTour = true
                    $0.busID = "bus-1"
                    $0.day = "2026-01-13"
                }, "--pin and --lock-tour cannot be combined"
            ),
            (
                Self.options {
                    $0.requireVisit = true
                    $0.forbidVisit = true
                    $0.reserveSeats = 2
                }, "--require-visit, --forbid-visit and --reserve-seats cannot be combined"
            ),
            (
                Self.options {
                    $0.pin = true
                    $0.reference = "CN-0042"
                }, "--pin needs --reference, --bus and --day: --bus and --day are missing"
            ),
            (
                Self.options {
                    $0.requireVisit = true
                    $0.reference = "CN-0042"
                }, "--require-visit needs --reference and --venue: --venue is missing"
            ),
            (
                Self.options {
                    $0.forbidVisit = true
                    $0.venueID = "marble-mountains"
                }, "--forbid-visit needs --reference and --venue: --reference is missing"
            ),
            (Self.options { $0.lockTour = true }, "--lock-tour needs --bus and --day: --bus and --day are missing"),
            (Self.options { $0.reserveSeats = 3 }, "--reserve-seats needs --bus: --bus is missing"),
            (
                Self.options {
                    $0.lockTour = true
                    $0.busID = "bus-1"
                    $0.day = "2026-01-13"
                    $0.reference = "CN-0042"
                }, "--lock-tour takes --bus and --day, not --reference"
            ),
            (
                Self.options {
                    $0.reserveSeats = 3
                    $0.busID = "bus-1"
                    $0.venueID = "marble-mountains"
                }, "--reserve-seats takes --bus and --day, not --venue"
            ),
            (
                Self.options {
                    $0.forbidVisit = true
                    $0.reference = "CN-0042"
                    $0.venueID = "marble-mountains"
                    $0.day = "2026-01-13"
                }, "--forbid-visit takes --reference and --venue, not --day"
            ),
            (
                Self.options {
                    $0.withdraw = true
                    $0.pin = true
                    $0.busID = "bus-1"
                }, "not with --pin and --bus"
            ),
            (
                Self.options {
                    $0.withdraw = true
                    $0.reserveSeats = 1
                }, "--withdraw takes the override 'vip' back as a whole"
            ),
            (
                Self.options {
                    $0.pin = true
                    $0.reference = "CN-0042"
                    $0.busID = "bus-1"
                    $0.day = "13/01/2026"
                }, "--day '13/01/2026' is not a date: give YYYY-MM-DD"
            ),
            (
                Self.options {
                    $0.lockTour = true
                    $0.busID = "bus-1"
                    $0.day = "2026-02-30"
                }, "--day '2026-02-30' is not a date"
            ),
            (
                Self.options {
                    $0.reserveSeats = 0
                    $0.busID = "bus-1"
                }, "--reserve-seats takes the number of seats to keep free, 1 or more (not 0)"
            ),
            (
                Self.options("  ") {
                    $0.withdraw = true
                }, "--id must not be empty"
            ),
            (
                Self.options {
                    $0.eventID = ""
                    $0.withdraw = true
                }, "--event must not be empty"
            ),
            (
                Self.options {
                    $0.pin = true
                    $0.reference = ""
                    $0.busID = "bus-1"
                    $0.day = "2026-01-13"
                }, "--reference must not be empty"
            ),
        ]
        for (options, expected) in cases {
            let refusal = Self.refusal(options)
            #expect(refusal?.contains(expected) == true, "\(options): \(refusal ?? "built")")
        }
    }

    @Test func daysAreCalendarDates() {
        #expect(PlanRequests.isDay("2026-01-13") && PlanRequests.isDay("2028-02-29"))
        for text in ["2026-1-13", "2026-13-01", "2027-02-29", "2026-01-13T00:00", "２０２６-01-13", "2026-01-00", "20260113", ""] {
            #expect(!PlanRequests.isDay(text), "\(text)")
        }
    }

    // MARK: Re-optimisation

    @Test func aPreviewGetsAFreshRequestIDUnlessOneIsGiven() throws {
        let first = try PlanRequests.reoptimise(eventID: "danang-2026", requestedBy: "ops-oncall", requestedAt: Self.now)
        let second = try PlanRequests.reoptimise(eventID: "danang-2026", requestedAt: Self.now)
        #expect(
            first.requestID.hasPrefix("reoptimise-20260113T050000Z-") && first.requestID.count == "reoptimise-20260113T050000Z-".count + 8)
        #expect(first.requestID != second.requestID)
        #expect(first.applyPreview == nil && first.requestedBy == "ops-oncall" && first.requestedAt == Self.now)
        let named = try PlanRequests.reoptimise(eventID: "danang-2026", requestID: "before-gala", requestedAt: Self.now)
        #expect(named == PlanReoptimiseRequested(eventID: "danang-2026", requestID: "before-gala", requestedAt: Self.now))
    }

    @Test func anApplicationNamesThePreview() throws {
        let request = try PlanRequests.reoptimise(
            eventID: "danang-2026", requestID: "apply-1", applyPreview: "before-gala", requestedAt: Self.now)
        #expect(request.applyPreview == "before-gala" && request.requestID == "apply-1")
        let body = try MessageCoding.encode(request)
        #expect(try MessageCoding.decode(PlanReoptimiseRequested.self, from: body) == request)

        #expect(throws: OpsError.self) { try PlanRequests.reoptimise(eventID: "danang-2026", applyPreview: " ", requestedAt: Self.now) }
        #expect(throws: OpsError.self) { try PlanRequests.reoptimise(eventID: "", requestedAt: Self.now) }
        do {
            _ = try PlanRequests.reoptimise(eventID: "danang-2026", requestID: "p1", applyPreview: "p1", requestedAt: Self.now)
            Issue.record("a request that applies itself was built")
        } catch let error as OpsError {
            #expect(error.exitCode == 64 && "\(error)".contains("cannot be the same"), "\(error)")
        }
    }

    @Test func answersAreMatchedToTheirRequest() throws {
        let override = try PlanRequests.override(
            Self.options {
                $0.lockTour = true
                $0.busID = "bus-2"
                $0.day = "2026-01-14"
            }, requestedAt: Self.now)
        let decided = PlanOverrideDecided(eventID: "danang-2026", overrideID: "vip", outcome: .applied, cost: 3, decidedAt: Self.now)
        #expect(PlanRequests.answers(decided, override))
        var other = decided
        other.overrideID = "other"
        #expect(!PlanRequests.answers(other, override))
        other = decided
        other.eventID = "hanoi-2026"
        #expect(!PlanRequests.answers(other, override))

        let preview = try PlanRequests.reoptimise(eventID: "danang-2026", requestID: "p1", requestedAt: Self.now)
        let apply = try PlanRequests.reoptimise(eventID: "danang-2026", requestID: "a1", applyPreview: "p1", requestedAt: Self.now)
        func answer(_ id: String, _ outcome: PlanReoptimised.Outcome) -> PlanReoptimised {
            PlanReoptimised(
                eventID: "danang-2026", requestID: id, outcome: outcome, valueBefore: 10, valueAfter: 12, moved: ["CN-1"],
                decidedAt: Self.now)
        }
        #expect(PlanRequests.answers(answer("p1", .previewed), preview))
        #expect(!PlanRequests.answers(answer("p2", .previewed), preview))
        #expect(PlanRequests.answers(answer("a1", .applied), apply))
        #expect(PlanRequests.answers(answer("p1", .applied), apply), "an answer naming the preview, applied")
        #expect(!PlanRequests.answers(answer("p1", .previewed), apply), "the preview's own answer is not the application's")
    }

    // MARK: The command line

    @Test func aDryRunPrintsTheMessageAndSendsNothing() async throws {
        // No broker is needed: the URL leads nowhere.
        let nowhere = ["DELEGATION_OPS_URL": "amqp://guest:guest@127.0.0.1:1/"]
        let pin = try await OpsTool.run(
            [
                "plan", "override", "--event", "danang-2026", "--id", "vip", "--pin", "--reference", "CN-0042", "--bus", "bus-1", "--day",
                "2026-01-13", "--requested-by", "ops-oncall", "--dry-run",
            ], environment: nowhere)
        #expect(pin.status == 0, "\(pin.output)")
        #expect(pin.output.contains(#""kind" : "pin""#) && pin.output.contains(#""requestedBy" : "ops-oncall""#), "\(pin.output)")
        #expect(pin.output.contains("nothing sent (--dry-run)"))

        let preview = try await OpsTool.run(["plan", "reoptimise", "--event", "danang-2026", "--dry-run"], environment: nowhere)
        #expect(preview.status == 0, "\(preview.output)")
        #expect(preview.output.contains("request id: reoptimise-") && preview.output.contains(#""requestedBy" : "#), "\(preview.output)")

        let wrong = try await OpsTool.run(
            ["plan", "override", "--event", "danang-2026", "--id", "vip", "--pin", "--reference", "CN-0042", "--dry-run"],
            environment: nowhere)
        #expect(wrong.status == 64 && wrong.output.contains("--pin needs --reference, --bus and --day"), "\(wrong.output)")
        let noID = try await OpsTool.run(["plan", "override", "--event", "danang-2026", "--withdraw"], environment: nowhere)
        #expect(noID.status == 64 && noID.output.contains("--id"), "\(noID.output)")
        let badWait = try await OpsTool.run(["plan", "reoptimise", "--event", "danang-2026", "--wait", "0"], environment: nowhere)
        #expect(badWait.status == 64, "\(badWait.output)")
    }

    /// On a virtual host of its own: the request is published to the domain exchange (the
    /// archive keeps it) and `--wait` prints the answer that the test gives as the itineraries
    /// service would, skipping answers to other requests.
    @Test func theRequestIsPublishedAndWaitPrintsItsAnswer() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let applied = try await OpsToolTests.ops(vhost, ["topology", "apply"])
            #expect(applied.status == 0, "\(applied.output)")
            let connection = try await TestBroker.connect(vhost: vhost)
            let archive = Collector(
                try await connection.consume(queue: "delegation.archive", prefetch: 100, arguments: ["x-stream-offset": .string("first")]),
                autoAck: true)
            func requests<T: MessagePayload>(_ type: T.Type) -> [T] {
                archive.deliveries.filter { $0.properties.type == T.messageType.rawValue }.compactMap {
                    try? MessageCoding.decode(T.self, from: $0.body)
                }
            }
            func answer<T: MessagePayload>(_ payload: T) async throws {
                let message = try OutgoingMessage.domain(payload, exchange: "delegation", appID: "itineraries")
                try await connection.publish(
                    message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties,
                    mandatory: true)
            }

            // Without --wait: sent, and the answer to expect is named.
            let sent = try await OpsToolTests.ops(
                vhost, ["plan", "override", "--event", "danang-2026", "--id", "seats", "--reserve-seats", "4", "--bus", "bus-3"])
            #expect(sent.status == 0, "\(sent.output)")
            #expect(sent.output.contains("confirmed 1 of 1 plan.override-requested") && sent.output.contains("plan.override-decided"))
            _ = await eventually(within: 10) { !requests(PlanOverrideRequested.self).isEmpty }
            let seats = try #require(requests(PlanOverrideRequested.self).first)
            #expect(seats.kind == .reserveSeats && seats.seats == 4 && seats.busID == "bus-3" && seats.requestedAt != nil)

            // A refusal: exit 1 with the reason.
            async let refused = OpsToolTests.ops(
                vhost,
                [
                    "plan", "override", "--event", "danang-2026", "--id", "vip", "--pin", "--reference", "CN-0042", "--bus", "bus-9",
                    "--day", "2026-01-13", "--wait", "30",
                ])
            _ = await eventually(within: 20) { requests(PlanOverrideRequested.self).contains { $0.overrideID == "vip" } }
            try await answer(
                PlanOverrideDecided(eventID: "danang-2026", overrideID: "seats", outcome: .applied, cost: 0, decidedAt: Date()))
            try await answer(
                PlanOverrideDecided(
                    eventID: "danang-2026", overrideID: "vip", outcome: .refused, reason: "the programme has no bus 'bus-9'",
                    decidedAt: Date()))
            let refusal = try await refused
            #expect(refusal.status == 1, "\(refusal.output)")
            #expect(
                refusal.output.contains("override 'vip' refused: the programme has no bus 'bus-9'; nothing of it applies"),
                "\(refusal.output)")

            // A preview, then its application.
            async let previewed = OpsToolTests.ops(vhost, ["plan", "reoptimise", "--event", "danang-2026", "--id", "p1", "--wait", "30"])
            _ = await eventually(within: 20) { requests(PlanReoptimiseRequested.self).contains { $0.requestID == "p1" } }
            try await answer(
                PlanReoptimised(
                    eventID: "danang-2026", requestID: "p1", outcome: .previewed, valueBefore: 800, valueAfter: 833.5,
                    moved: ["CN-0001", "CN-0002"], basedOnVersion: 6, decidedAt: Date()))
            let preview = try await previewed
            #expect(preview.status == 0, "\(preview.output)")
            #expect(
                preview.output.contains("visit value 800 → 833.5 (+33.5); 2 registration(s) would move: CN-0001 CN-0002"),
                "\(preview.output)")
            #expect(preview.output.contains("delegation-ops plan reoptimise --event danang-2026 --apply p1"))

            async let applying = OpsToolTests.ops(
                vhost, ["plan", "reoptimise", "--event", "danang-2026", "--id", "a1", "--apply", "p1", "--wait", "30"])
            _ = await eventually(within: 20) { requests(PlanReoptimiseRequested.self).contains { $0.requestID == "a1" } }
            #expect(requests(PlanReoptimiseRequested.self).first { $0.requestID == "a1" }?.applyPreview == "p1")
            try await answer(
                PlanReoptimised(
                    eventID: "danang-2026", requestID: "a1", outcome: .applied, valueBefore: 800, valueAfter: 833.5,
                    moved: ["CN-0001", "CN-0002"], basedOnVersion: 6, planVersion: 7, decidedAt: Date()))
            let application = try await applying
            #expect(application.status == 0, "\(application.output)")
            #expect(application.output.contains("applied as plan version 7"), "\(application.output)")

            // Nothing answers: exit 1, and the request stands.
            let silent = try await OpsToolTests.ops(
                vhost, ["plan", "override", "--event", "danang-2026", "--id", "quiet", "--withdraw", "--wait", "1"])
            #expect(silent.status == 1 && silent.output.contains("no plan.override-decided came within 1 s"), "\(silent.output)")
            archive.stop()
            await connection.close()
        }
    }
}

import Foundation
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

// MARK: - The waiting list: who moves up, and who cannot hold the others back

extension RegistrationRulesTests {
    static func status(_ reference: String, in harness: HandlerHarness) async throws -> RegistrationRecord.Status? {
        try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: reference, in: db)?.status }
    }

    /// The head of the list leaving is room for the next: a waiting registration that is
    /// cancelled promotes whoever now leads the list and fits.
    @Test func cancellingTheHeadOfTheWaitingListPromotesTheNextOneThatFits() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 40, delegates: 10))
        #expect(try await harness.send(Samples.submission(reference: "a", delegates: 8)).answers.map(\.type) == [.registrationAccepted])
        #expect(try await harness.send(Samples.submission(reference: "b", delegates: 5)).answers.map(\.type) == [.registrationWaitlisted])
        // 8 + 2 fit, but b waits ahead of c: strictly in arrival order.
        let c = try await harness.send(Samples.submission(reference: "c", delegates: 2), correlationID: "form-c")
        #expect(c.answers.map(\.type) == [.registrationWaitlisted])

        let cancelled = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "b"), correlationID: "crm-b")
        #expect(cancelled.answers.map(\.type) == [.registrationCancelled, .registrationAccepted])
        let promoted = try #require(cancelled.of(RegistrationAccepted.self).first)
        #expect(promoted.reference == "c" && promoted.promoted)
        #expect(cancelled.answers.map(\.correlationID) == ["crm-b", "form-c"])
        #expect(try await Self.status("c", in: harness) == .accepted)
    }

    /// A delegation larger than the whole event (its capacity lowered by a new programme
    /// version) stays on the list, where it cannot hold back those behind it that fit.
    @Test func aWaitingDelegationLargerThanTheEventDoesNotHoldBackThoseBehindIt() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(version: 1, organisations: 40, delegates: 10))
        try await harness.send(Samples.submission(reference: "a", delegates: 4))
        try await harness.send(Samples.submission(reference: "too-big", delegates: 7))
        try await harness.send(Samples.submission(reference: "small", delegates: 2))
        #expect(try await Self.status("too-big", in: harness) == .waitlisted)
        #expect(try await Self.status("small", in: harness) == .waitlisted)

        // Now 6 places in all: 7 never fit, 4 + 2 do.
        let published = try await harness.send(Samples.programme(version: 2, organisations: 40, delegates: 6))
        #expect(published.of(RegistrationAccepted.self).map(\.reference) == ["small"])
        #expect(published.of(RegistrationAccepted.self).first?.promoted == true)
        #expect(try await Self.status("too-big", in: harness) == .waitlisted, "it waits for more room; nobody refused it")

        // Room for it later: it is still first in line.
        let more = try await harness.send(Samples.programme(version: 3, organisations: 40, delegates: 20))
        #expect(more.of(RegistrationAccepted.self).map(\.reference) == ["too-big"])
    }

    /// A new submission larger than the whole event waits, and those after it that fit are
    /// accepted as if it were not there (the service's REGISTRATIONS_MAX_DELEGATES may be above
    /// the event's capacity).
    @Test func aNewSubmissionLargerThanTheEventDoesNotQueueThoseAfterIt() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 40, delegates: 5))
        let big = try await harness.send(Samples.submission(reference: "big", delegates: 6))
        #expect(big.answers.map(\.type) == [.registrationWaitlisted])
        let small = try await harness.send(Samples.submission(reference: "small", delegates: 2))
        #expect(small.of(RegistrationAccepted.self).map(\.reference) == ["small"])
        // One that fits but finds no room still waits behind those that can fit.
        #expect(
            try await harness.send(Samples.submission(reference: "four", delegates: 4)).answers.map(\.type) == [.registrationWaitlisted])
        #expect(try await harness.send(Samples.submission(reference: "one", delegates: 1)).answers.map(\.type) == [.registrationWaitlisted])
        let cancelled = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "small"))
        #expect(cancelled.of(RegistrationAccepted.self).map(\.reference) == ["four", "one"])
        #expect(try await Self.status("big", in: harness) == .waitlisted)
    }
}

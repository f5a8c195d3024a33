import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import ConsoleCore

/// The console's read model, fed through the same dispatch and inbox transaction the pipeline
/// runs (no broker): what each message leaves in it, in any order the broker may deliver.
@Suite struct ConsoleReadModelTests {
    @Test func theEventAtAGlanceCountsWhatTheServicesAnnounced() async throws {
        let harness = try await ConsoleFixtures.event()
        try await harness.send(
            RegistrationWaitlisted(
                registrationID: ConsoleFixtures.id("late"), eventID: ConsoleFixtures.eventID, reference: "late", revision: 1, position: 1,
                delegation: Samples.submission(reference: "late", delegates: 2).delegation, waitlistedAt: Samples.danang(day: 7, 8)))
        try await harness.send(
            RegistrationRejected(
                eventID: ConsoleFixtures.eventID, reference: "broken", revision: 1,
                issues: [ValidationIssue(path: "delegates", code: "empty", message: "a delegation needs someone")], leadContact: nil,
                rejectedAt: Samples.danang(day: 7, 9)))
        let counts = try await harness.read { db in try ConsoleQueries.counts(eventID: ConsoleFixtures.eventID, in: db) }
        #expect(counts.accepted == 3)
        #expect(counts.delegatesAccepted == 9)
        #expect(counts.waitlisted == 1)
        #expect(counts.rejected == 1)
        #expect(counts.withItinerary == 3)
        #expect(counts.notificationsDelivered == 1)
        #expect(counts.notificationsFailed == 1)
    }

    @Test func aDelegationsPageHasItsPeopleOpenedItsHistoryItineraryAndNotifications() async throws {
        let harness = try await ConsoleFixtures.event()
        let acme = try #require(try await harness.read { db in try ConsoleQueries.registration(ConsoleFixtures.id("acme"), in: db) })
        #expect(acme.row.organisation == "Shenzhen Logistics Co.")
        #expect(acme.delegation.delegates.count == 3)
        #expect(!acme.delegation.delegates.contains { $0.name == Sealing.name }, "the people are opened with the registration's key")
        #expect(acme.delegation.delegates.allSatisfy { $0.identityDocument == nil && $0.sealedIdentityDocument == nil })
        #expect(acme.history.map(\.status) == ["accepted"])
        #expect(acme.itinerary?.items.count == 2)
        #expect(acme.notifications.map(\.outcome) == ["delivered"])
    }

    @Test func anOlderRevisionOrAReplayedMessageChangesNothing() async throws {
        let harness = try await ConsoleFixtures.event()
        try await ConsoleFixtures.accept(
            harness, ConsoleFixtures.accepted("acme", name: "Shenzhen Logistics Co.", delegates: 5, revision: 2))
        try await ConsoleFixtures.accept(harness, ConsoleFixtures.accepted("acme", name: "Old name", delegates: 1, revision: 1))
        let row = try #require(try await harness.read { db in try ConsoleQueries.registration(ConsoleFixtures.id("acme"), in: db) })
        #expect(row.revision == 2)
        #expect(row.row.delegates == 5)
        // The same message again (a redelivery, a replay) is dropped by its id.
        let waitlisted = RegistrationWaitlisted(
            registrationID: ConsoleFixtures.id("acme"), eventID: ConsoleFixtures.eventID, reference: "acme", revision: 3, position: 1,
            delegation: Samples.submission(reference: "acme", delegates: 5).delegation, waitlistedAt: Samples.danang(day: 8, 9))
        #expect(try await harness.apply(waitlisted, messageID: "same") != .duplicate)
        #expect(try await harness.apply(waitlisted, messageID: "same") == .duplicate)
        // An older plan version of the itinerary is ignored too.
        try await harness.send(ConsoleFixtures.planned("acme", [], version: 0))
        let itinerary = try await harness.read { db in try ConsoleQueries.registration(ConsoleFixtures.id("acme"), in: db)?.itinerary }
        #expect(itinerary?.items.count == 2)
    }

    @Test func aCancellationStaysUntilADecisionMadeAfterIt() async throws {
        let harness = try await ConsoleFixtures.event()
        let id = ConsoleFixtures.id("delta")
        func status() async throws -> (RegistrationStatus?, Int?) {
            try await harness.read { db in
                let found = try ConsoleQueries.registration(id, in: db)
                return (found?.row.status, found?.revision)
            }
        }
        try await harness.send(
            RegistrationCancelled(
                registrationID: id, eventID: ConsoleFixtures.eventID, reference: "delta", reason: "by phone",
                delegation: Samples.submission(reference: "delta", delegates: 2).delegation, cancelledAt: Samples.danang(day: 8, 9)))
        #expect(try await status() == (.cancelled, 1), "the revision stays the last one the registration had")
        // A later revision decided before the cancellation (delayed by retries) does not undo it.
        var late = ConsoleFixtures.accepted("delta", name: "Guangxi Port Group", revision: 3)
        late.acceptedAt = Samples.danang(day: 8, 8)
        try await ConsoleFixtures.accept(harness, late)
        #expect(try await status() == (.cancelled, 1))
        // A decision made after it (a resubmission) does.
        var resubmitted = ConsoleFixtures.accepted("delta", name: "Guangxi Port Group", revision: 4)
        resubmitted.acceptedAt = Samples.danang(day: 9, 8)
        try await ConsoleFixtures.accept(harness, resubmitted)
        #expect(try await status() == (.accepted, 4))
    }

    @Test func aCancellationAnswersTheOrganisersActionAndOutranksLaterCopies() async throws {
        let harness = try await ConsoleFixtures.event()
        let id = ConsoleFixtures.id("delta")
        let action = try await harness.write { db in try ConsoleCommands.cancel(registrationID: id, reason: "", by: "mai", in: db) }
        let sent = try await harness.emitted().of(RegistrationCancelRequested.self)
        #expect(
            sent == [
                RegistrationCancelRequested(
                    eventID: ConsoleFixtures.eventID, reference: "delta", reason: "cancelled by the organisers",
                    requestedAt: sent.first?.requestedAt)
            ])
        #expect(try await harness.read { db in try ConsoleStore.action(action.id, in: db)?.status } == .sent)

        let cancelled = RegistrationCancelled(
            registrationID: id, eventID: ConsoleFixtures.eventID, reference: "delta", reason: "cancelled by the organisers",
            delegation: Samples.submission(reference: "delta", delegates: 2).delegation, cancelledAt: Samples.danang(day: 8, 9))
        try await harness.send(cancelled)
        #expect(try await harness.read { db in try ConsoleStore.action(action.id, in: db)?.status } == .done)
        // The acceptance delivered again (a replay) does not bring the registration back.
        try await ConsoleFixtures.accept(harness, ConsoleFixtures.accepted("delta", name: "Guangxi Port Group"))
        let row = try await harness.read { db in try ConsoleQueries.registration(id, in: db)?.row.status }
        #expect(row == .cancelled)
        // A cancelled registration cannot be cancelled twice.
        await #expect(throws: ConsoleCommands.Refusal.notActive("delta")) {
            try await harness.write { db in try ConsoleCommands.cancel(registrationID: id, reason: nil, by: "mai", in: db) }
        }
    }

    @Test func anOverrideIsShownUntilThePlannerDecidesAndARefusalSaysWhy() async throws {
        let harness = try await ConsoleFixtures.event()
        let request = PlanOverrideRequested(
            eventID: ConsoleFixtures.eventID, overrideID: "pin-acme", kind: .pin, reference: "acme", busID: "bus-2", day: "2026-01-14")
        let action = try await harness.write { db in try ConsoleCommands.override(request, by: "mai", in: db) }
        let published = try #require(try await harness.emitted().of(PlanOverrideRequested.self).first)
        #expect(published.requestedBy == "mai")
        #expect(
            try await harness.read { db in try ConsoleQueries.overrides(eventID: ConsoleFixtures.eventID, in: db).map(\.outcome) } == [nil])

        try await harness.send(
            PlanOverrideDecided(
                eventID: ConsoleFixtures.eventID, overrideID: "pin-acme", outcome: .refused, reason: "bus-2 has 16 seats and 16 taken",
                decidedAt: Date()))
        let overrides = try await harness.read { db in try ConsoleQueries.overrides(eventID: ConsoleFixtures.eventID, in: db) }
        #expect(overrides.map(\.outcome) == ["refused"])
        let answered = try await harness.read { db in try ConsoleStore.action(action.id, in: db) }
        #expect(answered?.status == .refused)
        #expect(answered?.outcome == "refused: bus-2 has 16 seats and 16 taken")

        // A form that names no bus is refused before anything is sent.
        var withoutBus = request
        withoutBus.busID = nil
        let incomplete = withoutBus
        await #expect(throws: ConsoleCommands.Refusal.self) {
            try await harness.write { db in try ConsoleCommands.override(incomplete, by: "mai", in: db) }
        }
    }

    @Test func aReoptimisationPreviewCanBeApplied() async throws {
        let harness = try await ConsoleFixtures.event()
        let preview = try await harness.write { db in try ConsoleCommands.reoptimise(eventID: ConsoleFixtures.eventID, by: "mai", in: db) }
        try await harness.send(
            PlanReoptimised(
                eventID: ConsoleFixtures.eventID, requestID: preview.subject, outcome: .previewed, valueBefore: 100, valueAfter: 130,
                moved: [ConsoleFixtures.id("acme")], basedOnVersion: 1, decidedAt: Date()))
        let apply = try await harness.write { db in
            try ConsoleCommands.reoptimise(eventID: ConsoleFixtures.eventID, applying: preview.subject, by: "mai", in: db)
        }
        let requests = try await harness.emitted().of(PlanReoptimiseRequested.self)
        #expect(requests.map(\.applyPreview) == [nil, preview.subject])
        try await harness.send(
            PlanReoptimised(
                eventID: ConsoleFixtures.eventID, requestID: preview.subject, outcome: .applied, valueBefore: 100, valueAfter: 130,
                moved: [ConsoleFixtures.id("acme")], basedOnVersion: 1, planVersion: 2, decidedAt: Date()))
        #expect(try await harness.read { db in try ConsoleStore.action(apply.id, in: db)?.status } == .done)
        let shown = try await harness.read { db in try ConsoleQueries.reoptimisations(eventID: ConsoleFixtures.eventID, in: db) }
        #expect(shown.map(\.outcome) == ["applied"])
    }

    @Test func erasureKeepsTheCountsAndForgetsThePeople() async throws {
        let harness = try await ConsoleFixtures.event()
        try await harness.send(
            NotificationFailed(
                notificationID: "n-3", idempotencyKey: "key-3", registrationID: ConsoleFixtures.id("acme"), kind: .itineraryPlanned,
                channel: .email, reason: "550 <d1.acme@example.cn>: no such user", permanent: true, attempts: 1,
                failedAt: Samples.danang(day: 7, 10)))
        _ = try await harness.write { db in
            try ConsoleCommands.cancel(registrationID: ConsoleFixtures.id("acme"), reason: "Li Wei called", by: "mai", in: db)
        }
        #expect(try await harness.read { db in try StoreText.all(in: db) }.contains("li.wei.acme@example.cn"), "opened, before")
        #expect(try await harness.read { db in try StoreText.all(in: db) }.contains("d1.acme@example.cn>: no such user"))
        let emitted = try await harness.send(
            RegistrationEraseRequested(
                eventID: ConsoleFixtures.eventID, reference: "acme", requestedBy: "dpo", reason: .request, requestedAt: Date()))
        #expect(emitted.of(RegistrationErased.self).map(\.service) == ["console"])
        #expect(emitted.of(RegistrationErased.self).map(\.found) == [true])
        let acme = try #require(try await harness.read { db in try ConsoleQueries.registration(ConsoleFixtures.id("acme"), in: db) })
        #expect(acme.row.erased)
        #expect(acme.delegation.delegates.allSatisfy { $0.name == Erasure.name && $0.phone == nil })
        #expect(try await harness.read { db in try DataKeys.state(ConsoleFixtures.id("acme"), in: db) } == .erased)
        let text = try await harness.read { db in try StoreText.all(in: db) }
        let submission = Samples.submission(reference: "acme", delegates: 3, name: "Shenzhen Logistics Co.")
        for address in submission.delegates.compactMap(\.email) + [submission.leadContact.email] {
            #expect(!text.contains(address))
        }
        // The organisers' command about it is still owed to the broker: it goes once published.
        #expect(
            try await harness.read { db in
                try Int.fetchAll(db, sql: "SELECT erase_on_publish FROM outbox WHERE message_type = 'registration.cancel-requested'")
            } == [1])
        #expect(try await harness.read { db in try ConsoleQueries.counts(eventID: ConsoleFixtures.eventID, in: db).accepted } == 3)
        // What arrives later (a replay, an amendment decided before) changes the status, never the people.
        try await ConsoleFixtures.accept(harness, ConsoleFixtures.accepted("acme", name: "Shenzhen Logistics Co.", revision: 2))
        let after = try await harness.read { db in try StoreText.all(in: db) }
        #expect(!after.contains("li.wei.acme@example.cn"))
        #expect(try await harness.read { db in try ConsoleQueries.registration(ConsoleFixtures.id("acme"), in: db)?.revision } == 2)
    }

    @Test func aNotificationSentAgainIsAnsweredByItsCopysOutcome() async throws {
        let harness = try await ConsoleFixtures.event()
        let action = try await harness.write { db in try ConsoleCommands.resend(notificationID: "n-2", by: "mai", in: db) }
        let request = try #require(try await harness.emitted().of(NotificationResendRequested.self).first)
        #expect(request.notificationID == "n-2" && request.registrationID == ConsoleFixtures.id("delta") && request.requestedBy == "mai")
        #expect(action.subject == request.copyID)
        try await harness.send(
            NotificationDelivered(
                notificationID: request.copyID, idempotencyKey: "key-copy", registrationID: ConsoleFixtures.id("delta"), kind: .accepted,
                channel: .email, language: .chineseSimplified, attempts: 1, deliveredAt: Samples.danang(day: 9, 10)))
        #expect(try await harness.read { db in try ConsoleStore.action(action.id, in: db)?.status } == .done)
        await #expect(throws: ConsoleCommands.Refusal.self) {
            try await harness.write { db in try ConsoleCommands.resend(notificationID: "n-unknown", by: "mai", in: db) }
        }
    }
}

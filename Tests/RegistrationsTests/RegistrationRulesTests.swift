import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// The registrations service's rules in-process: the handler on a temporary store, messages in
/// through its entry point, no broker.
@Suite struct RegistrationRulesTests {
    static let event = "danang-2026-01"

    static func harness(cancellationWait: Double = 900, now: Date = Samples.danang(day: 5, 10)) throws -> (
        HandlerHarness, RegistrationsHandler
    ) {
        let handler = RegistrationsHandler(
            vault: .ephemeral(), keys: try DataKeyStore(), cancellationWait: cancellationWait, clock: { now })
        return (try HandlerHarness(handler.dispatcher, migrations: RegistrationStore.migrate), handler)
    }

    // MARK: Batches

    /// The acceptance that answers a submission carries the submission's place in its batch
    /// (itineraries plans when the last is in); a waiting-list answer, a promotion off the list
    /// and a place outside its batch carry none.
    @Test func anAcceptanceCarriesItsSubmissionsPlaceInTheBatch() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 1))
        func submission(_ reference: String, _ batch: BatchPosition?) -> RegistrationSubmitted {
            var submission = Samples.submission(reference: reference)
            submission.batch = batch
            return submission
        }
        let first = BatchPosition(id: "import-1", index: 0, count: 2)
        let accepted = try await harness.send(submission("a", first))
        #expect(accepted.of(RegistrationAccepted.self).map(\.batch) == [first])
        let waiting = try await harness.send(submission("b", BatchPosition(id: "import-1", index: 1, count: 2)))
        #expect(waiting.answers.map(\.type) == [.registrationWaitlisted], "the event holds one organisation")
        let promoted = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "a"))
        #expect(promoted.of(RegistrationAccepted.self).map(\.reference) == ["b"])
        #expect(promoted.of(RegistrationAccepted.self).map(\.batch) == [nil], "a promotion answers no submission")

        let (other, _) = try Self.harness()
        try await other.send(Samples.programme())
        let outside = try await other.send(submission("c", BatchPosition(id: "import-2", index: 2, count: 2)))
        #expect(outside.of(RegistrationAccepted.self).map(\.batch) == [nil])
        let alone = try await other.send(submission("d", nil))
        #expect(alone.of(RegistrationAccepted.self).map(\.batch) == [nil])
    }

    // MARK: Cancellations and their answers

    @Test func aCancellationCarriesTheCorrelationIdOfTheRequestItAnswers() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        let accepted = try await harness.send(Samples.submission(reference: "a"), correlationID: "form-17")
        #expect(accepted.answers.map(\.correlationID) == ["form-17"])
        let cancelled = try await harness.send(
            RegistrationCancelRequested(eventID: Self.event, reference: "a", reason: "flights"), correlationID: "crm-cancel-3")
        #expect(cancelled.of(RegistrationCancelled.self).map(\.reference) == ["a"])
        #expect(cancelled.map(\.correlationID) == ["crm-cancel-3"])
        // Without a correlation id of its own, the request's message id is what the answer carries.
        try await harness.send(Samples.submission(reference: "b"))
        let answered = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "b"), messageID: "cancel-b-1")
        #expect(answered.map(\.correlationID) == ["cancel-b-1"])
    }

    @Test func aCancellationForAReferenceThatNeverArrivesIsAnsweredAfterTheWait() async throws {
        let received = Samples.danang(day: 5, 10)
        let (harness, handler) = try Self.harness(cancellationWait: 600)
        try await harness.send(Samples.programme())
        let now = try await harness.send(
            RegistrationCancelRequested(eventID: Self.event, reference: "ghost"), messageID: "cancel-ghost", correlationID: "crm-9",
            receivedAt: received)
        #expect(now.isEmpty, "it waits for its submission instead of failing")

        let early = try await harness.write { db in try handler.expireCancellations(now: received.addingTimeInterval(599), in: db) }
        #expect(early.isEmpty)
        let due = try await harness.write { db in try handler.expireCancellations(now: received.addingTimeInterval(600), in: db) }
        #expect(due.map(\.cause) == ["cancel-ghost"])
        let answer = try #require(due.first?.answer)
        #expect(answer.correlationID == "crm-9")
        let rejected = try answer.decode(RegistrationRejected.self)
        #expect(rejected.request == .registrationCancelRequested)
        #expect(rejected.reference == "ghost" && rejected.eventID == Self.event)
        #expect(rejected.issues.map(\.code) == ["unknown_reference"])
        #expect(rejected.issues.first?.message.contains("600 s") == true)
        // Answered once.
        let again = try await harness.write { db in try handler.expireCancellations(now: received.addingTimeInterval(3600), in: db) }
        #expect(again.isEmpty)
    }

    @Test func aCancellationThatArrivesBeforeItsSubmissionCancelsItWhenItComes() async throws {
        let (harness, handler) = try Self.harness(cancellationWait: 600)
        try await harness.send(Samples.programme(organisations: 1))
        try await harness.send(Samples.submission(reference: "waiting"), correlationID: "form-w")
        try await harness.send(
            RegistrationCancelRequested(eventID: Self.event, reference: "late", reason: "plans changed"), correlationID: "crm-late")
        let emitted = try await harness.send(Samples.submission(reference: "late"), correlationID: "form-late")
        // The submission is answered (waitlisted: the event is full), then the cancellation.
        #expect(emitted.answers.map(\.type) == [.registrationWaitlisted, .registrationCancelled])
        #expect(emitted.answers.map(\.correlationID) == ["form-late", "crm-late"])
        #expect(emitted.of(RegistrationCancelled.self).first?.reason == "plans changed")
        let record = try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "late", in: db) }
        #expect(record?.status == .cancelled)
        let expired = try await harness.write { db in try handler.expireCancellations(now: Samples.danang(day: 20, 9), in: db) }
        #expect(expired.isEmpty, "nothing is left waiting")
    }

    // MARK: The deadline

    @Test func theDeadlineIsJudgedOnWhenTheSubmissionWasReceivedNotOnItsSubmittedAt() async throws {
        let deadline = Samples.danang(day: 10, 17)
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(deadline: deadline))
        var backdated = Samples.submission(reference: "backdated")
        backdated.submittedAt = Samples.danang(day: 1, 9)
        let late = try await harness.send(backdated, receivedAt: Samples.danang(day: 11, 9))
        #expect(late.of(RegistrationRejected.self).flatMap(\.issues).map(\.code) == ["registration_closed"])
        let onTime = try await harness.send(Samples.submission(reference: "on-time"), receivedAt: Samples.danang(day: 10, 16))
        #expect(onTime.of(RegistrationAccepted.self).map(\.reference) == ["on-time"])
    }

    // MARK: Refused amendments

    @Test func aRefusedAmendmentSaysTheRegistrationStandsAsItWas() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 5, delegates: 6))
        try await harness.send(Samples.submission(reference: "a", delegates: 3))
        try await harness.send(Samples.submission(reference: "b", delegates: 2))
        let refused = try await harness.send(Samples.submission(reference: "a", revision: 2, delegates: 5), correlationID: "amend-a")
        let rejection = try #require(refused.of(RegistrationRejected.self).first)
        #expect(rejection.issues.map(\.code) == ["capacity_exceeded"])
        #expect(rejection.standing == .init(revision: 1, status: .accepted))
        #expect(rejection.registrationID == registrationID(eventID: Self.event, reference: "a"))
        #expect(refused.answers.map(\.correlationID) == ["amend-a"])
        // A first submission that is refused has nothing standing.
        var invalid = Samples.submission(reference: "c")
        invalid.consent.dataProcessing = false
        let first = try await harness.send(invalid)
        #expect(first.of(RegistrationRejected.self).first?.standing == nil)
        #expect(first.of(RegistrationRejected.self).first?.registrationID == nil)
    }

    // MARK: Bodies that do not decode

    @Test func aSubmissionThatDoesNotDecodeIsAnsweredWithThePathAndTheProblem() throws {
        let (harness, _) = try Self.harness()
        let valid = String(decoding: try MessageCoding.encode(Samples.submission(reference: "fr-1")), as: UTF8.self)
        let cases: [(body: String, path: String, code: String)] = [
            (
                valid.replacingOccurrences(of: "\"language\":\"zh-Hans\"", with: "\"language\":\"fr\""), "leadContact.language",
                "invalid_value"
            ),
            (valid.replacingOccurrences(of: "\"revision\":1", with: "\"revision\":\"1\""), "revision", "invalid_type"),
            (
                valid.replacingOccurrences(of: "\"submittedAt\":\"2026-01-03T03:00:00Z\"", with: "\"submittedAt\":\"2026-01-03T10:00:00\""),
                "submittedAt", "invalid_value"
            ),
            (
                valid.replacingOccurrences(of: "{\"dataProcessing\"", with: "{\"dataProcessing\":false,\"dataProcessing\""),
                "consent.dataProcessing", "duplicate_key"
            ),
        ]
        for (body, path, code) in cases {
            #expect(body != valid, "the case changes the body (\(path))")
            let answers = harness.answers(toBody: body, type: .registrationSubmitted, correlationID: "form-x")
            let rejected = try #require(answers.of(RegistrationRejected.self).first, "an answer for \(path)")
            #expect(rejected.issues.map(\.path) == [path])
            #expect(rejected.issues.map(\.code) == [code])
            #expect(rejected.reference == "fr-1" && rejected.eventID == Self.event && rejected.revision == (path == "revision" ? nil : 1))
            #expect(answers.filter { $0.type == .registrationRejected }.map(\.correlationID) == ["form-x"])
        }
        let language = harness.answers(toBody: cases[0].body, type: .registrationSubmitted)
        #expect(language.of(RegistrationRejected.self).first?.issues.first?.message.contains("'fr' is not a supported language") == true)
    }

    /// The answer to a body that does not decode names an identity document's field, never
    /// what the document holds.
    @Test func anUnreadableIdentityDocumentIsAnsweredWithoutWhatItHolds() throws {
        let (harness, _) = try Self.harness()
        let valid = String(decoding: try MessageCoding.encode(Samples.submission(reference: "doc-1")), as: UTF8.self)
        let body = valid.replacingOccurrences(of: "\"kind\":\"passport\"", with: "\"kind\":\"permit X7781234\"")
        #expect(body != valid)
        let rejected = try #require(harness.answers(toBody: body, type: .registrationSubmitted).of(RegistrationRejected.self).first)
        let issue = try #require(rejected.issues.first)
        #expect(issue.path.hasSuffix("identityDocument.kind") && issue.code == "invalid_value")
        #expect(!issue.message.contains("X7781234"), "\(issue.message)")
    }

    @Test func aBodyThatDoesNotSayWhoSentItGetsNoAnswer() throws {
        let (harness, _) = try Self.harness()
        #expect(harness.answers(toBody: "not json", type: .registrationSubmitted).isEmpty)
        #expect(harness.answers(toBody: #"{"reference": "x", "delegates": 3}"#, type: .registrationSubmitted).isEmpty)
        // A reference given twice is ambiguous: whose registration it is cannot be told.
        let twice = #"{"eventID": "danang-2026-01", "reference": "a", "reference": "b"}"#
        #expect(harness.answers(toBody: twice, type: .registrationSubmitted).isEmpty)
        // A cancellation that does not decode is answered as a cancellation.
        let cancel = harness.answers(
            toBody: #"{"eventID": "danang-2026-01", "reference": "a", "reason": 7}"#, type: .registrationCancelRequested)
        #expect(cancel.of(RegistrationRejected.self).first?.request == .registrationCancelRequested)
        #expect(cancel.of(RegistrationRejected.self).first?.issues.map(\.path) == ["reason"])
    }
}

// MARK: - Places, amendments, duplicates (in-process: were broker tests)

extension RegistrationRulesTests {
    @Test func capacityFillsThenWaitsThenPromotesOnCancellation() async throws {
        let (harness, handler) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 2, delegates: 10))
        var answers: [OutboundMessage] = []
        for reference in ["a", "b", "c"] {
            answers += try await harness.send(Samples.submission(reference: reference, delegates: 3), correlationID: "corr-\(reference)")
        }
        #expect(answers.of(RegistrationAccepted.self).map(\.reference) == ["a", "b"])
        let waiting = answers.of(RegistrationWaitlisted.self)
        #expect(waiting.map(\.reference) == ["c"] && waiting.first?.position == 1)
        #expect(answers.filter { $0.type == .registrationWaitlisted }.map(\.correlationID) == ["corr-c"])

        let cancelled = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "a", reason: "schedule"))
        #expect(cancelled.of(RegistrationCancelled.self).map(\.reference) == ["a"])
        let sealed = try #require(cancelled.of(RegistrationAccepted.self).first)
        let promoted = try await harness.read { db in try handler.opened(sealed, in: db) }
        #expect(promoted.reference == "c" && promoted.promoted)
        #expect(
            cancelled.filter { $0.type == .registrationAccepted }.map(\.correlationID) == ["corr-c"],
            "a promotion answers the submission that waited")
        // Promotion carries the identity documents (decrypted) for restricted sites.
        #expect(promoted.delegation.delegates.first?.identityDocument?.number == "E00000001")
        #expect(cancelled.of(RegistrationCancelled.self).first?.delegation.delegates.allSatisfy { $0.identityDocument == nil } == true)

        let listing = try await harness.read { db in try RegistrationsHTTP.listing(eventID: Self.event, in: db) }
        #expect(
            (listing.counts.accepted, listing.counts.cancelled, listing.counts.waitlisted, listing.counts.delegatesAccepted) == (2, 1, 0, 6)
        )
    }

    @Test func theSameMessageTwiceOrTheSameRevisionAgainChangesNothing() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        let submission = Samples.submission(reference: "dup")
        #expect(try await harness.send(submission, messageID: "dup-1").answers.count == 1)
        #expect(try await harness.apply(submission, messageID: "dup-1") == .duplicate)
        // A new message id with the same revision is a repeat too: the registration stands.
        #expect(try await harness.send(submission, messageID: "dup-2").answers.isEmpty)
        #expect(try await harness.read { db in try RegistrationStore.registrations(eventID: Self.event, in: db) }.count == 1)
    }

    @Test func aHigherRevisionAmendsAndALowerOneIsIgnoredInAnyOrder() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        #expect(try await harness.send(Samples.submission(reference: "in-order", revision: 1, delegates: 2)).answers.count == 1)
        let amended = try await harness.send(Samples.submission(reference: "in-order", revision: 2, delegates: 4))
        #expect(amended.of(RegistrationAccepted.self).map(\.revision) == [2])
        #expect(amended.of(RegistrationAccepted.self).first?.delegation.delegates.count == 4)
        // Out of order: 3 arrives before 2, which then changes nothing.
        try await harness.send(Samples.submission(reference: "out-of-order", revision: 3, delegates: 5))
        #expect(try await harness.send(Samples.submission(reference: "out-of-order", revision: 2, delegates: 1)).answers.isEmpty)
        let record = try #require(
            try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "out-of-order", in: db) })
        #expect(record.revision == 3 && record.delegateCount == 5)
    }

    @Test func anInvalidSubmissionIsRejectedWithEveryReasonToTheSendersCorrelationID() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        var submission = Samples.submission(reference: "bad")
        submission.organisation.country = "China"
        submission.delegates[1].email = "not-an-email"
        submission.consent = Consent(dataProcessing: false)
        submission.preferredVisits = ["the-moon"]
        let answer = try await harness.send(submission, correlationID: "form-4711")
        let rejected = try #require(answer.of(RegistrationRejected.self).first)
        #expect(
            Set(rejected.issues.map(\.path)) == [
                "organisation.country", "delegates[1].email", "consent.dataProcessing", "preferredVisits[0]",
            ])
        #expect(rejected.issues.allSatisfy { !$0.message.isEmpty })
        #expect(answer.answers.map(\.correlationID) == ["form-4711"])
        let counts = try await harness.read { db in try RegistrationsHTTP.listing(eventID: Self.event, in: db).counts }
        #expect(counts.rejected == 1 && counts.accepted == 0)
    }

    @Test func aSubmissionForAnEventWithoutProgrammeIsRejected() async throws {
        let (harness, _) = try Self.harness()
        let answer = try await harness.send(Samples.submission(eventID: "no-such-event", reference: "early"))
        #expect(answer.of(RegistrationRejected.self).first?.issues.first?.code == "unknown_event")
    }

    @Test func moreCapacityInANewProgrammeVersionPromotesTheWaitingList() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(version: 1, organisations: 1, delegates: 50))
        #expect(try await harness.send(Samples.submission(reference: "first")).of(RegistrationAccepted.self).count == 1)
        #expect(try await harness.send(Samples.submission(reference: "second")).of(RegistrationWaitlisted.self).count == 1)
        // An older version changes nothing; a newer one with room promotes.
        #expect(try await harness.send(Samples.programme(version: 1, organisations: 5, delegates: 50)).isEmpty)
        let promoted = try await harness.send(Samples.programme(version: 2, organisations: 2, delegates: 50)).of(RegistrationAccepted.self)
        #expect(promoted.map(\.reference) == ["second"] && promoted.first?.promoted == true)
    }

    @Test func theListingShowsStatusesAndCountsAndNoPersonalData() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(organisations: 1, delegates: 10))
        try await harness.send(Samples.submission(reference: "in"))
        try await harness.send(Samples.submission(reference: "waiting"))
        let listing = try await harness.read { db in try RegistrationsHTTP.listing(eventID: Self.event, in: db) }
        #expect(listing.counts.accepted == 1 && listing.counts.waitlisted == 1)
        #expect(listing.registrations.first { $0.reference == "waiting" }?.waitlistPosition == 1)
        let text = String(decoding: try MessageCoding.encode(listing), as: UTF8.self)
        #expect(!text.contains("E00000001"), "identity documents never leave the store")
        #expect(!text.contains("@example.cn"), "no contact details in the listing")
    }
}

extension Array where Element == OutboundMessage {
    /// What the handler answered, without what it records for the archive and the consumers
    /// (`registration.recorded`, `registration.data-key`).
    var answers: [OutboundMessage] { filter { $0.type != .registrationRecorded && $0.type != .registrationDataKey } }
}

import AMQP
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import Testing
import TestSupport

/// The registrations service in-process against the real broker and a real SQLite file.
@Suite struct RegistrationFlowTests {
    /// Runs the service for the duration of `body`.
    static func withService(_ body: (ServiceTestBed, ServiceHost) async throws -> Void) async throws {
        try await ServiceTestBed.withRunningService("registrations", { bed in
            let configuration = RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral())
            return try await RegistrationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
        }, body)
    }

    @Test func capacityFillsThenWaitsThenPromotesOnCancellation() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme(organisations: 2, delegates: 10))
            for reference in ["a", "b", "c"] {
                try await bed.publish(Samples.submission(reference: reference, delegates: 3), correlationID: "corr-\(reference)")
            }
            let accepted = await bed.waitFor(RegistrationAccepted.self, count: 2)
            let waiting = await bed.waitFor(RegistrationWaitlisted.self, count: 1)
            #expect(accepted.map(\.reference).sorted() == ["a", "b"])
            #expect(waiting.map(\.reference) == ["c"])
            #expect(waiting.first?.position == 1)
            #expect(bed.deliveries(ofType: .registrationWaitlisted).first?.properties.correlationID == "corr-c")

            try await bed.publish(RegistrationCancelRequested(eventID: "danang-2026-01", reference: "a", reason: "schedule"))
            let cancelled = await bed.waitFor(RegistrationCancelled.self, count: 1)
            #expect(cancelled.first?.reference == "a")
            let promoted = await bed.waitFor(RegistrationAccepted.self, count: 3)
            #expect(promoted.last?.reference == "c")
            #expect(promoted.last?.promoted == true)
            // Promotion carries the identity documents (decrypted) for restricted sites.
            #expect(promoted.last?.delegation.delegates.first?.identityDocument?.number == "E00000001")

            let listing = try await host.store.database.read { db in try RegistrationsHTTP.listing(eventID: "danang-2026-01", in: db) }
            #expect(listing.counts.accepted == 2)
            #expect(listing.counts.cancelled == 1)
            #expect(listing.counts.waitlisted == 0)
            #expect(listing.counts.delegatesAccepted == 6)
        }
    }
}

extension RegistrationFlowTests {
    @Test func aRedeliveredSubmissionChangesNothing() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme())
            let submission = Samples.submission(reference: "dup")
            try await bed.publish(submission, messageID: "dup-1")
            try await bed.publish(submission, messageID: "dup-1")
            // A new message id with the same revision is a repeat too.
            try await bed.publish(submission, messageID: "dup-2")
            try await bed.publish(Samples.submission(reference: "marker"))
            await bed.waitFor(RegistrationAccepted.self, count: 2)
            try await Task.sleep(for: .milliseconds(300))
            #expect(bed.seen(RegistrationAccepted.self).map(\.reference).sorted() == ["dup", "marker"])
            let records = try await host.store.database.read { db in try RegistrationStore.registrations(eventID: "danang-2026-01", in: db) }
            #expect(records.count == 2)
        }
    }

    @Test func aHigherRevisionAmendsAndALowerOneIsIgnoredInAnyOrder() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme())
            // In order: 1 then 2.
            try await bed.publish(Samples.submission(reference: "in-order", revision: 1, delegates: 2))
            try await bed.publish(Samples.submission(reference: "in-order", revision: 2, delegates: 4))
            // Out of order: 3 arrives before 2.
            try await bed.publish(Samples.submission(reference: "out-of-order", revision: 3, delegates: 5))
            try await bed.publish(Samples.submission(reference: "out-of-order", revision: 2, delegates: 1))
            let accepted = await bed.waitFor(RegistrationAccepted.self, count: 3)
            try await Task.sleep(for: .milliseconds(300))
            #expect(bed.seen(RegistrationAccepted.self).count == 3, "the stale revision 2 emits nothing")
            #expect(accepted.filter { $0.reference == "in-order" }.map(\.revision) == [1, 2])
            #expect(accepted.filter { $0.reference == "in-order" }.last?.delegation.delegates.count == 4)
            let records = try await host.store.database.read { db in try RegistrationStore.registrations(eventID: "danang-2026-01", in: db) }
            let outOfOrder = try #require(records.first { $0.reference == "out-of-order" })
            #expect(outOfOrder.revision == 3)
            #expect(outOfOrder.delegateCount == 5)
        }
    }

    @Test func anInvalidSubmissionIsRejectedWithEveryReasonToTheSendersCorrelationID() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme())
            var submission = Samples.submission(reference: "bad")
            submission.organisation.country = "China"
            submission.delegates[1].email = "not-an-email"
            submission.consent = Consent(dataProcessing: false)
            submission.preferredVisits = ["the-moon"]
            try await bed.publish(submission, correlationID: "form-4711")
            let rejected = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(Set(rejected.issues.map(\.path)) == ["organisation.country", "delegates[1].email", "consent.dataProcessing", "preferredVisits[0]"])
            #expect(rejected.issues.allSatisfy { !$0.message.isEmpty })
            #expect(bed.deliveries(ofType: .registrationRejected).first?.properties.correlationID == "form-4711")
            let counts = try await host.store.database.read { db in try RegistrationsHTTP.listing(eventID: "danang-2026-01", in: db).counts }
            #expect(counts.rejected == 1)
            #expect(counts.accepted == 0)
        }
    }

    @Test func aSubmissionForAnEventWithoutProgrammeIsRejected() async throws {
        try await Self.withService { bed, _ in
            try await bed.publish(Samples.submission(eventID: "no-such-event", reference: "early"))
            let rejected = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(rejected.issues.first?.code == "unknown_event")
        }
    }

    @Test func aMalformedSubmissionIsParkedAnsweredAndTheNextOneIsProcessed() async throws {
        try await Self.withService { bed, _ in
            try await bed.publish(Samples.programme())
            try await bed.publishRaw(
                Data("{\"eventID\":\"danang-2026-01\",\"reference\":\"x\",\"delegates\":\"many\"}".utf8), type: "registration.submitted",
                messageID: "malformed", correlationID: "form-x")
            // The sender hears what is wrong, as for any refusal, since the body says who it is.
            let answer = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(answer.reference == "x" && answer.issues.map(\.path) == ["organisation"] && answer.issues.map(\.code) == ["required"])
            #expect(bed.deliveries(ofType: .registrationRejected).first?.properties.correlationID == "form-x")
            try await bed.publish(Samples.submission(reference: "after"))
            await bed.waitFor(RegistrationAccepted.self, count: 1)
            var parked: [Delivery] = []
            _ = try await eventually(within: 30) {
                parked += try await bed.drainDeadLetters()
                return !parked.isEmpty
            }
            #expect(parked.map(\.properties.messageID) == ["malformed"])
            #expect(parked.first?.headers[FailureHeader.kind]?.stringValue == "invalid-body")
        }
    }

    @Test func aCancellationForAReferenceThatNeverArrivesIsAnsweredNotParked() async throws {
        try await ServiceTestBed.withRunningService("registrations", { bed in
            let configuration = RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral(), cancellationWait: 1)
            return try await RegistrationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
        }) { bed, _ in
            try await bed.publish(Samples.programme())
            try await bed.publish(RegistrationCancelRequested(eventID: "danang-2026-01", reference: "ghost"), correlationID: "crm-cancel-1")
            let answer = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(answer.request == .registrationCancelRequested)
            #expect(answer.issues.map(\.code) == ["unknown_reference"])
            #expect(bed.deliveries(ofType: .registrationRejected).first?.properties.correlationID == "crm-cancel-1")
            #expect(try await bed.drainDeadLetters().isEmpty, "not a failure of the service")
        }
    }

    @Test func aCancellationArrivingBeforeItsSubmissionIsAppliedWhenItArrives() async throws {
        try await Self.withService { bed, _ in
            try await bed.publish(Samples.programme())
            try await bed.publish(RegistrationCancelRequested(eventID: "danang-2026-01", reference: "late", reason: "plans changed"))
            try await Task.sleep(for: .milliseconds(100))
            try await bed.publish(Samples.submission(reference: "late"))
            let cancelled = await bed.waitFor(RegistrationCancelled.self, count: 1)
            #expect(cancelled.first?.reference == "late")
            #expect(cancelled.first?.delegation.delegates.allSatisfy { $0.identityDocument == nil } == true)
        }
    }

    @Test func anAmendmentThatNoLongerFitsIsRejectedAndThePreviousRevisionStands() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme(organisations: 5, delegates: 6))
            try await bed.publish(Samples.submission(reference: "grow", revision: 1, delegates: 3))
            try await bed.publish(Samples.submission(reference: "other", revision: 1, delegates: 2))
            try await bed.publish(Samples.submission(reference: "grow", revision: 2, delegates: 5))
            let rejected = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(rejected.issues.first?.code == "capacity_exceeded")
            let record = try await host.store.database.read { db in try RegistrationStore.registration(eventID: "danang-2026-01", reference: "grow", in: db) }
            #expect(record?.revision == 1)
            #expect(record?.status == .accepted)
        }
    }

    @Test func moreCapacityInANewProgrammeVersionPromotesTheWaitingList() async throws {
        try await Self.withService { bed, _ in
            try await bed.publish(Samples.programme(version: 1, organisations: 1, delegates: 50))
            try await bed.publish(Samples.submission(reference: "first"))
            try await bed.publish(Samples.submission(reference: "second"))
            await bed.waitFor(RegistrationWaitlisted.self, count: 1)
            try await bed.publish(Samples.programme(version: 2, organisations: 2, delegates: 50))
            let accepted = await bed.waitFor(RegistrationAccepted.self, count: 2)
            #expect(accepted.map(\.reference) == ["first", "second"])
            #expect(accepted.last?.promoted == true)
        }
    }

    @Test func theHTTPListingShowsStatusesAndCounts() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme(organisations: 1, delegates: 10))
            try await bed.publish(Samples.submission(reference: "in"))
            try await bed.publish(Samples.submission(reference: "waiting"))
            await bed.waitFor(RegistrationWaitlisted.self, count: 1)
            let port = try #require(host.httpPort)
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/events/danang-2026-01/registrations")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let decoder = MessageCoding.makeDecoder()
            let listing = try decoder.decode(RegistrationsHTTP.Listing.self, from: data)
            #expect(listing.counts.accepted == 1)
            #expect(listing.counts.waitlisted == 1)
            #expect(listing.registrations.first { $0.reference == "waiting" }?.waitlistPosition == 1)
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.contains("E00000001"), "identity documents never leave the store")
            #expect(!text.contains("@example.cn"), "no contact details in the listing")
            let (ready, readyResponse) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health/ready")!)
            #expect((readyResponse as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: ready, as: UTF8.self))")
            let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            #expect(String(decoding: metrics, as: UTF8.self).contains("messages_consumed_total{service=\"\(bed.serviceName)\",type=\"registration.submitted\",outcome=\"handled\"} 2"))
        }
    }
}

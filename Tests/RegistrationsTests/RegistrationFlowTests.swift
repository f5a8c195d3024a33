import AMQP
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
        let bed = try await ServiceTestBed(service: "registrations")
        let configuration = RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral())
        let host = try await RegistrationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
        let running = Task { try await host.run(signals: []) }
        do {
            try await body(bed, host)
        } catch {
            await host.shutdown()
            _ = try? await running.value
            await bed.tearDown()
            throw error
        }
        await host.shutdown()
        try await running.value
        await bed.tearDown()
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

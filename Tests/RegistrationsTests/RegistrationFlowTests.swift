import AMQP
import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The registrations service whole, on the real broker and a real SQLite file: what needs the
/// pipeline (a body that does not decode, answered and parked; the background answer to a
/// cancellation that waited in vain; HTTP, health and metrics of a running service). Its rules
/// are tested in-process (`RegistrationRulesTests`).
@Suite struct RegistrationFlowTests {
    /// Runs the service for the duration of `body`.
    static func withService(_ body: (ServiceTestBed, ServiceHost) async throws -> Void) async throws {
        try await ServiceTestBed.withRunningService(
            "registrations",
            { bed in
                let configuration = RegistrationsConfiguration(
                    service: bed.configuration(), vault: .ephemeral(), retention: Samples.retention)
                return try await RegistrationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
            }, body)
    }
}

extension RegistrationFlowTests {
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
        try await ServiceTestBed.withRunningService(
            "registrations",
            { bed in
                let configuration = RegistrationsConfiguration(
                    service: bed.configuration(), vault: .ephemeral(), cancellationWait: 1, retention: Samples.retention)
                return try await RegistrationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
            }
        ) { bed, _ in
            try await bed.publish(Samples.programme())
            try await bed.publish(RegistrationCancelRequested(eventID: "danang-2026-01", reference: "ghost"), correlationID: "crm-cancel-1")
            let answer = try #require(await bed.waitFor(RegistrationRejected.self, count: 1).first)
            #expect(answer.request == .registrationCancelRequested)
            #expect(answer.issues.map(\.code) == ["unknown_reference"])
            #expect(bed.deliveries(ofType: .registrationRejected).first?.properties.correlationID == "crm-cancel-1")
            #expect(try await bed.drainDeadLetters().isEmpty, "not a failure of the service")
        }
    }

    @Test func theRunningServiceShowsStatusesHealthAndMetricsOverHTTP() async throws {
        try await Self.withService { bed, host in
            try await bed.publish(Samples.programme(organisations: 1, delegates: 10))
            try await bed.publish(Samples.submission(reference: "in"))
            try await bed.publish(Samples.submission(reference: "waiting"))
            await bed.waitFor(RegistrationWaitlisted.self, count: 1)
            let port = try #require(host.httpPort)
            let (data, response) = try await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(port)/events/danang-2026-01/registrations")!)
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
            let exposition = String(decoding: metrics, as: UTF8.self)
            #expect(
                exposition.contains(
                    "messages_consumed_total{service=\"\(bed.serviceName)\",type=\"registration.submitted\",outcome=\"handled\"} 2"))
            // What on-call watches, fresh at each scrape: ready, nothing waiting in the outbox (the
            // answers were confirmed), how far behind its queue it was, HTTP by status.
            #expect(exposition.contains("service_ready{service=\"\(bed.serviceName)\"} 1"), "\(exposition)")
            #expect(exposition.contains("outbox_backlog{service=\"\(bed.serviceName)\"} 0"))
            #expect(exposition.contains("outbox_oldest_age_seconds{service=\"\(bed.serviceName)\"} 0"))
            let lag = exposition.split(separator: "\n").first { $0.hasPrefix("inbox_lag_seconds{service=\"\(bed.serviceName)\"}") }
            let seconds = lag.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
            #expect(seconds.map { $0 >= 0 && $0 < 30 } == true, "\(String(describing: lag))")
            #expect(exposition.contains("http_requests_total{service=\"\(bed.serviceName)\",status=\"200\"}"))
            // Retention: the event, when it ended and when its data goes.
            let (retention, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/retention")!)
            let due = try MessageCoding.decode(RegistrationsHTTP.Retention.self, from: retention)
            #expect(due.retentionDays == Samples.retentionDays && due.events.first?.endsAt == Samples.danang(day: 15, 0))
            #expect(due.events.first?.registrations == 2 && due.events.first?.erased == 0)
        }
    }
}

import AMQP
import Foundation
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// The `registrations` executable as its own process: killed between commit and ack, and
/// stopped with SIGTERM while messages are in flight.
@Suite struct ProcessTests {
    static let key = "k1:" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    static func start(_ bed: ServiceTestBed, fault: String? = nil, log: String) throws -> ServiceProcess {
        var extra = [
            "REGISTRATIONS_IDENTITY_KEYS": key, "REGISTRATIONS_PREFETCH": "20", "REGISTRATIONS_BATCH_SIZE": "4",
            "REGISTRATIONS_RETENTION_DAYS": String(Samples.retentionDays),
        ]
        extra["REGISTRATIONS_FAULT"] = fault
        return try ServiceProcess(
            executable: ServiceTestBed.executable("registrations"), environment: bed.environment(prefix: "REGISTRATIONS", extra: extra),
            logFile: bed.directory.appendingPathComponent(log))
    }

    /// Declares the service's queues before anything is published (the first process may not
    /// be up yet).
    static func declareTopology(_ bed: ServiceTestBed) async throws {
        let configuration = bed.configuration()
        try await bed.connection.declare(
            ServiceTopology.service(
                bed.names, consumes: [.registrationSubmitted, .registrationCancelRequested, .programmePublished],
                retryDelays: configuration.retryDelays, deliveryLimit: configuration.deliveryLimit))
    }

    /// Distinct outcome messages (by message id) per registration reference.
    static func outcomes(_ bed: ServiceTestBed) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for delivery in bed.deliveries(ofType: .registrationAccepted) + bed.deliveries(ofType: .registrationWaitlisted) {
            guard let id = delivery.properties.messageID,
                let reference = (try? MessageCoding.decode(RegistrationAccepted.self, from: delivery.body))?.reference
                    ?? (try? MessageCoding.decode(RegistrationWaitlisted.self, from: delivery.body))?.reference
            else { continue }
            result[reference, default: []].insert(id)
        }
        return result
    }

    @Test func aCrashBetweenCommitAndAckLosesNothingAndDoublesNothing() async throws {
        let bed = try await ServiceTestBed(service: "registrations")
        try await Self.declareTopology(bed)
        try await bed.publish(Samples.programme(organisations: 100, delegates: 1000))
        let references = (0..<30).map { "crash-\($0)" }
        for reference in references { try await bed.publish(Samples.submission(reference: reference), messageID: "msg-\(reference)") }

        let doomed = try Self.start(bed, fault: "crash-after-commit:3", log: "first.log")
        let status = await doomed.wait(within: 30)
        #expect(status != nil && status != 0, "the fault killed the process: \(doomed.log.suffix(500))")

        let survivor = try Self.start(bed, log: "second.log")
        let done = await eventually(within: 30) { Self.outcomes(bed).count == references.count }
        survivor.signal(SIGTERM)
        #expect(await survivor.wait(within: 20) == 0, "clean exit on SIGTERM: \(survivor.log.suffix(500))")

        let outcomes = Self.outcomes(bed)
        #expect(done, "every registration was placed: \(outcomes.count) of \(references.count)")
        #expect(Set(outcomes.keys) == Set(references))
        #expect(outcomes.values.allSatisfy { $0.count == 1 }, "one outcome per registration, whatever was redelivered")
        let store = try ServiceStore(path: bed.storePath, synchronous: .normal, migrations: RegistrationStore.migrate)
        let records = try await store.database.read { db in try RegistrationStore.registrations(eventID: "danang-2026-01", in: db) }
        #expect(records.count == references.count)
        #expect(try await store.outboxBacklog() == 0)
        await bed.tearDown()
    }

    @Test func sigtermWithMessagesInFlightLosesNone() async throws {
        let bed = try await ServiceTestBed(service: "registrations")
        try await Self.declareTopology(bed)
        try await bed.publish(Samples.programme(organisations: 1000, delegates: 10000))
        let references = (0..<300).map { "term-\($0)" }
        func publish(_ slice: ArraySlice<String>) async throws {
            for reference in slice { try await bed.publish(Samples.submission(reference: reference), messageID: "msg-\(reference)") }
        }
        let first = try Self.start(bed, log: "first.log")
        try await publish(references[0..<100])
        _ = await eventually(within: 20) { Self.outcomes(bed).count >= 40 }
        // SIGTERM while work arrives: the second hundred lands during the drain, the last after
        // the exit, so the restart has work however fast the first process was.
        first.signal(SIGTERM)
        try await publish(references[100..<200])
        #expect(await first.wait(within: 20) == 0, "graceful exit: \(first.log.suffix(500))")
        try await publish(references[200...])
        let afterFirst = Self.outcomes(bed).count
        #expect(afterFirst < references.count, "stopped before the end (\(afterFirst)), so the restart has work")

        let second = try Self.start(bed, log: "second.log")
        let done = await eventually(within: 60) { Self.outcomes(bed).count == references.count }
        second.signal(SIGTERM)
        #expect(await second.wait(within: 20) == 0)
        #expect(done, "\(Self.outcomes(bed).count) of \(references.count) placed")
        #expect(Self.outcomes(bed).values.allSatisfy { $0.count == 1 })
        #expect(try await bed.connection.queueState(bed.names.inbox).messageCount == 0)
        await bed.tearDown()
    }

    @Test func anInvalidConfigurationExitsWithEveryProblem() async throws {
        let bed = try await ServiceTestBed(service: "registrations")
        var environment = bed.environment(
            prefix: "REGISTRATIONS", extra: ["REGISTRATIONS_HTTP_PORT": "http", "REGISTRATIONS_PREFETCH": "0"])
        environment["REGISTRATIONS_IDENTITY_KEYS"] = nil
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable("registrations"), environment: environment,
            logFile: bed.directory.appendingPathComponent("config.log"))
        #expect(await process.wait(within: 10) == 78, "\(ServiceTestBed.executable("registrations")) \(CommandLine.arguments)")
        let log = process.log
        #expect(log.contains("REGISTRATIONS_HTTP_PORT='http'"))
        #expect(log.contains("REGISTRATIONS_PREFETCH='0'"))
        #expect(log.contains("REGISTRATIONS_IDENTITY_KEYS is required"))
        await bed.tearDown()
    }
}

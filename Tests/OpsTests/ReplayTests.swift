import AMQP
import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

@testable import OpsCore

/// `delegation-ops replay`: a service whose SQLite file is lost is rebuilt from the archive.
@Suite struct ReplayTests {
    struct Row: Equatable, CustomStringConvertible {
        var id: String
        var revision: Int
        var status: String
        var waitlist: Int64?
        var description: String { "\(id) r\(revision) \(status) \(waitlist.map(String.init) ?? "-")" }
    }

    static func state(_ host: ServiceHost) async throws -> [Row] {
        try await host.store.database.read { db in
            try RegistrationStore.registrations(eventID: "danang-2026-01", in: db)
                .map { Row(id: $0.registrationID, revision: $0.revision, status: $0.status.rawValue, waitlist: $0.waitlistSequence) }
                .sorted { $0.id < $1.id }
        }
    }

    static func host(_ bed: ServiceTestBed) async throws -> ServiceHost {
        try await RegistrationsService.makeHost(
            RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral(), retention: Samples.retention),
            logger: TestBroker.logger, connectPatience: 5)
    }

    @Test func aLostStoreIsRebuiltByTimeRangeAndOnlyTheNamedServiceHearsIt() async throws {
        let bed = try await ServiceTestBed(service: "registrations")
        // Another consumer of the same inputs (as another service's inbox would be).
        let bystander = "\(bed.exchange).bystander"
        try await bed.connection.declare(
            Topology(
                queues: [QueueDeclaration(name: bystander, autoDelete: true)],
                bindings: ["registration.submitted", "programme.published"].map {
                    Binding(queue: bystander, exchange: bed.exchange, routingKey: $0)
                }))

        // Before the loss: a programme with room for 8 organisations, 12 submissions, 2 late ones.
        let since = Date().addingTimeInterval(-1)
        var host = try await Self.host(bed)
        var running = Task { [host] in try await host.run(signals: []) }
        try await host.waitUntilStarted()
        try await bed.publish(Samples.programme(organisations: 8, delegates: 100), messageID: "programme-1")
        for index in 0..<12 {
            try await bed.publish(Samples.submission(reference: "early-\(index)", delegates: 2), messageID: "early-\(index)")
        }
        #expect(await eventually(within: 15) { (try? await Self.state(host).count) == 12 })
        try await Task.sleep(for: .seconds(1.2))
        let until = Date()
        try await Task.sleep(for: .seconds(1.2))
        for index in 0..<2 {
            try await bed.publish(Samples.submission(reference: "late-\(index)", delegates: 2), messageID: "late-\(index)")
        }
        #expect(await eventually(within: 15) { (try? await Self.state(host).count) == 14 })
        let before = try await Self.state(host)
        #expect(before.filter { $0.status == "waitlisted" }.count == 6)

        // The loss: the service stops and its SQLite file is gone.
        await host.shutdown()
        try await running.value
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: bed.storePath + suffix) }
        host = try await Self.host(bed)
        running = Task { [host] in try await host.run(signals: []) }
        try await host.waitUntilStarted()
        #expect(try await Self.state(host).isEmpty)
        let bystanderBefore = try await bed.messagesIn(bystander)
        #expect(bystanderBefore == 15)

        func replay(_ arguments: [String]) async throws -> OpsTool.Result {
            // (the end of the archive is 5 s without a message: under the parallel suite the broker
            // stalls for seconds, and with 1.5 s a replay once read nothing and stopped)
            let result = try await OpsTool.run(["replay", "--to", bed.serviceName, "--idle", "5"] + arguments, bed: bed)
            #expect(result.status == 0, "\(result.output)")
            return result
        }
        // Only the programme first (by type), then the early part (by time), then the rest.
        let programmeOnly = try await replay(["--since", MessageCoding.format(since), "--type", "programme.*"])
        #expect(programmeOnly.output.contains("replayed 1 of"))
        let early = try await replay(["--since", MessageCoding.format(since), "--until", MessageCoding.format(until)])
        // (The archive keeps registrations' sealed record of each submission, not the submission.)
        #expect(early.output.contains("registration.recorded: 12"), "\(early.output)")
        #expect(await eventually(within: 15) { (try? await Self.state(host).count) == 12 })
        #expect(try await Self.state(host).allSatisfy { $0.id != registrationID(eventID: "danang-2026-01", reference: "late-0") })
        _ = try await replay(["--since", MessageCoding.format(until)])
        #expect(await eventually(within: 15) { (try? await Self.state(host).count) == 14 })
        try await Task.sleep(for: .seconds(0.5))
        #expect(try await Self.state(host) == before, "the rebuilt store equals the lost one")
        let people = try await host.store.database.read { db in
            try RegistrationStore.registrations(eventID: "danang-2026-01", in: db).map(\.delegation.leadContact.email)
        }
        #expect(Set(people) == Set((0..<12).map { "li.wei.early-\($0)@example.cn" } + (0..<2).map { "li.wei.late-\($0)@example.cn" }))
        #expect(try await bed.messagesIn(bystander) == bystanderBefore, "nothing was replayed to anyone else")

        // A second full replay changes nothing: the service drops the message ids it has.
        _ = try await replay(["--since", MessageCoding.format(since)])
        try await Task.sleep(for: .seconds(1))
        #expect(try await Self.state(host) == before)

        await host.shutdown()
        try await running.value
        _ = try? await bed.connection.delete(queue: bystander)
        await bed.tearDown()
    }

    @Test func badTimesAndUnknownServicesAreRefusedWithUsageErrors() async throws {
        let unknown = try await OpsTool.run(["replay", "--since", "2h", "--to", "billing"])
        #expect(unknown.status == 64 && unknown.output.contains("unknown service 'billing'"))
        let badTime = try await OpsTool.run(["replay", "--since", "yesterday", "--to", "registrations"])
        #expect(badTime.status == 64 && badTime.output.contains("not a time"))
        let now = Date()
        #expect(try OpsTime.parse("90m", now: now) == now.addingTimeInterval(-5400))
        #expect(try OpsTime.parse("2026-01-13T08:00:00+07:00") == Date(timeIntervalSince1970: 1_768_266_000))
    }
}

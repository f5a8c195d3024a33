import AMQP
import Foundation
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

@testable import OpsCore

/// `delegation-ops failed …` against real services' dead-letter queues.
@Suite struct FailedMessagesTests {
    static func audit(_ bed: ServiceTestBed) throws -> AuditLog {
        try AuditLog(file: bed.directory.appendingPathComponent("audit.log"), user: "on-call")
    }

    /// Registrations parks malformed, unversioned and mistyped messages; a second service (the
    /// bad deploy) parks everything. `failed list` groups them by service, type and reason.
    @Test func failedMessagesOfSeveralServicesAreListedAndGrouped() async throws {
        let broken = Locked(true)
        try await ServiceTestBed.withRunningService("registrations", { try await DeployableHandler.makeHost($0, broken: broken) }) {
            deploy, _ in
            try await ServiceTestBed.withRunningService(
                "registrations",
                { bed in
                    try await RegistrationsService.makeHost(
                        RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral(), retention: Samples.retention),
                        logger: TestBroker.logger, connectPatience: 5)
                }
            ) { registrations, _ in
                for index in 0..<3 { try await registrations.publishRaw(Data("{not json \(index)".utf8), type: "registration.submitted") }
                for _ in 0..<2 {
                    try await registrations.publish(
                        Samples.submission(reference: "v2-\(UUID().uuidString.prefix(4))"), headers: ["schema-version": "2.0"])
                }
                for index in 0..<4 { try await deploy.publish(Samples.submission(reference: "deploy-\(index)")) }
                #expect(
                    await eventually(within: 30) {
                        let parked = (
                            try? await registrations.messagesIn(registrations.names.deadLetterQueue),
                            try? await deploy.messagesIn(deploy.names.deadLetterQueue)
                        )
                        return parked.0 == 5 && parked.1 == 4
                    })

                let configuration = TestBroker.configuration()
                let parked =
                    try await FailedMessages.browse(registrations.names, connection: configuration)
                    + FailedMessages.browse(deploy.names, connection: configuration)
                let groups = FailedMessages.groups(parked)
                #expect(groups.map(\.count) == [4, 3, 2])
                #expect(
                    groups[0].service == deploy.serviceName && groups[0].kind == "permanent" && groups[0].reason.contains("release 1.4.2"))
                #expect(groups[1].kind == "invalid-body" && groups[1].type == "registration.submitted")
                #expect(groups[2].kind == "unsupported-version")
                #expect(groups.allSatisfy { $0.firstSeen != nil && $0.firstSeen! <= $0.lastSeen! })
                #expect(Set(parked.map(\.id)).count == 9, "every failed message has its own id")
                // Looking changes nothing: the same messages, the same ids.
                #expect(try await registrations.messagesIn(registrations.names.deadLetterQueue) == 5)
                let again = try await FailedMessages.browse(registrations.names, connection: configuration)
                #expect(Set(again.map(\.id)) == Set(parked.filter { $0.service == registrations.serviceName }.map(\.id)))

                // The command line shows the same groups, and one message in full.
                let list = try await OpsTool.run(["failed", "list", "--service", registrations.serviceName], bed: registrations)
                #expect(list.status == 0, "\(list.output)")
                #expect(list.output.contains("3 × \(registrations.serviceName) registration.submitted [invalid-body]"))
                #expect(list.output.contains("2 × \(registrations.serviceName) registration.submitted [unsupported-version]"))
                let version = try #require(parked.first { $0.kind == "unsupported-version" })
                let show = try await OpsTool.run(
                    ["failed", "show", version.id, "--service", registrations.serviceName], bed: registrations)
                #expect(show.status == 0)
                let detail = try #require(try JSONSerialization.jsonObject(with: Data(show.output.utf8)) as? [String: Any])
                #expect((detail["headers"] as? [String: Any])?["x-failure-kind"] as? String == "unsupported-version")
                #expect((detail["headers"] as? [String: Any])?["schema-version"] as? String == "2.0")
                #expect((detail["properties"] as? [String: Any])?["message_id"] as? String == version.messageID)
                #expect((detail["body"] as? String)?.contains("\"reference\"") == true)
                let missing = try await OpsTool.run(
                    ["failed", "show", "nosuchid", "--service", registrations.serviceName], bed: registrations)
                #expect(missing.status == 66)
            }
        }
    }

    /// The bad deploy parks 30 messages; it is fixed; one message, then a group, then the rest
    /// go back. Each is applied exactly once and nothing is left or lost.
    @Test func retryOneAGroupAndAllAppliesEachMessageExactlyOnce() async throws {
        let broken = Locked(true)
        try await ServiceTestBed.withRunningService("registrations", { try await DeployableHandler.makeHost($0, broken: broken) }) {
            bed, host in
            var ids: [String] = []
            for index in 0..<20 {
                let id = "sub-\(index)"
                ids.append(id)
                try await bed.publish(Samples.submission(reference: "r-\(index)"), messageID: id)
            }
            for index in 0..<10 {
                let id = "prog-\(index)"
                ids.append(id)
                try await bed.publish(Samples.programme(version: index + 1), messageID: id)
            }
            #expect(await eventually(within: 30) { (try? await bed.messagesIn(bed.names.deadLetterQueue)) == 30 })
            broken.withLock { $0 = false }

            let configuration = TestBroker.configuration()
            let audit = try Self.audit(bed)
            let parked = try await FailedMessages.browse(bed.names, connection: configuration)
            let one = try #require(parked.first { $0.messageID == "sub-3" })
            let retriedOne = try await FailedMessages.retry(.ids([one.id]), in: bed.names, connection: configuration, audit: audit)
            #expect(retriedOne.map(\.messageID) == ["sub-3"])
            #expect(try await eventually(within: 30) { try await DeployableHandler.applied(host)["sub-3"] == 1 })

            let programmeGroup = try #require(FailedMessages.groups(parked).first { $0.type == "programme.published" })
            let retriedGroup = try await FailedMessages.retry(
                .group(programmeGroup.group), in: bed.names, connection: configuration, audit: audit)
            #expect(retriedGroup.count == 10 && retriedGroup.allSatisfy { $0.type == "programme.published" })

            let dry = try await FailedMessages.retry(.all, in: bed.names, connection: configuration, audit: audit, dryRun: true)
            #expect(dry.count == 19)
            #expect(try await bed.messagesIn(bed.names.deadLetterQueue) == 19, "a dry run moves nothing")
            let rest = try await FailedMessages.retry(.all, in: bed.names, connection: configuration, audit: audit)
            #expect(rest.count == 19)

            #expect(try await eventually(within: 30) { try await DeployableHandler.applied(host).count == 30 })
            try await Task.sleep(for: .seconds(0.5))
            let applied = try await DeployableHandler.applied(host)
            #expect(Set(applied.keys) == Set(ids))
            #expect(applied.values.allSatisfy { $0 == 1 }, "applied exactly once: \(applied.filter { $0.value != 1 })")
            #expect(try await bed.messagesIn(bed.names.deadLetterQueue) == 0)
            let entries = try audit.entries()
            #expect(entries.count == 30)
            #expect(entries.allSatisfy { $0["user"] as? String == "on-call" && $0["action"] as? String == "retry" })
            #expect(Set(entries.compactMap { $0["message_id"] as? String }) == Set(ids))
        }
    }

    /// `failed retry --all` is killed right after a copy is confirmed and before its original
    /// is acked (the worst moment). Run again, it finishes; the service applies every message
    /// once, whatever was copied twice.
    @Test func aRetryKilledHalfwayLosesNothingAndDoublesNothing() async throws {
        let broken = Locked(true)
        try await ServiceTestBed.withRunningService("registrations", { try await DeployableHandler.makeHost($0, broken: broken) }) {
            bed, host in
            let ids = (0..<40).map { "m-\($0)" }
            for (index, id) in ids.enumerated() { try await bed.publish(Samples.submission(reference: "k-\(index)"), messageID: id) }
            #expect(await eventually(within: 30) { (try? await bed.messagesIn(bed.names.deadLetterQueue)) == 40 })
            broken.withLock { $0 = false }

            let auditFile = bed.directory.appendingPathComponent("audit.log").path
            let arguments = ["failed", "retry", "--all", "--service", bed.serviceName, "--audit-log", auditFile]
            let killed = try await OpsTool.run(arguments, bed: bed, environment: ["DELEGATION_OPS_FAULT": "crash-after-copy:15"])
            #expect(killed.status == SIGKILL, "\(killed.output)")
            // 14 moved; the 15th copied but still parked (its ack never went); 25 untouched.
            #expect(try await eventually(within: 30) { try await bed.messagesIn(bed.names.deadLetterQueue) == 26 })

            let again = try await OpsTool.run(arguments, bed: bed)
            #expect(again.status == 0, "\(again.output)")
            #expect(again.output.contains("retried 26 message(s)"))
            #expect(try await eventually(within: 30) { try await DeployableHandler.applied(host).count == 40 })
            try await Task.sleep(for: .seconds(0.5))
            let applied = try await DeployableHandler.applied(host)
            #expect(Set(applied.keys) == Set(ids))
            #expect(applied.values.allSatisfy { $0 == 1 }, "the copy sent twice was applied once")
            #expect(try await bed.messagesIn(bed.names.deadLetterQueue) == 0)
            #expect(try await bed.messagesIn(bed.names.inbox) == 0)
            let audit = try AuditLog(file: URL(fileURLWithPath: auditFile))
            #expect(try audit.entries().count == 41, "the 15th message was logged by both runs")
        }
    }

    /// Purge writes every message to its file, synced, before any leaves the queue; a file that
    /// cannot be written stops it with everything still parked.
    @Test func purgeSavesTheMessagesFirst() async throws {
        let broken = Locked(true)
        try await ServiceTestBed.withRunningService("registrations", { try await DeployableHandler.makeHost($0, broken: broken) }) {
            bed, _ in
            for index in 0..<6 { try await bed.publish(Samples.submission(reference: "p-\(index)"), messageID: "p-\(index)") }
            #expect(await eventually(within: 30) { (try? await bed.messagesIn(bed.names.deadLetterQueue)) == 6 })
            let configuration = TestBroker.configuration()
            let audit = try Self.audit(bed)

            let nowhere = bed.directory.appendingPathComponent("no-such-folder/purged.ndjson")
            await #expect(throws: (any Error).self) {
                _ = try await FailedMessages.purge(.all, in: bed.names, connection: configuration, to: nowhere, audit: audit)
            }
            #expect(try await bed.messagesIn(bed.names.deadLetterQueue) == 6, "nothing purged when the file cannot be written")

            let file = bed.directory.appendingPathComponent("purged.ndjson")
            let purged = try await FailedMessages.purge(
                .ids(["p-1", "p-4"]), in: bed.names, connection: configuration, to: file, audit: audit)
            #expect(purged.compactMap(\.messageID).sorted() == ["p-1", "p-4"])
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            let saved = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(Set(saved.compactMap { ($0["properties"] as? [String: Any])?["message_id"] as? String }) == ["p-1", "p-4"])
            #expect(saved.allSatisfy { ($0["body"] as? String)?.contains("reference") == true })
            #expect(try await bed.messagesIn(bed.names.deadLetterQueue) == 4)
            #expect(try audit.entries().filter { $0["action"] as? String == "purge" }.count == 2)
        }
    }
}

extension FailedMessagesTests {
    /// A message of a type no service consumes is confirmed (the archive takes every type) but
    /// kept for ops: status counts it, `failed list` shows it, retry refuses it, purge removes it.
    @Test func messagesOfAnUnknownTypeAreCountedListedAndPurgedButNotRetried() async throws {
        try await ServiceTestBed.withRunningService(
            "registrations",
            { bed in
                try await RegistrationsService.makeHost(
                    RegistrationsConfiguration(service: bed.configuration(), vault: .ephemeral(), retention: Samples.retention),
                    logger: TestBroker.logger,
                    connectPatience: 5)
            }
        ) { bed, _ in
            for index in 0..<2 {
                try await bed.publishRaw(Data("{\"eventID\": \"e\"}".utf8), type: "registration.submit", messageID: "typo-\(index)")
            }
            try await bed.publish(Samples.programme())
            #expect(try await eventually(within: 10) { try await bed.messagesIn(bed.names.unroutedQueue) == 2 })

            let status = try await OpsTool.run(["status", "--no-health", "--json"], bed: bed)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
            #expect((report["unrouted"] as? [String: Any])?["messages"] as? Int == 2)
            let text = try await OpsTool.run(["status", "--no-health"], bed: bed)
            #expect(text.status == 1)
            #expect(text.output.contains("2 message(s) of a type no service consumes in \(bed.names.unroutedQueue)"))

            let list = try await OpsTool.run(["failed", "list", "--service", "unrouted"], bed: bed)
            #expect(list.status == 0, "\(list.output)")
            #expect(list.output.contains("2 × unrouted registration.submit [unknown-type]"))
            #expect(list.output.contains("no service consumes 'registration.submit'"))

            let retry = try await OpsTool.run(["failed", "retry", "--all", "--service", "unrouted"], bed: bed)
            #expect(retry.status == 64)
            let saved = bed.directory.appendingPathComponent("unrouted.jsonl").path
            let purge = try await OpsTool.run(
                [
                    "failed", "purge", "--all", "--service", "unrouted", "--out", saved, "--confirm",
                    "--audit-log", bed.directory.appendingPathComponent("audit.log").path,
                ], bed: bed)
            #expect(purge.status == 0, "\(purge.output)")
            #expect(try await bed.messagesIn(bed.names.unroutedQueue) == 0)
            #expect(try String(contentsOfFile: saved, encoding: .utf8).split(separator: "\n").count == 2)
        }
    }
}

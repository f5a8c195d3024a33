import AMQP
import Foundation
import GRDB
import Messages
import Synchronization
import TestSupport
import Testing

@testable import RegistrationsCore
@testable import ServiceRuntime

/// `registration.erase-requested` in the registrations service, in-process: the person's data
/// leaves every table, what accounting needs stays, the answer says what was found.
@Suite struct RegistrationErasureTests {
    static let markers = ["Delegate 1", "d1.erase-me@example.cn", "li.wei.erase-me@example.cn", "+86 755 1234 5678", "E00000001"]

    static func request(_ reference: String) -> RegistrationEraseRequested {
        RegistrationEraseRequested(
            eventID: "danang-2026-01", reference: reference, requestedBy: "ops-desk", reason: .request,
            requestedAt: Samples.danang(day: 20, 9))
    }

    @Test func erasingLeavesNoPersonalDataAndKeepsWhatAccountingNeeds() async throws {
        let (harness, _) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        let accepted = try #require(try await harness.send(Samples.submission(reference: "erase-me")).of(RegistrationAccepted.self).first)
        // The relay would have published the acceptance: mark it so, as the outbox then holds it.
        try await harness.write { db in try db.execute(sql: "UPDATE outbox SET published_at = created_at") }
        let before = try await harness.read { db in try StoreText.all(in: db) }
        for marker in Self.markers where marker != "E00000001" { #expect(before.contains(marker), "the test sees \(marker) before") }

        let answers = try await harness.send(Self.request("erase-me"), correlationID: "erase-1")
        let erased = try #require(answers.of(RegistrationErased.self).first)
        #expect(erased.registrationID == accepted.registrationID && erased.service == "registrations" && erased.found)
        #expect(answers.map(\.correlationID) == ["erase-1"])

        let after = try await harness.read { db in try StoreText.all(in: db) }
        for marker in Self.markers { #expect(!after.contains(marker), "\(marker) is gone") }
        // Kept: the registration, its status and numbers, the organisation.
        let record = try #require(
            try await harness.read { db in try RegistrationStore.registration(eventID: "danang-2026-01", reference: "erase-me", in: db) })
        #expect(record.status == .accepted && record.delegateCount == 2)
        #expect(record.delegation.organisation.name == "Shenzhen Logistics Co.")
        #expect(record.delegation.delegates.allSatisfy { $0.name == Erasure.name && $0.email == nil && $0.phone == nil })
        #expect(try await harness.read { db in try RegistrationStore.identity(registrationID: record.registrationID, in: db) } == nil)

        // Twice is harmless; a reference never seen is answered too.
        #expect(try await harness.send(Self.request("erase-me")).of(RegistrationErased.self).first?.found == true)
        #expect(try await harness.send(Self.request("never-seen")).of(RegistrationErased.self).first?.found == false)
    }

    /// Retention on a fake clock: nothing before the event's retention ends, then one request
    /// per registration, once; each, when consumed, erases, and the status says so.
    @Test func retentionAsksOnceForEveryRegistrationOfAnEventWhoseRetentionEnded() async throws {
        let (harness, handler) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        for reference in ["a", "b", "c"] { try await harness.send(Samples.submission(reference: reference)) }
        try await harness.write { db in try db.execute(sql: "UPDATE outbox SET published_at = created_at") }  // as the relay would
        let ends = Samples.danang(day: 15, 0)  // midnight after 14 January, in Da Nang
        let retention = 90.0 * 86400
        let status = try await harness.read { db in try RegistrationStore.retention(retention, in: db) }
        #expect(status.map(\.eventID) == ["danang-2026-01"] && status.first?.endsAt == ends)
        #expect(status.first?.eraseFrom == ends.addingTimeInterval(retention) && status.first?.registrations == 3)
        #expect(
            try await harness.read { db in try RegistrationStore.nextRetentionEnd(retention: retention, in: db) }
                == ends.addingTimeInterval(retention))

        let early = try await harness.write { db in
            try handler.requestDueErasures(now: ends.addingTimeInterval(retention - 1), retention: retention, in: db)
        }
        #expect(early.isEmpty)
        let due = try await harness.write { db in
            try handler.requestDueErasures(now: ends.addingTimeInterval(retention), retention: retention, in: db)
        }
        let requests = due.of(RegistrationEraseRequested.self)
        #expect(
            requests.map(\.reference) == ["a", "b", "c"] && requests.allSatisfy { $0.reason == .retention && $0.requestedBy == "retention" }
        )
        let again = try await harness.write { db in
            try handler.requestDueErasures(now: ends.addingTimeInterval(retention + 3600), retention: retention, in: db)
        }
        #expect(again.isEmpty, "asked once")
        #expect(try await harness.read { db in try RegistrationStore.nextRetentionEnd(retention: retention, in: db) } == nil)
        #expect(try await harness.read { db in try RegistrationStore.retention(retention, in: db) }.first?.requested == 3)

        for request in requests { try await harness.send(request) }
        let after = try await harness.read { db in try RegistrationStore.retention(retention, in: db) }
        #expect(after.first?.erased == 3 && after.first?.overdue(at: ends.addingTimeInterval(retention + 7200)) == 0)
        #expect(!(try await harness.read { db in try StoreText.all(in: db) }).contains("@example.cn"), "every address is gone")
    }

    /// A submission that was only ever refused still left a data key (its record for the
    /// archive and its answer are sealed under it): retention asks for its erasure too, once,
    /// and a reference refused and then accepted is asked for once.
    @Test func retentionAlsoErasesSubmissionsThatWereOnlyEverRefused() async throws {
        let (harness, handler) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        var refused = Samples.submission(reference: "refused")
        refused.consent.dataProcessing = false
        #expect(try await harness.send(refused).of(RegistrationRejected.self).count == 1)
        var fixed = Samples.submission(reference: "fixed")
        fixed.consent.dataProcessing = false
        try await harness.send(fixed)
        try await harness.send(Samples.submission(reference: "fixed", revision: 2))
        let ends = Samples.danang(day: 15, 0)
        let retention = 86400.0
        #expect(
            try await harness.read { db in try RegistrationStore.nextRetentionEnd(retention: retention, in: db) }
                == ends.addingTimeInterval(retention))

        let due = try await harness.write { db in
            try handler.requestDueErasures(now: ends.addingTimeInterval(retention), retention: retention, in: db)
        }
        let requests = due.of(RegistrationEraseRequested.self)
        #expect(requests.map(\.reference) == ["fixed", "refused"])
        #expect(due.map(\.correlationID) == ["fixed", "refused"].map { registrationID(eventID: "danang-2026-01", reference: $0) })
        #expect(try await harness.read { db in try RegistrationStore.nextRetentionEnd(retention: retention, in: db) } == nil)
        let again = try await harness.write { db in
            try handler.requestDueErasures(now: ends.addingTimeInterval(retention + 3600), retention: retention, in: db)
        }
        #expect(again.isEmpty, "asked once")

        for request in requests { try await harness.send(request) }
        let id = registrationID(eventID: "danang-2026-01", reference: "refused")
        #expect(try await harness.read { db in try handler.dataKey(id, in: db) } == .erased, "its key is gone")
        #expect(try await harness.read { db in try RegistrationStore.erasure(id, in: db)?.erasedAt } != nil)
    }

    /// After erasure, a submission (an amendment, or the same reference again) or a
    /// cancellation for the registration is ignored: nothing of it is stored, nothing answered.
    @Test func aSubmissionOrCancellationForAnErasedRegistrationIsIgnored() async throws {
        let log = LogCapture()
        let handler = RegistrationsHandler(
            vault: .ephemeral(), keys: try DataKeyStore(), clock: { Samples.danang(day: 5, 10) }, logger: log.logger)
        let harness = try HandlerHarness(handler.dispatcher, migrations: RegistrationStore.migrate)
        try await harness.send(Samples.programme(organisations: 1))
        try await harness.send(Samples.submission(reference: "erase-me"))
        try await harness.send(Samples.submission(reference: "waiting"))
        try await harness.send(Self.request("erase-me"))

        var amendment = Samples.submission(reference: "erase-me", revision: 2, delegates: 3)
        amendment.leadContact.email = "after.erasure@example.cn"
        amendment.leadContact.phone = "+86 20 8888 7777"
        amendment.delegates[2].identityDocument?.number = "E99999999"
        #expect(try await harness.send(amendment, messageID: "amend-1").isEmpty, "no record for the archive, no answer")
        let markers = ["after.erasure@example.cn", "+86 20 8888 7777", "E99999999", "d3.erase-me@example.cn", "Delegate 3"]
        let text = try await harness.read { db in try StoreText.all(in: db) }
        for marker in markers { #expect(!text.contains(marker), "\(marker) is not stored") }
        let record = try #require(
            try await harness.read { db in try RegistrationStore.registration(eventID: "danang-2026-01", reference: "erase-me", in: db) })
        #expect(record.revision == 1 && record.delegateCount == 2 && record.status == .accepted)
        #expect(try await harness.read { db in try RegistrationStore.identity(registrationID: record.registrationID, in: db) } == nil)

        // A cancellation changes nothing either: no answer, nobody moves up.
        let cancel = RegistrationCancelRequested(eventID: "danang-2026-01", reference: "erase-me")
        #expect(try await harness.send(cancel, messageID: "cancel-1").isEmpty)
        let statuses = try await harness.read { db in
            try RegistrationStore.registrations(eventID: "danang-2026-01", in: db).map(\.status)
        }
        #expect(statuses == [.accepted, .waitlisted])

        // Both are in the log, by their ids, with nothing of the people.
        let ignored = log.all.filter { $0.message.contains("erased") }
        #expect(ignored.map { $0.metadata["message.id"] } == ["amend-1", "cancel-1"])
        #expect(ignored.allSatisfy { $0.metadata["registration.id"] == record.registrationID })
        let logged = log.all.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        for marker in markers + ["li.wei.erase-me@example.cn", "Li Wei"] { #expect(!logged.contains(marker), "\(marker) is not logged") }
    }

    /// The schedule as the service runs it: on a fake clock it writes the requests to the
    /// outbox once the retention has ended, and says when it should wake next.
    @Test func theScheduleWritesTheDueRequestsToTheOutboxAndKnowsWhenToWake() async throws {
        let (harness, handler) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        try await harness.send(Samples.submission(reference: "a"))
        _ = try await harness.emitted()  // (the answers so far)
        let ends = Samples.danang(day: 15, 0)
        let now = Mutex(ends)
        let schedule = RetentionSchedule(
            context: harness.context(ServiceConfiguration(serviceName: "registrations", amqp: AMQPConfiguration(), storePath: "unused")),
            handler: handler, retention: 86400, clock: { now.withLock { $0 } })
        #expect(try await schedule.requestDue() == ends.addingTimeInterval(86400), "it wakes when the retention ends")
        #expect(try await harness.emitted().isEmpty)
        now.withLock { $0 = ends.addingTimeInterval(86400) }
        #expect(try await schedule.requestDue() == nil, "nothing left to ask")
        let requests = try await harness.emitted().of(RegistrationEraseRequested.self)
        #expect(requests.map(\.reference) == ["a"] && requests.first?.reason == .retention)
    }

    /// Messages still owed to the broker when the erasure comes (a relay behind) are published,
    /// then removed at once, not kept the usual day.
    @Test func messagesNotYetPublishedAreRemovedOnceTheBrokerHasThem() async throws {
        let (harness, _) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        let sent = try await harness.send(Samples.submission(reference: "erase-me"))
        let key = try #require(sent.of(RegistrationDataKey.self).first?.key)
        try await harness.send(Self.request("erase-me"))
        let owed = try await harness.read { db in try StoreText.all(in: db) }
        #expect(owed.contains(key), "the data key still waits for the relay")
        let erased = try await harness.write { db in
            let pending = try Int64.fetchAll(db, sql: "SELECT sequence FROM outbox WHERE published_at IS NULL")
            return try Outbox.markPublished(pending, at: Date(), in: db)
        }
        #expect(erased == 3, "the data key, the record of the submission and the acceptance go once confirmed")
        let after = try await harness.read { db in try StoreText.all(in: db) }
        #expect(!after.contains(key))
        #expect(try await harness.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") } == 1, "the answer stays its day")
    }
}

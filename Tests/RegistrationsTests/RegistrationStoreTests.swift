import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// The registrations store on GRDB records: a store written by an earlier version is migrated
/// (sortable times, identity documents in their own table), and a row the code cannot read is an
/// error naming it.
@Suite struct RegistrationStoreTests {
    static func temporaryPath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("registrations.sqlite").path
    }

    @Test func aStoreOfTheEarlierFormatIsMigratedAndKeepsEverything() async throws {
        let path = try Self.temporaryPath()
        // The store as the version before records left it.
        let old = try DatabaseQueue(path: path)
        try ServiceStore.migrator(RegistrationStore.migrate).migrate(old, upTo: "registrations-3")
        let delegation = try MessageCoding.encodeText(Samples.submission(reference: "old").delegation.withoutIdentityDocuments)
        try await old.write { db in
            try db.execute(
                sql: """
                    INSERT INTO events VALUES ('danang-2026-01', 2, 40, 200, '2026-01-10T10:00:00Z', 'enosta-hub,lien-chieu-port');
                    INSERT INTO registrations (registration_id, event_id, reference, revision, status, organisation, delegate_count,
                        delegation, identity_key_id, identity_ciphertext, waitlist_seq, correlation_id, created_at, updated_at,
                        submitted_at)
                    VALUES ('reg-a', 'danang-2026-01', 'a', 1, 'accepted', 'Org', 2, ?, 'k1', x'0102', NULL, 'c',
                        '2026-01-05T09:00:00.500Z', '2026-01-05T09:00:01Z', NULL),
                           ('reg-b', 'danang-2026-01', 'b', 1, 'waitlisted', 'Org', 2, ?, NULL, NULL, 1, NULL,
                        '2026-01-05T09:00:00Z', '2026-01-05T09:00:00Z', '2026-01-03T03:00:00Z');
                    INSERT INTO rejections (event_id, reference, revision, issues, rejected_at)
                    VALUES ('danang-2026-01', 'x', 1, '[]', '2026-01-05T09:00:02Z');
                    """, arguments: [delegation, delegation])
        }
        try old.close()

        let store = try ServiceStore(path: path, synchronous: .normal, migrations: RegistrationStore.migrate)
        try await store.database.read { db in
            let event = try #require(try RegistrationStore.event("danang-2026-01", in: db))
            #expect(event.siteVisitIDs == ["enosta-hub", "lien-chieu-port"])
            #expect(event.registrationDeadline == MessageCoding.parse("2026-01-10T10:00:00Z"))
            // b came at .000, a at .500 of the same second: in the old text a sorted first.
            #expect(try RegistrationStore.registrations(eventID: "danang-2026-01", in: db).map(\.reference) == ["b", "a"])
            #expect(
                try String.fetchAll(db, sql: "SELECT created_at FROM registrations ORDER BY created_at") == [
                    "2026-01-05T09:00:00.000Z", "2026-01-05T09:00:00.500Z",
                ])
            #expect(try RegistrationStore.identity(registrationID: "reg-a", in: db)?.ciphertext == Data([1, 2]))
            #expect(try RegistrationStore.identity(registrationID: "reg-b", in: db) == nil)
            #expect(try RegistrationStore.rejectionCount(eventID: "danang-2026-01", in: db) == 1)
        }
    }

    /// A store as version `registrations-6` left it, with two rejections.
    static func storeBeforeRejectionsKnewTheirRegistration() async throws -> ServiceStore {
        let path = try Self.temporaryPath()
        let old = try DatabaseQueue(path: path)
        try ServiceStore.migrator(RegistrationStore.migrate).migrate(old, upTo: "registrations-6")
        try await old.write { db in
            try db.execute(
                sql: """
                    INSERT INTO rejections (event_id, reference, revision, issues, rejected_at)
                    VALUES ('danang-2026-01', 'x', 1, '[]', '2026-01-05T09:00:02.000Z'), ('other', 'y', 1, '[]', '2026-01-05T09:00:03.000Z')
                    """)
        }
        try old.close()
        return try ServiceStore(path: path, synchronous: .normal, migrations: RegistrationStore.migrate)
    }

    /// `/counts` counts an event's rejections on every call: by an index, not by reading the
    /// whole table (a store of the earlier format gets the index when migrated).
    @Test func rejectionsAreCountedByAnIndexOnTheEvent() async throws {
        let store = try await Self.storeBeforeRejectionsKnewTheirRegistration()
        try await store.database.read { db in
            #expect(try RegistrationStore.rejectionCount(eventID: "danang-2026-01", in: db) == 1)
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT count(*) FROM rejections WHERE event_id = ?", arguments: ["e"])
                .map { $0["detail"] as String }.joined(separator: "; ")
            #expect(plan.contains("USING COVERING INDEX rejections_event"), "\(plan)")
        }
    }

    /// Retention erases what a refused submission left (its data key): a store of the earlier
    /// format learns which registration each of its rejections refused.
    @Test func aMigratedStoreKnowsWhichRegistrationEachRejectionRefused() async throws {
        let store = try await Self.storeBeforeRejectionsKnewTheirRegistration()
        let ids = try await store.database.read { db in try String.fetchAll(db, sql: "SELECT registration_id FROM rejections ORDER BY id") }
        #expect(ids == [registrationID(eventID: "danang-2026-01", reference: "x"), registrationID(eventID: "other", reference: "y")])
    }

    @Test func aRowTheCodeCannotReadIsAnErrorNamingItNeverADefault() async throws {
        let store = try ServiceStore(path: try Self.temporaryPath(), synchronous: .normal, migrations: RegistrationStore.migrate)
        let record = RegistrationRecord(
            registrationID: "reg-x", eventID: "e", reference: "x", revision: 1, status: .accepted,
            delegation: Samples.submission(reference: "x").delegation,
            createdAt: Date(), updatedAt: Date())
        try await store.database.write { db in
            try RegistrationStore.save(record, in: db)
            try db.execute(sql: "UPDATE registrations SET updated_at = 'yesterday' WHERE registration_id = 'reg-x'")
        }
        do {
            _ = try await store.database.read { db in try RegistrationStore.registration(id: "reg-x", in: db) }
            Issue.record("an unreadable time was read")
        } catch let error as UnreadableRow {
            #expect(error.table == "registrations" && error.key == "reg-x" && error.column == "updated_at")
            #expect(!error.description.contains("yesterday") && !error.description.contains("li.wei"), "no values in the error: \(error)")
        }
        // An event's time zone this system does not know is not taken for UTC.
        try await store.database.write { db in
            try RegistrationStore.save(EventProgramme(Samples.programme()), in: db)
            try db.execute(sql: "UPDATE events SET time_zone = 'Mars/Olympus_Mons'")
        }
        do {
            _ = try await store.database.read { db in try RegistrationStore.event("danang-2026-01", in: db) }
            Issue.record("an unknown time zone was read")
        } catch let error as UnreadableRow {
            #expect(error.table == "events" && error.key == "danang-2026-01" && error.column == "time_zone")
        }
        // SQLite itself refuses what it can check.
        await #expect(throws: DatabaseError.self) {
            try await store.database.write { db in
                try db.execute(sql: "UPDATE registrations SET status = 'maybe' WHERE registration_id = 'reg-x'")
            }
        }
    }
}

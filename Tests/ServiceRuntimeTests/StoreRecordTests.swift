import Foundation
import GRDB
import ServiceRuntime
import Testing

/// The kept-statement insert and upsert the hot paths use write what GRDB's own would.
@Suite struct StoreRecordTests {
    struct Visit: StoreRecord, Equatable {
        static let databaseTableName = "visits"
        var id: String
        var venue: String
        var seats: Int
        var at: Date
        var tags: [String]?
    }

    static func store() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(
                sql:
                    "CREATE TABLE visits (id TEXT PRIMARY KEY, venue TEXT NOT NULL UNIQUE, seats INTEGER NOT NULL, at TEXT NOT NULL, tags TEXT)"
            )
        }
        return queue
    }

    static let at = Date(timeIntervalSince1970: 1_768_289_400)

    @Test func aKeptInsertWritesWhatGRDBsInsertWrites() throws {
        let queue = try Self.store()
        let kept = Visit(id: "v1", venue: "Enosta", seats: 12, at: Self.at, tags: ["bus", "45a"])
        let plain = Visit(id: "v2", venue: "Hi-Tech Park", seats: 8, at: Self.at, tags: nil)
        try queue.write { db in
            #expect(try kept.insertKept(db))
            try plain.insert(db)
        }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM visits ORDER BY id") }
        #expect(rows[0]["at"] as String? == rows[1]["at"] as String?, "times in the same form")
        #expect(rows[0]["tags"] as String? == #"["bus","45a"]"#)
        #expect(rows[1]["tags"] as String? == nil)
        #expect(try queue.read { db in try Visit.fetchAll(db, sql: "SELECT * FROM visits ORDER BY id") } == [kept, plain])
    }

    @Test func aTakenKeyIsLeftAloneWhenConflictsAreIgnoredAndRefusedOtherwise() throws {
        let queue = try Self.store()
        let first = Visit(id: "v1", venue: "Enosta", seats: 12, at: Self.at)
        _ = try queue.write { db in try first.insertKept(db) }
        var again = first
        again.seats = 30
        #expect(try queue.write { db in try again.insertKept(db, ignoringConflicts: true) } == false)
        #expect(throws: DatabaseError.self) { try queue.write { db in try again.insertKept(db) } }
        #expect(try queue.read { db in try Visit.fetchOne(db, key: "v1") } == first)
    }

    @Test func aKeptUpsertInsertsThenSetsEveryOtherColumnAsGRDBsUpsertDoes() throws {
        let queue = try Self.store()
        var visit = Visit(id: "v1", venue: "Enosta", seats: 12, at: Self.at, tags: ["bus"])
        try queue.write { db in try visit.upsertKept(db) }
        visit.seats = 20
        visit.tags = nil
        visit.at = Self.at.addingTimeInterval(3600)
        try queue.write { db in try visit.upsertKept(db) }
        #expect(try queue.read { db in try Visit.fetchAll(db) } == [visit])
        // A conflict on another unique column updates that row, as GRDB's upsert does (no
        // conflict target); its key stays.
        let sameVenue = Visit(id: "v9", venue: "Enosta", seats: 5, at: Self.at)
        try queue.write { db in try sameVenue.upsertKept(db) }
        #expect(try queue.read { db in try Visit.fetchAll(db) } == [Visit(id: "v1", venue: "Enosta", seats: 5, at: Self.at)])
    }
}

import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

// MARK: - Identity documents judged on the day the submission arrived

extension RegistrationRulesTests {
    static func handler(keys: DataKeyStore, wallClock: Date) throws -> (HandlerHarness, RegistrationsHandler) {
        var validator = RegistrationValidator()
        validator.today = { wallClock }
        let handler = RegistrationsHandler(vault: .ephemeral(), keys: keys, validator: validator, clock: { wallClock })
        return (try HandlerHarness(handler.dispatcher, migrations: RegistrationStore.migrate), handler)
    }

    /// A store rebuilt from the archive weeks after the event judges each submission as the
    /// live service did: a passport valid on the day it arrived stays valid, whatever the
    /// clock says on the day of the replay.
    @Test func aReplayLaterKeepsARegistrationWhoseDocumentWasValidWhenItArrived() async throws {
        let keys = try DataKeyStore()
        let arrived = Samples.danang(day: 5, 10)
        var submission = Samples.submission(reference: "a")
        submission.delegates[0].identityDocument?.expiresOn = "2026-01-10"

        let (live, _) = try Self.handler(keys: keys, wallClock: arrived)
        try await live.send(Samples.programme())
        let taken = try await live.send(submission, messageID: "form-a", receivedAt: arrived)
        #expect(taken.of(RegistrationAccepted.self).map(\.reference) == ["a"])
        let recorded = try #require(taken.of(RegistrationRecorded.self).first)

        let (rebuilt, _) = try Self.handler(keys: keys, wallClock: Samples.danang(day: 30, 9))
        try await rebuilt.send(Samples.programme())
        let replayed = try await rebuilt.send(recorded, messageID: "archived-1")
        #expect(replayed.answers.map(\.type) == [.registrationAccepted])
        let record = try await rebuilt.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "a", in: db) }
        #expect(record?.status == .accepted)
    }

    /// The day is the event's: 06:00 on 11 January in Da Nang is 10 January in UTC, but a
    /// passport that expired on the 10th has expired in Da Nang.
    @Test func aDocumentsExpiryDayIsTheEventsDay() async throws {
        let arrived = Samples.danang(day: 11, 6)
        let (harness, _) = try Self.handler(keys: try DataKeyStore(), wallClock: arrived)
        try await harness.send(Samples.programme())
        var submission = Samples.submission(reference: "a")
        submission.delegates[1].identityDocument?.expiresOn = "2026-01-10"
        let answer = try await harness.send(submission, receivedAt: arrived)
        let rejected = try #require(answer.of(RegistrationRejected.self).first)
        #expect(rejected.issues.map(\.path) == ["delegates[1].identityDocument.expiresOn"])
        #expect(rejected.issues.map(\.code) == ["expired"])
        #expect(rejected.issues.first?.message.contains("2026-01-11") == true, "the day it was judged on")

        // A store whose programme was kept before time zones were learns it from the same version.
        try await harness.write { db in try db.execute(sql: "UPDATE events SET time_zone = NULL") }
        #expect(try await harness.read { db in try RegistrationStore.event(Self.event, in: db)?.timeZone } == nil)
        #expect(try await harness.send(Samples.programme()).isEmpty)
        #expect(try await harness.read { db in try String.fetchOne(db, sql: "SELECT time_zone FROM events") } == "Asia/Ho_Chi_Minh")
        #expect(
            try await harness.read { db in try RegistrationStore.event(Self.event, in: db)?.timeZone }
                == TimeZone(identifier: "Asia/Ho_Chi_Minh"))
    }
}

import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// Contract 1.3 in the registrations service, in-process: every answer's personal fields are
/// sealed under the registration's own data key, which goes to the consumers first; each
/// submission is recorded (sealed) for the archive, and a replay of the record rebuilds a store;
/// erasure deletes the key, after which nothing of the registration opens.
@Suite struct PersonalDataSealingTests {
    static let event = "danang-2026-01"
    static let clock = Samples.danang(day: 5, 10)

    static func harness(keys: DataKeyStore) throws -> (HandlerHarness, RegistrationsHandler) {
        let handler = RegistrationsHandler(vault: .ephemeral(), keys: keys, clock: { clock })
        return (try HandlerHarness(handler.dispatcher, migrations: RegistrationStore.migrate), handler)
    }

    static func text(_ messages: [OutboundMessage]) -> String {
        messages.map { String(decoding: $0.body, as: UTF8.self) }.joined(separator: "\n")
    }

    static func key(in messages: [OutboundMessage], for registrationID: String) throws -> DataKey {
        let announced = messages.of(RegistrationDataKey.self).first { $0.registrationID == registrationID }
        return try #require(announced?.key.flatMap { DataKey(base64: $0) })
    }

    @Test func everyAnswerCarriesThePeopleSealedUnderTheRegistrationsOwnKey() async throws {
        let (harness, _) = try Self.harness(keys: try DataKeyStore())
        try await harness.send(Samples.programme(organisations: 1))
        let submission = Samples.submission(reference: "a")
        let first = try await harness.send(submission, messageID: "form-a", correlationID: "corr-a")
        // The key first (to the consumers), then the record for the archive, then the answer.
        #expect(first.map(\.type) == [.registrationDataKey, .registrationRecorded, .registrationAccepted])
        let id = registrationID(eventID: Self.event, reference: "a")
        let key = try Self.key(in: first, for: id)
        for marker in ["Li Wei", "li.wei.a@example.cn", "+86 755 1234 5678", "Delegate 1", "d1.a@example.cn", "E00000001"] {
            #expect(!Self.text(first).contains(marker), "\(marker) is sealed")
        }
        let accepted = try #require(first.of(RegistrationAccepted.self).first)
        #expect(accepted.delegation.leadContact.email == Sealing.email && accepted.delegation.delegates.count == 2)
        #expect(accepted.delegation.delegates.map(\.needsInterpreter) == [true, false], "what planning needs stays readable")
        let opened = try accepted.opened(with: key)
        #expect(opened.delegation.leadContact == submission.leadContact)
        #expect(opened.delegation.delegates.map(\.email) == submission.delegates.map(\.email))
        #expect(opened.delegation.delegates.first?.identityDocument?.number == "E00000001")

        let recorded = try #require(first.of(RegistrationRecorded.self).first)
        #expect(recorded.submissionMessageID == "form-a" && recorded.correlationID == "corr-a")
        #expect(try recorded.opened(with: key).submission == submission)

        // Another registration has another key; its waiting-list answer and a rejection are sealed too.
        let second = try await harness.send(Samples.submission(reference: "b"))
        let otherKey = try Self.key(in: second, for: registrationID(eventID: Self.event, reference: "b"))
        #expect(otherKey != key)
        let waitlisted = try #require(second.of(RegistrationWaitlisted.self).first)
        #expect(throws: SealedDocumentError.doesNotOpen) { try waitlisted.sealedPersonalData?.open(with: key) }
        #expect(try waitlisted.opened(with: otherKey).delegation.leadContact.email == "li.wei.b@example.cn")
        // A sealed part moved into another registration's message does not open there.
        var moved = accepted
        moved.sealedPersonalData = waitlisted.sealedPersonalData
        #expect(throws: SealedDocumentError.unknownKey(waitlisted.registrationID)) { try moved.opened(with: otherKey) }

        var invalid = Samples.submission(reference: "c")
        invalid.consent.dataProcessing = false
        let refused = try await harness.send(invalid)
        let rejected = try #require(refused.of(RegistrationRejected.self).first)
        #expect(!Self.text(refused).contains("li.wei.c@example.cn"))
        let rejectionKey = try Self.key(in: refused, for: registrationID(eventID: Self.event, reference: "c"))
        #expect(try rejected.opened(with: rejectionKey).leadContact?.email == "li.wei.c@example.cn")
    }

    @Test func aKeyGoesOutOnceAndEveryKeyAgainOnRequest() async throws {
        let (harness, _) = try Self.harness(keys: try DataKeyStore())
        try await harness.send(Samples.programme())
        let first = try await harness.send(Samples.submission(reference: "a"))
        let amended = try await harness.send(Samples.submission(reference: "a", revision: 2, delegates: 3))
        #expect(amended.of(RegistrationDataKey.self).isEmpty, "the key went out with the first answer")
        let key = try Self.key(in: first, for: registrationID(eventID: Self.event, reference: "a"))
        #expect(try amended.of(RegistrationAccepted.self).first?.opened(with: key).delegation.delegates.count == 3)
        try await harness.send(Samples.submission(eventID: "other-event", reference: "x"))
        try await harness.send(Samples.submission(reference: "b"))
        try await harness.send(RegistrationErasureTests.request("b"))

        let resent = try await harness.send(
            RegistrationDataKeysRequested(eventID: Self.event, requestedBy: "test", requestedAt: Self.clock), correlationID: "keys-1")
        let keys = resent.of(RegistrationDataKey.self)
        #expect(keys.map(\.registrationID) == ["a", "b"].map { registrationID(eventID: Self.event, reference: $0) })
        #expect(keys.first?.key == key.base64)
        #expect(keys.last?.key == nil, "an erased registration's key goes as erased")
        #expect(resent.allSatisfy { $0.correlationID == "keys-1" })
        let all = try await harness.send(RegistrationDataKeysRequested(requestedBy: "test", requestedAt: Self.clock))
        #expect(all.count == 3, "without an event: every registration's")
    }

    @Test func afterErasureNothingOfTheRegistrationOpensAndLaterAnswersNameNobody() async throws {
        let (harness, handler) = try Self.harness(keys: try DataKeyStore())
        try await harness.send(Samples.programme(organisations: 1))
        try await harness.send(Samples.submission(reference: "first"))
        let waiting = try await harness.send(Samples.submission(reference: "erase-me"))
        let sealed = try #require(waiting.of(RegistrationWaitlisted.self).first)
        let answers = try await harness.send(RegistrationErasureTests.request("erase-me"))
        #expect(answers.of(RegistrationErased.self).first?.found == true)
        #expect(try await harness.read { db in try handler.dataKey(sealed.registrationID, in: db) } == .erased)
        // Its archived messages now read as erased, here and in every consumer.
        let reread = try await harness.read { db in try handler.opened(sealed, in: db) }
        #expect(reread.delegation.leadContact.name == Erasure.name && reread.sealedPersonalData == nil)
        // It is promoted later: the answer names nobody and seals nothing.
        let promoted = try await harness.send(RegistrationCancelRequested(eventID: Self.event, reference: "first"))
        let accepted = try #require(promoted.of(RegistrationAccepted.self).first)
        #expect(accepted.reference == "erase-me" && accepted.sealedPersonalData == nil)
        #expect(accepted.delegation.leadContact.email == Erasure.email)
        #expect(promoted.of(RegistrationDataKey.self).isEmpty, "no new key for an erased registration")
    }

    @Test func aReplayedRecordRebuildsTheStoreAndOneAlreadyTakenIsSkipped() async throws {
        let keys = try DataKeyStore()
        let (original, _) = try Self.harness(keys: keys)
        try await original.send(Samples.programme())
        let submitted = try await original.send(Samples.submission(reference: "a"), messageID: "form-a", correlationID: "corr-a")
        let recorded = try #require(submitted.of(RegistrationRecorded.self).first)
        let erasedLater = try #require(
            try await original.send(Samples.submission(reference: "gone")).of(RegistrationRecorded.self).first)
        try await original.send(RegistrationErasureTests.request("gone"))

        // The store that took the submission skips its record.
        #expect(try await original.send(recorded, messageID: "archived-1").isEmpty)

        // A store lost and rebuilt from the archive, with the same key file.
        let (rebuilt, _) = try Self.harness(keys: keys)
        try await rebuilt.send(Samples.programme())
        let replayed = try await rebuilt.send(recorded, messageID: "archived-1")
        #expect(replayed.map(\.type) == [.registrationDataKey, .registrationAccepted], "no new record: the archive has it")
        #expect(replayed.last?.correlationID == "corr-a")
        // The same ids as the first time (the key's announcement with the same body too), so
        // the consumers drop them as duplicates.
        func ids(_ harness: HandlerHarness, _ type: MessageType) async throws -> [String] {
            try await harness.read { db in
                try String.fetchAll(db, sql: "SELECT message_id FROM outbox WHERE message_type = ?", arguments: [type.rawValue])
            }
        }
        #expect(try await ids(rebuilt, .registrationAccepted) == ids(original, .registrationAccepted).prefix(1).map { $0 })
        #expect(try await ids(rebuilt, .registrationDataKey) == ids(original, .registrationDataKey).prefix(1).map { $0 })
        #expect(replayed.first?.body == submitted.first { $0.type == .registrationDataKey }?.body)
        let record = try #require(
            try await rebuilt.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "a", in: db) })
        #expect(record.delegation.leadContact.email == "li.wei.a@example.cn" && record.status == .accepted)
        // The submission's own id counts as taken now.
        #expect(try await rebuilt.send(Samples.submission(reference: "a"), messageID: "form-a").isEmpty)
        // An erased registration comes back without its people.
        try await rebuilt.send(erasedLater, messageID: "archived-2")
        let gone = try #require(
            try await rebuilt.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "gone", in: db) })
        #expect(gone.delegation.leadContact.email == Erasure.email && gone.delegation.delegates.allSatisfy { $0.name == Erasure.name })
    }

    /// An attempt that made the key and then rolled back (a crash before the commit) announced
    /// it in an outbox that never committed: the next attempt announces it.
    @Test func aKeyMadeByAnAttemptThatRolledBackIsAnnouncedByTheNext() async throws {
        let keys = try DataKeyStore()
        let (harness, _) = try Self.harness(keys: keys)
        try await harness.send(Samples.programme())
        let id = registrationID(eventID: Self.event, reference: "a")
        let made = try keys.key(for: id, eventID: Self.event, now: Self.clock)
        let answers = try await harness.send(Samples.submission(reference: "a"))
        let announced = try #require(answers.of(RegistrationDataKey.self).first)
        #expect(announced.key == made.key?.base64 && announced.issuedAt == made.madeAt)
        #expect(try await harness.send(Samples.submission(reference: "a", revision: 2)).of(RegistrationDataKey.self).isEmpty)
    }

    @Test func keyFilesMergeAndAnErasureInEitherWins() throws {
        let folder = try TemporaryFolder("keys")
        let first = try DataKeyStore(path: folder.path("1.keys"))
        let second = try DataKeyStore(path: folder.path("2.keys"))
        let a = try #require(try first.key(for: "reg-a", eventID: Self.event, now: Self.clock).key)
        _ = try first.key(for: "reg-b", eventID: Self.event, now: Self.clock)
        try first.forget("reg-c", eventID: Self.event, now: Self.clock)
        _ = try second.key(for: "reg-c", eventID: Self.event, now: Self.clock)
        _ = try second.key(for: "reg-d", eventID: Self.event, now: Self.clock)
        try second.forget("reg-b", eventID: Self.event, now: Self.clock)
        #expect(try second.importKeys(from: folder.path("1.keys")) == 2, "a added; c erased; b erased already")
        #expect(try second.state("reg-a") == .key(a))
        #expect(try second.state("reg-b") == .erased && second.state("reg-c") == .erased)
        if case .key = try second.state("reg-d") {} else { Issue.record("reg-d keeps its key") }
        #expect(throws: DataKeyStoreError.self) { try second.importKeys(from: folder.path("none.keys")) }
    }

    @Test func aRecordWhoseKeyFileIsLostIsParkedWithTheReason() async throws {
        let (original, _) = try Self.harness(keys: try DataKeyStore())
        try await original.send(Samples.programme())
        let recorded = try #require(try await original.send(Samples.submission(reference: "a")).of(RegistrationRecorded.self).first)
        let (rebuilt, _) = try Self.harness(keys: try DataKeyStore())
        try await rebuilt.send(Samples.programme())
        guard case .park(_, let reason, _, _) = try await rebuilt.apply(recorded) else {
            Issue.record("a key that was never made will not come: parked")
            return
        }
        #expect(reason.contains("no data key in the key file (REGISTRATIONS_KEY_STORE_PATH)"), "\(reason)")
    }

    @Test func anUnreadableSubmissionsAnswerSealsTheContactItFound() throws {
        let (harness, _) = try Self.harness(keys: try DataKeyStore())
        let body = """
            {"eventID":"\(Self.event)","reference":"broken","revision":"one",\
            "leadContact":{"name":"Li Wei","email":"li.wei.broken@example.cn","language":"zh-Hans"}}
            """
        let answers = harness.answers(toBody: body, type: .registrationSubmitted)
        #expect(answers.map(\.type) == [.registrationDataKey, .registrationRejected])
        #expect(!Self.text(answers).contains("li.wei.broken@example.cn"))
        let key = try Self.key(in: answers, for: registrationID(eventID: Self.event, reference: "broken"))
        #expect(try answers.of(RegistrationRejected.self).first?.opened(with: key).leadContact?.email == "li.wei.broken@example.cn")
    }
}

import Foundation

@testable import Messages

/// Values of every message type built in Swift, for the drift tests in `ContractTests`.
///
/// `full` sets every optional and fills every array (ContractTests checks that it does), so a
/// field added to a type but not to its schema shows up as an unexpected property. `minimal`
/// leaves every optional nil and every defaulted field at its default, so a schema that
/// requires a field the type does not always write shows up as a missing property.
enum Fixtures {
    static func full(_ type: MessageType) -> any MessagePayload {
        switch type {
        case .registrationSubmitted:
            return fullSubmission
        case .registrationCancelRequested:
            return RegistrationCancelRequested(
                eventID: eventID, reference: "fixture-0001", reason: "Flight cancelled.", requestedAt: time("2026-01-12T18:20:00+07:00")
            )
        case .registrationAccepted:
            var accepted = RegistrationAccepted(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0001", revision: 2, delegation: fullDelegation,
                promoted: true, acceptedAt: time("2026-01-10T08:00:00+07:00"), submittedAt: time("2026-01-06T11:20:00+07:00")
            )
            accepted.sealedPersonalData = sealedPersonalData
            accepted.batch = BatchPosition(id: "import-2026-01-06", index: 11, count: 38)
            return accepted
        case .registrationWaitlisted:
            var waitlisted = RegistrationWaitlisted(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0001", revision: 2, position: 1,
                delegation: fullDelegation, waitlistedAt: time("2026-01-09T16:42:10+07:00")
            )
            waitlisted.sealedPersonalData = sealedPersonalData
            return waitlisted
        case .registrationRejected:
            var rejected = RegistrationRejected(
                eventID: eventID, reference: "fixture-0001", revision: 1,
                issues: [ValidationIssue(path: "delegates[0].email", code: "invalid_format", message: "Not an e-mail address.")],
                leadContact: fullContact, rejectedAt: time("2026-01-06T09:03:44+07:00"), request: .registrationSubmitted,
                registrationID: "reg-fixture", standing: .init(revision: 1, status: .accepted)
            )
            rejected.sealedPersonalData = sealedPersonalData
            return rejected
        case .registrationCancelled:
            var cancelled = RegistrationCancelled(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0001", reason: "Flight cancelled.",
                delegation: fullDelegation, cancelledAt: time("2026-01-12T18:20:03+07:00")
            )
            cancelled.sealedPersonalData = sealedPersonalData
            return cancelled
        case .programmePublished:
            return ProgrammePublished(
                eventID: eventID, version: 1, name: text("Da Nang – China networking"), timeZone: "Asia/Ho_Chi_Minh",
                days: ["2026-01-13"], capacity: EventCapacity(organisations: 35, delegates: 110),
                registrationDeadline: time("2026-01-09T17:00:00+07:00"),
                sessions: [
                    FixedSession(
                        id: "networking", title: text("Networking session"), venueID: "lien-chieu-port",
                        start: time("2026-01-13T08:30:00+07:00"), end: time("2026-01-13T10:00:00+07:00")
                    )
                ],
                venues: [
                    Venue(
                        id: "lien-chieu-port", name: text("Lien Chieu Port"), address: "Cảng Liên Chiểu, Liên Chiểu, Đà Nẵng",
                        coordinates: Coordinates(latitude: 16.1224, longitude: 108.1301),
                        openingWindows: [TimeWindow(start: time("2026-01-14T08:00:00+07:00"), end: time("2026-01-14T11:30:00+07:00"))],
                        visitMinutes: 90, capacityPerVisit: 60, topics: ["logistics"],
                        restrictedAccess: RestrictedAccess(
                            documents: [.passport, .nationalID], deadline: time("2026-01-09T17:00:00+07:00")),
                        isSiteVisit: true
                    )
                ],
                buses: [Bus(id: "bus-1", seats: 45)],
                travel: TravelTimes(
                    matrix: [TravelTime(from: "lien-chieu-port", to: "hightech-park-ftz", minutes: 35)], roadSpeedKmh: 30, detourFactor: 1.4
                ),
                interpreters: [Interpreter(id: "interp-01", languages: [.chineseSimplified, .vietnamese])],
                meetingSlots: [
                    MeetingSlot(
                        id: "b2b-1", venueID: "lien-chieu-port", start: time("2026-01-13T10:00:00+07:00"),
                        end: time("2026-01-13T10:30:00+07:00"), tables: 12)
                ],
                missingRiderAlerts: MissingRiderAlerts(enabled: true, afterMinutes: 10), publishedAt: time("2026-01-08T15:00:00.250+07:00")
            )
        case .itineraryPlanned:
            return ItineraryPlanned(
                eventID: eventID, registrationID: "reg-fixture", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                items: [fullItem], unmet: [fullUnmet], plannedAt: time("2026-01-09T17:30:00+07:00")
            )
        case .itineraryChanged:
            var moved = fullItem
            moved.start = time("2026-01-13T14:30:00+07:00")
            moved.end = time("2026-01-13T15:00:00+07:00")
            return ItineraryChanged(
                eventID: eventID, registrationID: "reg-fixture", planVersion: 2, previousVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                changes: [ItineraryChange(uid: fullItem.uid, kind: .moved, before: fullItem, after: moved)],
                items: [moved], unmet: [fullUnmet], changedAt: time("2026-01-13T11:45:00+07:00")
            )
        case .notificationDelivered:
            return NotificationDelivered(
                notificationID: "ntf-fixture", idempotencyKey: "key-4d7a754dc893630752f7590b41f630a1ef0bbcfab11234d80916baa094e39aba",
                registrationID: "reg-fixture",
                kind: .accepted, channel: .email, language: .vietnamese, attempts: 1, deliveredAt: time("2026-01-10T08:00:05+07:00")
            )
        case .notificationFailed:
            return NotificationFailed(
                notificationID: "ntf-fixture", idempotencyKey: "key-4d7a754dc893630752f7590b41f630a1ef0bbcfab11234d80916baa094e39aba",
                registrationID: "reg-fixture",
                kind: .accepted, channel: .webhook, reason: "HTTP 503", permanent: false, attempts: 6,
                failedAt: time("2026-01-10T09:00:00+07:00")
            )
        case .notificationResendRequested:
            return NotificationResendRequested(
                notificationID: "ntf-fixture", registrationID: "reg-fixture", eventID: eventID, requestID: "console-fixture",
                requestedBy: "mai", requestedAt: time("2026-01-10T10:00:00+07:00"))
        case .checkinRecorded:
            return CheckinRecorded(
                checkinID: "scan-fixture", eventID: eventID, registrationID: "reg-fixture", person: 2, kind: .boarded, day: "2026-01-14",
                busID: "bus-1", venueID: "hotel-novotel", method: .scan, marshal: "tuan", scannedAt: time("2026-01-14T07:41:00+07:00"))
        case .boardingMissed:
            return BoardingMissed(
                alertID: "reg-fixture~2026-01-14~bus-1", eventID: eventID, registrationID: "reg-fixture", day: "2026-01-14", busID: "bus-1",
                venueID: "ariyana-convention-centre", departure: time("2026-01-14T13:00:00+07:00"), persons: [2, 3],
                answerURL: "https://console.example.org/answer?t=DA1.p2026.ZGFuYW5nfnJlZ34wfjE3Njg0MTAwMDA.AAAAAAAAAAAAAAAAAAAAAA",
                raisedAt: time("2026-01-14T13:05:00+07:00"))
        case .attendanceDeclined:
            return AttendanceDeclined(
                declineID: "reg-fixture~2026-01-14~3", eventID: eventID, registrationID: "reg-fixture", persons: [3], day: "2026-01-14",
                source: .console, recordedBy: "tuan", declinedAt: time("2026-01-14T13:12:00+07:00"))
        case .planOverrideRequested:
            return PlanOverrideRequested(
                eventID: eventID, overrideID: "fixture-override", kind: .reserveSeats, withdraw: true, reference: "fixture-0001",
                busID: "bus-1", day: "2026-01-13", venueID: "lien-chieu-port", seats: 4, reason: "Seats for the press.",
                requestedBy: "ops-desk", requestedAt: time("2026-01-12T16:05:00+07:00")
            )
        case .planOverrideDecided:
            return PlanOverrideDecided(
                eventID: eventID, overrideID: "fixture-override", outcome: .applied, reason: "Kept.", cost: 2.5, planVersion: 4,
                decidedAt: time("2026-01-12T16:05:04+07:00")
            )
        case .planReoptimiseRequested:
            return PlanReoptimiseRequested(
                eventID: eventID, requestID: "fixture-request-2", applyPreview: "fixture-request-1", requestedBy: "ops-desk",
                requestedAt: time("2026-01-12T16:40:00+07:00")
            )
        case .planReoptimised:
            return PlanReoptimised(
                eventID: eventID, requestID: "fixture-request-2", outcome: .applied, reason: "Applied.", valueBefore: 771.5,
                valueAfter: 977, moved: ["reg-fixture"], basedOnVersion: 4, planVersion: 5, decidedAt: time("2026-01-12T16:40:03+07:00")
            )
        case .registrationEraseRequested:
            return RegistrationEraseRequested(
                eventID: eventID, reference: "fixture-0001", requestedBy: "ops-desk", reason: .request,
                requestedAt: time("2026-02-01T09:00:00+07:00"))
        case .registrationErased:
            return RegistrationErased(
                eventID: eventID, registrationID: "reg-fixture", reference: "fixture-0001", service: "notifications", found: true,
                erasedAt: time("2026-02-01T09:00:02+07:00"))
        case .registrationRecorded:
            return RegistrationRecorded(
                registrationID: "reg-fixture", submissionMessageID: "crm-4711", receivedAt: time("2026-01-05T10:15:02+07:00"),
                correlationID: "crm-4711", submission: fullSubmission,
                sealedPersonalData: sealedPersonalData)
        case .registrationDataKey:
            return RegistrationDataKey(
                eventID: eventID, registrationID: "reg-fixture", key: "q5bN0q8cVd7s1wW3Q6m0ZHqk3cH0D1y7E3bDq6xHn2A=",
                issuedAt: time("2026-01-05T10:15:02+07:00"))
        case .registrationDataKeysRequested:
            return RegistrationDataKeysRequested(
                eventID: eventID, requestedBy: "delegation-ops replay", requestedAt: time("2026-01-12T09:00:00+07:00"))
        }
    }

    static func minimal(_ type: MessageType) -> any MessagePayload {
        switch type {
        case .registrationSubmitted:
            return minimalSubmission
        case .registrationCancelRequested:
            return RegistrationCancelRequested(eventID: eventID, reference: "fixture-0002")
        case .registrationAccepted:
            return RegistrationAccepted(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0002", revision: 1, delegation: minimalDelegation,
                acceptedAt: time("2026-01-10T08:00:00+07:00")
            )
        case .registrationWaitlisted:
            return RegistrationWaitlisted(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0002", revision: 1, position: 1,
                delegation: minimalDelegation, waitlistedAt: time("2026-01-09T16:42:10+07:00")
            )
        case .registrationRejected:
            return RegistrationRejected(
                eventID: nil, reference: nil, revision: nil,
                issues: [ValidationIssue(path: "", code: "invalid_value", message: "The body is not a registration.")],
                rejectedAt: time("2026-01-06T09:03:44+07:00")
            )
        case .registrationCancelled:
            return RegistrationCancelled(
                registrationID: "reg-fixture", eventID: eventID, reference: "fixture-0002", reason: nil, delegation: minimalDelegation,
                cancelledAt: time("2026-01-12T18:20:03+07:00")
            )
        case .programmePublished:
            return ProgrammePublished(
                eventID: eventID, version: 1, name: text("Da Nang – China networking"), timeZone: "Asia/Ho_Chi_Minh",
                days: ["2026-01-13"], capacity: EventCapacity(organisations: 0, delegates: 0), sessions: [], venues: [], buses: [],
                travel: TravelTimes(), interpreters: [], meetingSlots: [], publishedAt: time("2026-01-08T15:00:00+07:00")
            )
        case .itineraryPlanned:
            return ItineraryPlanned(
                eventID: eventID, registrationID: "reg-fixture", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh", items: [], unmet: [],
                plannedAt: time("2026-01-09T17:30:00+07:00")
            )
        case .itineraryChanged:
            return ItineraryChanged(
                eventID: eventID, registrationID: "reg-fixture", planVersion: 2, previousVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                changes: [], items: [], unmet: [], changedAt: time("2026-01-13T11:45:00+07:00")
            )
        case .notificationDelivered:
            return NotificationDelivered(
                notificationID: "ntf-fixture", idempotencyKey: "key", registrationID: nil, kind: .digest, channel: .email,
                language: .english,
                attempts: 1, deliveredAt: time("2026-01-10T08:00:05+07:00")
            )
        case .notificationFailed:
            return NotificationFailed(
                notificationID: "ntf-fixture", idempotencyKey: "key", registrationID: nil, kind: .digest, channel: .email,
                reason: "550 5.1.1",
                permanent: true, attempts: 1, failedAt: time("2026-01-10T09:00:00+07:00")
            )
        case .notificationResendRequested:
            return NotificationResendRequested(
                notificationID: "ntf-fixture", registrationID: "reg-fixture", eventID: eventID, requestID: "console-fixture")
        case .checkinRecorded:
            return CheckinRecorded(
                checkinID: "scan-fixture", eventID: eventID, registrationID: "reg-fixture", person: 1, kind: .arrived, day: "2026-01-14",
                method: .code, marshal: "tuan", scannedAt: time("2026-01-14T08:31:00+07:00"))
        case .boardingMissed:
            return BoardingMissed(
                alertID: "reg-fixture~2026-01-14~bus-1", eventID: eventID, registrationID: "reg-fixture", day: "2026-01-14", busID: "bus-1",
                departure: time("2026-01-14T13:00:00+07:00"), persons: [1], raisedAt: time("2026-01-14T13:05:00+07:00"))
        case .attendanceDeclined:
            return AttendanceDeclined(
                declineID: "reg-fixture~2026-01-14~1", eventID: eventID, registrationID: "reg-fixture", persons: [1], day: "2026-01-14",
                source: .lead, declinedAt: time("2026-01-14T13:12:00+07:00"))
        case .planOverrideRequested:
            return PlanOverrideRequested(eventID: eventID, overrideID: "fixture-override", kind: nil)
        case .planOverrideDecided:
            return PlanOverrideDecided(
                eventID: eventID, overrideID: "fixture-override", outcome: .withdrawn, decidedAt: time("2026-01-12T16:05:04+07:00"))
        case .planReoptimiseRequested:
            return PlanReoptimiseRequested(eventID: eventID, requestID: "fixture-request-1")
        case .planReoptimised:
            return PlanReoptimised(
                eventID: eventID, requestID: "fixture-request-1", outcome: .previewed, valueBefore: 0, valueAfter: 0, moved: [],
                decidedAt: time("2026-01-12T16:31:12+07:00")
            )
        case .registrationEraseRequested:
            return RegistrationEraseRequested(
                eventID: eventID, reference: "fixture-0001", requestedBy: "retention", reason: .retention,
                requestedAt: time("2026-04-15T00:00:00+07:00"))
        case .registrationErased:
            return RegistrationErased(
                eventID: eventID, registrationID: "reg-fixture", reference: "fixture-0001", service: "itineraries", found: false,
                erasedAt: time("2026-04-15T00:00:01+07:00"))
        case .registrationRecorded:
            return RegistrationRecorded(
                registrationID: "reg-fixture", submissionMessageID: "crm-4712", receivedAt: time("2026-01-05T10:15:02+07:00"),
                correlationID: "crm-4712", submission: minimalSubmission)
        case .registrationDataKey:
            return RegistrationDataKey(
                eventID: eventID, registrationID: "reg-fixture", key: nil, issuedAt: time("2026-04-15T00:00:01+07:00"))
        case .registrationDataKeysRequested:
            return RegistrationDataKeysRequested(requestedBy: "ops-desk", requestedAt: time("2026-01-12T09:00:00+07:00"))
        }
    }

    static let eventID = "danang-china-2026-01"

    static var fullSubmission: RegistrationSubmitted {
        var submission = RegistrationSubmitted(
            eventID: eventID, reference: "fixture-0001", revision: 2, delegation: fullDelegation,
            consent: Consent(dataProcessing: true, givenAt: time("2026-01-05T10:12:00+07:00")),
            submittedAt: time("2026-01-05T10:15:00+07:00"))
        submission.batch = BatchPosition(id: "import-2026-01-06", index: 11, count: 38)
        return submission
    }

    static let minimalSubmission = RegistrationSubmitted(
        eventID: eventID, reference: "fixture-0002", delegation: minimalDelegation, consent: Consent(dataProcessing: true))

    /// Well-formed, though not sealed under any key the fixtures hold.
    static let sealedPersonalData = SealedPersonalData(
        keyID: "reg-fixture", sealed: "3q2+7wAAAAAAAAAAc2VhbGVkIHBlcnNvbmFsIGRhdGEgZml4dHVyZSB0YWcxMjM0NTY=")

    static let fullContact = Contact(
        name: "Li Wei", title: "General Manager", email: "li.wei@hailian-logistics.example", phone: "+8613800000001",
        language: .chineseSimplified, channels: [.wechat, .sms, .email], wechatOpenID: "oLiWei_fixture-0001")

    static let fullDelegation = Delegation(
        organisation: Organisation(
            name: "Shenzhen Hailian Cross-Border Logistics Co., Ltd.", localName: "深圳市海联跨境物流有限公司", country: "CN",
            sectors: ["logistics"], website: "https://www.hailian-logistics.example"
        ),
        role: .visiting,
        leadContact: fullContact,
        delegates: [
            Delegate(
                name: "Li Wei", title: "General Manager", email: "li.wei@hailian-logistics.example", phone: "+8613800000001",
                language: .chineseSimplified, needsInterpreter: true, accessibilityNeeds: "wheelchair",
                identityDocument: IdentityDocument(
                    kind: .passport, number: "E00000001", issuingCountry: "CN", fullName: "LI WEI", dateOfBirth: "1978-03-15",
                    expiresOn: "2031-06-30"
                ),
                // (the service refuses both at once; the schema is checked for each)
                sealedIdentityDocument: SealedDocument(
                    keyID: "r2026", enc: "n6Ia1hHTRzmqgr8wz4H4bYhXa5sBVhn9mVyVr1g04kU=",
                    ciphertext: "2b0cM0PMq6cTl2Pm6MxuQg7TuvG7p8kRi3nC8ZbU0n2mLQ0x1v9n7g=="),
                sealedIdentityDocumentCopies: [
                    SealedDocument(
                        keyID: "console2026", enc: "Q3V0ZSBhcyBhIGJ1dHRvbiwgdGhpcyBpcyBub3QgYSBrZXk=",
                        ciphertext: "b2YgYSBjb3B5IHNlYWxlZCB0byB0aGUgY29uc29sZQ==")
                ],
                channels: [.wechat, .email], wechatOpenID: "oLiWei_fixture-0001"
            )
        ],
        interests: Interests(sectors: ["logistics"], topics: ["supply-chain"]),
        preferredVisits: ["lien-chieu-port"]
    )

    static let minimalDelegation = Delegation(
        organisation: Organisation(name: "Công ty Cổ phần Logistics Sông Hàn", country: "VN"),
        role: .host,
        leadContact: Contact(name: "Nguyễn Thị Thu Hà", email: "ha.nguyen@songhan-logistics.example.vn", language: .vietnamese),
        delegates: [Delegate(name: "Nguyễn Thị Thu Hà", language: .vietnamese)]
    )

    static let fullItem = ItineraryItem(
        uid: "reg-fixture.meeting.b2b-1", kind: .meeting, title: text("Meeting: Song Han Logistics JSC"), venueID: "enosta-hall",
        address: "280–282 Trần Hưng Đạo, Công viên Phần mềm số 2, Đà Nẵng", start: time("2026-01-13T10:00:00+07:00"),
        end: time("2026-01-13T10:30:00+07:00"), busID: "bus-1", counterpart: "Công ty Cổ phần Logistics Sông Hàn",
        table: 4, sequence: 2
    )

    static let fullUnmet = UnmetPreference(venueID: "dsac", reason: .documentsMissing, detail: "No passport on file.")

    static func text(_ english: String) -> LocalizedText {
        LocalizedText(en: english, vi: "(vi) \(english)", zhHans: "(zh) \(english)")
    }

    /// A fixed time written in the fixtures; a typo here is a bug in the test, not input.
    static func time(_ text: String) -> Date {
        guard let date = MessageCoding.parse(text) else { preconditionFailure("fixture time '\(text)' is not ISO-8601") }
        return date
    }
}

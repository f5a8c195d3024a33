import Foundation
import Messages
import TestSupport
import Testing

@testable import RegistrationsCore

/// One rule of `RegistrationValidator` broken on an otherwise valid submission, and the one
/// issue that must come back for it.
struct BrokenRule: Sendable, CustomTestStringConvertible {
    var rule: String
    var path: String
    var code: String
    /// What the message must name so that a person knows what to fix (case-insensitive).
    var mentions: String
    var breakIt: @Sendable (inout RegistrationSubmitted) -> Void

    init(
        _ rule: String, _ path: String, _ code: String, mentions: String,
        _ breakIt: @escaping @Sendable (inout RegistrationSubmitted) -> Void
    ) {
        self.rule = rule
        self.path = path
        self.code = code
        self.mentions = mentions
        self.breakIt = breakIt
    }

    var testDescription: String { "\(rule) → \(path) \(code)" }
}

@Suite struct ValidatorTests {
    /// 2026-01-05 09:00 in Da Nang: registration is open, the sample's passports are valid.
    static let today = Samples.danang(day: 5, 9)
    static let programme = EventProgramme(Samples.programme())

    static func validator(today: Date = today) -> RegistrationValidator {
        var validator = RegistrationValidator()
        validator.today = { today }
        return validator
    }

    static func sample() -> RegistrationSubmitted { Samples.submission(reference: "acme-0001") }

    static func string(_ length: Int, of character: Character = "x") -> String { String(repeating: character, count: length) }

    /// Checks that breaking `rule` yields exactly its issue, with a message a person can act on.
    func expectOnly(_ rule: BrokenRule, programme: EventProgramme? = programme, validator: RegistrationValidator = validator()) {
        var submission = Self.sample()
        rule.breakIt(&submission)
        let issues = validator.issues(in: submission, programme: programme)
        #expect(issues.map(\.path) == [rule.path])
        #expect(issues.map(\.code) == [rule.code])
        for issue in issues {
            #expect(issue.message.count >= 15, "too short to be a sentence: \(issue.message)")
            #expect(issue.message.localizedCaseInsensitiveContains(rule.mentions), "'\(issue.message)' does not mention \(rule.mentions)")
            #expect(!issue.message.contains("Optional("), "leaks an Optional: \(issue.message)")
        }
    }

    // MARK: The valid sample

    @Test func sampleSubmissionHasNoIssuesWithOrWithoutItsProgramme() {
        #expect(Self.validator().issues(in: Self.sample(), programme: Self.programme) == [])
        #expect(Self.validator().issues(in: Self.sample(), programme: nil) == [])
    }

    @Test func delegatesWithoutEmailPhoneOrDocumentAreValid() {
        var submission = Self.sample()
        submission.delegates = [Delegate(name: "Trần Minh", language: .vietnamese)]
        #expect(Self.validator().issues(in: submission, programme: Self.programme) == [])
    }

    // MARK: Event, reference, revision

    static let brokenIdentity: [BrokenRule] = [
        BrokenRule("empty eventID", "eventID", "required", mentions: "eventID") { $0.eventID = "" },
        BrokenRule("eventID of 65 characters", "eventID", "too_long", mentions: "64") { $0.eventID = string(65) },
        BrokenRule("eventID with a space", "eventID", "invalid_format", mentions: "eventID") { $0.eventID = "danang 2026" },
        BrokenRule("eventID with a slash", "eventID", "invalid_format", mentions: "eventID") { $0.eventID = "danang/2026" },
        BrokenRule("eventID with non-ASCII letters", "eventID", "invalid_format", mentions: "ASCII") { $0.eventID = "đà-nẵng-2026" },
        BrokenRule("empty reference", "reference", "required", mentions: "reference") { $0.reference = "" },
        BrokenRule("blank reference", "reference", "required", mentions: "reference") { $0.reference = "   " },
        BrokenRule("reference of 129 characters", "reference", "too_long", mentions: "reference") { $0.reference = string(129) },
        BrokenRule("revision 0", "revision", "invalid_value", mentions: "revision") { $0.revision = 0 },
        BrokenRule("negative revision", "revision", "invalid_value", mentions: "revision") { $0.revision = -3 },
    ]

    @Test(arguments: brokenIdentity)
    func eventReferenceAndRevisionRules(_ rule: BrokenRule) { expectOnly(rule) }

    @Test func referenceOf128CharactersAndEventIDOf64AreAccepted() {
        var submission = Self.sample()
        submission.reference = Self.string(128)
        submission.eventID = "danang-2026-01." + Self.string(49, of: "a")
        #expect(submission.eventID.count == 64)
        #expect(Self.validator().issues(in: submission, programme: nil) == [])
    }

    // MARK: Organisation

    static let brokenOrganisation: [BrokenRule] = [
        BrokenRule("empty organisation name", "organisation.name", "required", mentions: "organisation.name") { $0.organisation.name = "" },
        BrokenRule("blank organisation name", "organisation.name", "required", mentions: "organisation.name") {
            $0.organisation.name = " \n\t"
        },
        BrokenRule("organisation name of 201 characters", "organisation.name", "too_long", mentions: "200") {
            $0.organisation.name = string(201)
        },
        BrokenRule("local name of 201 characters", "organisation.localName", "too_long", mentions: "localName") {
            $0.organisation.localName = string(201, of: "深")
        },
        BrokenRule("lower-case country", "organisation.country", "invalid_format", mentions: "organisation.country") {
            $0.organisation.country = "cn"
        },
        BrokenRule("alpha-3 country", "organisation.country", "invalid_format", mentions: "ISO 3166") { $0.organisation.country = "CHN" },
        BrokenRule("empty country", "organisation.country", "invalid_format", mentions: "organisation.country") {
            $0.organisation.country = ""
        },
        BrokenRule("country in Chinese", "organisation.country", "invalid_format", mentions: "中国") {
            $0.organisation.country = "中国"
        },
        BrokenRule("21 sectors", "organisation.sectors", "too_many", mentions: "20") {
            $0.organisation.sectors = (1...21).map { "sector-\($0)" }
        },
        BrokenRule("empty sector tag", "organisation.sectors[1]", "invalid_value", mentions: "tags") {
            $0.organisation.sectors = ["logistics", ""]
        },
        BrokenRule("sector tag of 51 characters", "organisation.sectors[0]", "invalid_value", mentions: "50") {
            $0.organisation.sectors = [string(51)]
        },
        BrokenRule("website without a scheme", "organisation.website", "invalid_format", mentions: "website") {
            $0.organisation.website = "logistics.example.cn"
        },
        BrokenRule("ftp website", "organisation.website", "invalid_format", mentions: "http") {
            $0.organisation.website = "ftp://files.example.cn"
        },
        BrokenRule("javascript website", "organisation.website", "invalid_format", mentions: "website") {
            $0.organisation.website = "javascript:alert(1)"
        },
        BrokenRule("website without a host", "organisation.website", "invalid_format", mentions: "website") {
            $0.organisation.website = "https://"
        },
    ]

    @Test(arguments: brokenOrganisation)
    func organisationRules(_ rule: BrokenRule) { expectOnly(rule) }

    @Test(arguments: ["http://logistics.example.cn", "https://www.example.vn/vi/gioi-thieu"])
    func httpAndHTTPSWebsitesAreAccepted(_ website: String) {
        var submission = Self.sample()
        submission.organisation.website = website
        #expect(Self.validator().issues(in: submission, programme: nil) == [])
    }

    // MARK: Lead contact

    static let brokenLeadContact: [BrokenRule] = [
        BrokenRule("empty lead contact name", "leadContact.name", "required", mentions: "leadContact.name") { $0.leadContact.name = "" },
        BrokenRule("lead e-mail without @", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li.wei.example.cn"
        },
        BrokenRule("lead e-mail without a domain dot", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li.wei@example"
        },
        BrokenRule("lead e-mail without a local part", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "@example.cn"
        },
        BrokenRule("lead e-mail with two @", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li@wei@example.cn"
        },
        BrokenRule("lead e-mail with a space", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li wei@example.cn"
        },
        BrokenRule("lead e-mail domain starting with a dot", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li@.example.cn"
        },
        BrokenRule("lead e-mail domain ending with a dot", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = "li@example.cn."
        },
        BrokenRule("lead e-mail of 255 characters", "leadContact.email", "invalid_format", mentions: "e-mail") {
            $0.leadContact.email = string(244) + "@example.cn"
        },
        BrokenRule("lead phone with 5 digits", "leadContact.phone", "invalid_format", mentions: "phone") {
            $0.leadContact.phone = "123 45"
        },
        BrokenRule("lead phone with 16 digits", "leadContact.phone", "invalid_format", mentions: "phone") {
            $0.leadContact.phone = "+86 7551 2345 6789 01"
        },
        BrokenRule("lead phone with a letter", "leadContact.phone", "invalid_format", mentions: "phone") {
            $0.leadContact.phone = "+86 755 1234 567x"
        },
        BrokenRule("lead phone in Chinese numerals", "leadContact.phone", "invalid_format", mentions: "phone") {
            $0.leadContact.phone = "一三八 一二三四 五六七八"
        },
        BrokenRule("lead openid with a space", "leadContact.wechatOpenID", "invalid_format", mentions: "openid") {
            $0.leadContact.wechatOpenID = "oLi Wei"
        },
        BrokenRule("delegate openid of 65 characters", "delegates[0].wechatOpenID", "invalid_format", mentions: "64") {
            $0.delegates[0].wechatOpenID = String(repeating: "o", count: 65)
        },
        BrokenRule("delegate openid in Chinese", "delegates[0].wechatOpenID", "invalid_format", mentions: "openid") {
            $0.delegates[0].wechatOpenID = "李伟"
        },
    ]

    @Test(arguments: brokenLeadContact)
    func leadContactRules(_ rule: BrokenRule) { expectOnly(rule) }

    // MARK: Delegates

    static let brokenDelegates: [BrokenRule] = [
        BrokenRule("no delegates", "delegates", "required", mentions: "delegate") { $0.delegates = [] },
        BrokenRule("51 delegates", "delegates", "too_many", mentions: "at most 50") {
            $0.delegates = Samples.submission(reference: "acme-0001", delegates: 51).delegates
        },
        BrokenRule("empty delegate name", "delegates[1].name", "required", mentions: "delegates[1].name") { $0.delegates[1].name = "" },
        BrokenRule("delegate name of 201 characters", "delegates[1].name", "too_long", mentions: "200") {
            $0.delegates[1].name = string(201)
        },
        BrokenRule("bad delegate e-mail", "delegates[1].email", "invalid_format", mentions: "delegates[1].email") {
            $0.delegates[1].email = "d2-at-example.cn"
        },
        BrokenRule("duplicate delegate e-mail, other case", "delegates[1].email", "duplicate", mentions: "delegates[0]") {
            $0.delegates[1].email = $0.delegates[0].email?.uppercased()
        },
        BrokenRule("bad delegate phone", "delegates[1].phone", "invalid_format", mentions: "phone") { $0.delegates[1].phone = "12-34" },
        BrokenRule("accessibility needs of 501 characters", "delegates[0].accessibilityNeeds", "too_long", mentions: "accessibilityNeeds") {
            $0.delegates[0].accessibilityNeeds = string(501)
        },
    ]

    @Test(arguments: brokenDelegates)
    func delegateRules(_ rule: BrokenRule) { expectOnly(rule) }

    @Test func maxDelegatesIsTheValidatorsSetting() {
        var validator = Self.validator()
        validator.maxDelegates = 3
        let four = Samples.submission(reference: "acme-0001", delegates: 4)
        let issues = validator.issues(in: four, programme: nil)
        #expect(issues.map(\.path) == ["delegates"])
        #expect(issues.map(\.code) == ["too_many"])
        #expect(issues.first?.message.contains("at most 3") == true)
        #expect(validator.issues(in: Samples.submission(reference: "acme-0001", delegates: 3), programme: nil) == [])
    }

    // MARK: Identity documents

    static let brokenDocuments: [BrokenRule] = [
        BrokenRule("lower-case document number", "delegates[0].identityDocument.number", "invalid_format", mentions: "document number") {
            $0.delegates[0].identityDocument?.number = "e00000001"
        },
        BrokenRule("document number of 4 characters", "delegates[0].identityDocument.number", "invalid_format", mentions: "5 to 20") {
            $0.delegates[0].identityDocument?.number = "E123"
        },
        BrokenRule("document number of 21 characters", "delegates[0].identityDocument.number", "invalid_format", mentions: "5 to 20") {
            $0.delegates[0].identityDocument?.number = "E" + string(20, of: "1")
        },
        BrokenRule("document number with a space", "delegates[0].identityDocument.number", "invalid_format", mentions: "document number") {
            $0.delegates[0].identityDocument?.number = "E 0000001"
        },
        BrokenRule("alpha-3 issuing country", "delegates[1].identityDocument.issuingCountry", "invalid_format", mentions: "ISO 3166") {
            $0.delegates[1].identityDocument?.issuingCountry = "PRC"
        },
        BrokenRule("empty name in the document", "delegates[1].identityDocument.fullName", "required", mentions: "fullName") {
            $0.delegates[1].identityDocument?.fullName = ""
        },
        BrokenRule(
            "date of birth written day/month/year", "delegates[0].identityDocument.dateOfBirth", "invalid_format", mentions: "YYYY-MM-DD"
        ) {
            $0.delegates[0].identityDocument?.dateOfBirth = "01/05/1980"
        },
        BrokenRule("date of birth on 30 February", "delegates[0].identityDocument.dateOfBirth", "invalid_format", mentions: "dateOfBirth") {
            $0.delegates[0].identityDocument?.dateOfBirth = "1980-02-30"
        },
        BrokenRule("expiry in month 13", "delegates[0].identityDocument.expiresOn", "invalid_format", mentions: "expiresOn") {
            $0.delegates[0].identityDocument?.expiresOn = "2031-13-01"
        },
        BrokenRule("expiry written in words", "delegates[0].identityDocument.expiresOn", "invalid_format", mentions: "YYYY-MM-DD") {
            $0.delegates[0].identityDocument?.expiresOn = "1 Jan 2031"
        },
        BrokenRule("document expired yesterday", "delegates[0].identityDocument.expiresOn", "expired", mentions: "expired") {
            $0.delegates[0].identityDocument?.expiresOn = "2026-01-04"
        },
        BrokenRule("document expired years ago", "delegates[1].identityDocument.expiresOn", "expired", mentions: "expired") {
            $0.delegates[1].identityDocument?.expiresOn = "2020-06-30"
        },
    ]

    @Test(arguments: brokenDocuments)
    func identityDocumentRules(_ rule: BrokenRule) { expectOnly(rule) }

    @Test func documentThatExpiresTodayIsStillValid() {
        var submission = Self.sample()
        submission.delegates[0].identityDocument?.expiresOn = "2026-01-05"
        // 09:00 in Da Nang on 5 January: the document is valid through the end of that day.
        #expect(Self.validator(today: Samples.danang(day: 5, 9)).issues(in: submission, programme: nil) == [])
    }

    @Test func expiryIsJudgedAgainstTheValidatorsClock() {
        var submission = Self.sample()
        submission.delegates[0].identityDocument?.expiresOn = "2026-01-10"
        #expect(Self.validator(today: Samples.danang(day: 5, 9)).issues(in: submission, programme: nil) == [])
        let later = Self.validator(today: Samples.danang(day: 12, 9)).issues(in: submission, programme: nil)
        #expect(later.map(\.path) == ["delegates[0].identityDocument.expiresOn"])
        #expect(later.map(\.code) == ["expired"])
    }

    /// The expiry is judged on the day the service received the submission, in the event's
    /// time zone: a replay weeks later, on another clock, judges as the live service did.
    @Test func expiryIsJudgedOnTheDayOfReceiptInTheEventsTimeZone() {
        var submission = Self.sample()
        submission.delegates[0].identityDocument?.expiresOn = "2026-01-10"
        let weeksLater = Self.validator(today: Samples.danang(day: 30, 9))
        // 23:00 on 10 January in Da Nang: the last day it is valid.
        #expect(weeksLater.issues(in: submission, programme: Self.programme, receivedAt: Samples.danang(day: 10, 23)) == [])
        // 06:00 on 11 January in Da Nang is still 10 January in UTC; in Da Nang it has expired.
        let nextMorning = weeksLater.issues(in: submission, programme: Self.programme, receivedAt: Samples.danang(day: 11, 6))
        #expect(nextMorning.map(\.path) == ["delegates[0].identityDocument.expiresOn"])
        #expect(nextMorning.map(\.code) == ["expired"])
    }

    /// Issues go out in plain text on the broker: about a person's details they name the field
    /// and the rule, never what was given.
    @Test func issuesAboutAPersonNameTheFieldAndTheRuleNeverTheValue() {
        var submission = Self.sample()
        let given = [
            "e12345678x", "Prc", "1980/05/01", "2020-06-30", "31-12-2030", "li.wei-at-example.cn", "12-34", "oLi Wei", "d9@example",
            "Zhang San Feng",
        ]
        submission.delegates[0].identityDocument?.number = given[0]
        submission.delegates[0].identityDocument?.issuingCountry = given[1]
        submission.delegates[0].identityDocument?.dateOfBirth = given[2]
        submission.delegates[0].identityDocument?.expiresOn = given[3]
        submission.delegates[1].identityDocument?.expiresOn = given[4]
        submission.leadContact.email = given[5]
        submission.leadContact.phone = given[6]
        submission.leadContact.wechatOpenID = given[7]
        submission.delegates[1].email = given[8]
        submission.delegates[1].identityDocument?.fullName = given[9] + String(repeating: "x", count: 200)
        let issues = Self.validator().issues(in: submission, programme: Self.programme)
        #expect(issues.count == given.count, "one issue for each: \(issues.map(\.path))")
        for issue in issues {
            for value in given {
                #expect(!issue.message.contains(value), "\(issue.path): '\(issue.message)' repeats what was given")
            }
        }
    }

    // MARK: Interests, visits, consent

    static let brokenInterests: [BrokenRule] = [
        BrokenRule("21 interest sectors", "interests.sectors", "too_many", mentions: "interests.sectors") {
            $0.interests.sectors = (1...21).map { "s\($0)" }
        },
        BrokenRule("21 interest topics", "interests.topics", "too_many", mentions: "interests.topics") {
            $0.interests.topics = (1...21).map { "t\($0)" }
        },
        BrokenRule("empty topic", "interests.topics[0]", "invalid_value", mentions: "tags") { $0.interests.topics = [""] },
        BrokenRule("topic of 51 characters", "interests.topics[1]", "invalid_value", mentions: "50") {
            $0.interests.topics = ["ai", string(51)]
        },
        BrokenRule("11 preferred visits", "preferredVisits", "too_many", mentions: "10") {
            $0.preferredVisits = Array(repeating: "lien-chieu-port", count: 11)
        },
        BrokenRule("a venue the programme does not have", "preferredVisits[1]", "unknown_venue", mentions: "hoi-an-old-town") {
            $0.preferredVisits = ["lien-chieu-port", "hoi-an-old-town"]
        },
        BrokenRule("a venue that is not a site visit", "preferredVisits[0]", "unknown_venue", mentions: "networking-hall") {
            $0.preferredVisits = ["networking-hall"]
        },
        BrokenRule("no consent", "consent.dataProcessing", "consent_required", mentions: "consent") { $0.consent.dataProcessing = false },
    ]

    @Test(arguments: brokenInterests)
    func interestVisitAndConsentRules(_ rule: BrokenRule) { expectOnly(rule) }

    @Test func unknownMessageNamesTheKnownSiteVisits() throws {
        var submission = Self.sample()
        submission.preferredVisits = ["hoi-an-old-town"]
        let issue = try #require(Self.validator().issues(in: submission, programme: Self.programme).first)
        #expect(issue.message.contains("enosta-hub"))
        #expect(issue.message.contains("lien-chieu-port"))
    }

    @Test func venuesAreNotCheckedWithoutAProgramme() {
        var submission = Self.sample()
        submission.preferredVisits = ["hoi-an-old-town", "networking-hall"]
        #expect(Self.validator().issues(in: submission, programme: nil) == [])
    }

    @Test func registrationClosesAfterTheProgrammesDeadline() {
        let deadline = Samples.danang(day: 10, 17)
        let programme = EventProgramme(Samples.programme(deadline: deadline))
        var submission = Self.sample()
        submission.submittedAt = nil

        // Without submittedAt, the time of processing counts.
        #expect(Self.validator(today: Samples.danang(day: 9, 12)).issues(in: submission, programme: programme) == [])
        #expect(Self.validator(today: deadline).issues(in: submission, programme: programme) == [])
        let late = Self.validator(today: Samples.danang(day: 10, 17, 1)).issues(in: submission, programme: programme)
        #expect(late.map(\.path) == ["eventID"])
        #expect(late.map(\.code) == ["registration_closed"])
        #expect(late.first?.message.contains("danang-2026-01") == true)
        #expect(late.first?.message.contains("closed") == true)

        // The time the service received it counts, not the sender's submittedAt: a backdated
        // submission does not pass a closed deadline, nor does a post-dated one fail an open one.
        submission.submittedAt = Samples.danang(day: 10, 16)
        #expect(
            Self.validator().issues(in: submission, programme: programme, receivedAt: Samples.danang(day: 20, 9)).map(\.code) == [
                "registration_closed"
            ])
        submission.submittedAt = Samples.danang(day: 10, 17, 1)
        #expect(
            Self.validator(today: Samples.danang(day: 20, 9)).issues(
                in: submission, programme: programme, receivedAt: Samples.danang(day: 9, 9)) == [])
        let received = Self.validator().issues(in: submission, programme: programme, receivedAt: Samples.danang(day: 10, 17, 1))
        #expect(received.first?.message.contains("received at") == true)
    }

    @Test func deadlineIsNotCheckedWithoutAProgramme() {
        #expect(Self.validator(today: Samples.danang(day: 30, 9)).issues(in: Self.sample(), programme: nil) == [])
    }

    // MARK: Several problems

    @Test func everyProblemIsReportedAtOnce() {
        var submission = Self.sample()
        submission.eventID = "danang 2026"
        submission.revision = 0
        submission.organisation.country = "china"
        submission.delegates[1].email = "not-an-address"
        submission.consent.dataProcessing = false

        let issues = Self.validator().issues(in: submission, programme: Self.programme)

        #expect(issues.count == 5)
        #expect(
            Dictionary(issues.map { ($0.path, $0.code) }, uniquingKeysWith: { first, _ in first }) == [
                "eventID": "invalid_format",
                "revision": "invalid_value",
                "organisation.country": "invalid_format",
                "delegates[1].email": "invalid_format",
                "consent.dataProcessing": "consent_required",
            ])
        #expect(Set(issues.map(\.message)).count == 5)
    }

    @Test func programmeProblemsAreReportedWithTheOthers() {
        var submission = Self.sample()
        submission.preferredVisits = ["hoi-an-old-town"]
        submission.delegates[0].identityDocument?.number = "bad"
        let programme = EventProgramme(Samples.programme(deadline: Samples.danang(day: 1, 17)))

        let issues = Self.validator().issues(in: submission, programme: programme)

        #expect(Set(issues.map(\.path)) == ["preferredVisits[0]", "delegates[0].identityDocument.number", "eventID"])
        #expect(Set(issues.map(\.code)) == ["unknown_venue", "invalid_format", "registration_closed"])
    }
}

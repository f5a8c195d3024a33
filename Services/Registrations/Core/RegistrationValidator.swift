import Foundation
import Messages

/// The rules a submission must meet, checked all at once so the sender hears every problem.
///
/// Pure: no store, no broker. `programme` (when the event's programme is known) adds the
/// checks that need it: the registration deadline and the venues named in `preferredVisits`,
/// and the time zone documents' expiry days are read in.
///
/// Issues go out in plain text on the broker: each names the field and the rule it breaks,
/// never a value a person gave (values of the organisation's own fields, such as a venue id or
/// its country, may be repeated).
public struct RegistrationValidator: Sendable {
    public var maxDelegates = 50
    public var today: @Sendable () -> Date = { Date() }

    public init() {}

    /// Every issue with `submission`. `receivedAt` is when the service first received it (the
    /// deadline and documents' expiry are judged on that, never on the sender's `submittedAt` or
    /// the clock of the day it is judged: a replay judges as the live service did); nil means now.
    public func issues(in submission: RegistrationSubmitted, programme: EventProgramme?, receivedAt: Date? = nil) -> [ValidationIssue] {
        // Judged on when the system received the submission: `submittedAt` is the sender's claim
        // and could be backdated.
        let received = receivedAt ?? today()
        // A document is valid through its expiry day, in the event's time zone (UTC while the
        // programme does not say).
        let receivedOn = Self.day(of: received, in: programme?.timeZone)
        var issues = IssueList()
        identifier(submission.eventID, path: "eventID", max: 64, into: &issues)
        if submission.reference.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            issues.add("reference", "required", "reference must name the registration in your system")
        } else if submission.reference.count > 128 {
            issues.add("reference", "too_long", "reference must be at most 128 characters")
        }
        if submission.revision < 1 {
            issues.add("revision", "invalid_value", "revision must be 1 or more")
        }

        let organisation = submission.organisation
        text(organisation.name, path: "organisation.name", max: 200, into: &issues)
        if let local = organisation.localName, local.count > 200 {
            issues.add("organisation.localName", "too_long", "localName must be at most 200 characters")
        }
        country(organisation.country, path: "organisation.country", showing: true, into: &issues)
        tags(organisation.sectors, path: "organisation.sectors", into: &issues)
        if let website = organisation.website,
            !["https://", "http://"].contains(where: website.lowercased().hasPrefix) || URL(string: website)?.host == nil
        {
            issues.add("organisation.website", "invalid_format", "website must be an http(s) URL, e.g. https://example.cn")
        }

        text(submission.leadContact.name, path: "leadContact.name", max: 200, into: &issues)
        email(submission.leadContact.email, path: "leadContact.email", into: &issues)
        if let phone = submission.leadContact.phone { self.phone(phone, path: "leadContact.phone", into: &issues) }
        if let id = submission.leadContact.wechatOpenID { openID(id, path: "leadContact.wechatOpenID", into: &issues) }

        if submission.delegates.isEmpty {
            issues.add("delegates", "required", "a delegation needs at least one delegate")
        } else if submission.delegates.count > maxDelegates {
            issues.add(
                "delegates", "too_many", "a delegation may have at most \(maxDelegates) delegates (got \(submission.delegates.count))")
        }
        var seenEmails: [String: Int] = [:]
        for (index, delegate) in submission.delegates.enumerated() {
            let path = "delegates[\(index)]"
            text(delegate.name, path: "\(path).name", max: 200, into: &issues)
            if let address = delegate.email {
                email(address, path: "\(path).email", into: &issues)
                if let first = seenEmails[address.lowercased()] {
                    issues.add("\(path).email", "duplicate", "the same e-mail address is given for delegates[\(first)]")
                } else {
                    seenEmails[address.lowercased()] = index
                }
            }
            if let number = delegate.phone { phone(number, path: "\(path).phone", into: &issues) }
            if let id = delegate.wechatOpenID { openID(id, path: "\(path).wechatOpenID", into: &issues) }
            if let needs = delegate.accessibilityNeeds, needs.count > 500 {
                issues.add("\(path).accessibilityNeeds", "too_long", "accessibilityNeeds must be at most 500 characters")
            }
            if let document = delegate.identityDocument {
                self.document(document, path: "\(path).identityDocument", validOn: receivedOn, into: &issues)
            }
        }

        tags(submission.interests.sectors, path: "interests.sectors", into: &issues)
        tags(submission.interests.topics, path: "interests.topics", into: &issues)
        if submission.preferredVisits.count > 10 {
            issues.add("preferredVisits", "too_many", "at most 10 preferred visits")
        }
        for (index, venue) in submission.preferredVisits.enumerated() {
            if let programme, !programme.siteVisitIDs.contains(venue) {
                issues.add(
                    "preferredVisits[\(index)]", "unknown_venue",
                    "'\(venue)' is not a site visit of this event (known: \(programme.siteVisitIDs.sorted().joined(separator: ", ")))")
            }
        }
        if !submission.consent.dataProcessing {
            issues.add(
                "consent.dataProcessing", "consent_required", "the delegation must consent to the processing of its data for the event")
        }
        if let programme, let deadline = programme.registrationDeadline, received > deadline {
            issues.add(
                "eventID", "registration_closed",
                "registration for \(submission.eventID) closed at \(MessageCoding.format(deadline)); "
                    + "this submission was received at \(MessageCoding.format(received))"
            )
        }
        return issues.items
    }

    // MARK: Field rules

    private struct IssueList {
        var items: [ValidationIssue] = []
        mutating func add(_ path: String, _ code: String, _ message: String) {
            items.append(ValidationIssue(path: path, code: code, message: message))
        }
    }

    private func identifier(_ value: String, path: String, max: Int, into issues: inout IssueList) {
        if value.isEmpty {
            issues.add(path, "required", "\(path) is required")
        } else if value.count > max {
            issues.add(path, "too_long", "\(path) must be at most \(max) characters")
        } else if value.unicodeScalars.contains(where: {
            !(CharacterSet.alphanumerics.contains($0) && $0.isASCII) && !"._-".unicodeScalars.contains($0)
        }) {
            issues.add(path, "invalid_format", "\(path) may contain only ASCII letters, digits, '.', '_' and '-'")
        }
    }

    private func text(_ value: String, path: String, max: Int, into issues: inout IssueList) {
        if value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            issues.add(path, "required", "\(path) must not be empty")
        } else if value.count > max {
            issues.add(path, "too_long", "\(path) must be at most \(max) characters")
        }
    }

    /// `showing`: the message repeats the value (only for the organisation's own fields).
    private func country(_ value: String, path: String, showing: Bool, into issues: inout IssueList) {
        let scalars = Array(value.unicodeScalars)
        if scalars.count != 2 || !scalars.allSatisfy({ ("A"..."Z").contains($0) }) {
            let got = showing ? " (got '\(value)')" : ""
            issues.add(path, "invalid_format", "\(path) must be an ISO 3166-1 alpha-2 code in capitals, e.g. CN or VN\(got)")
        }
    }

    private func email(_ value: String, path: String, into issues: inout IssueList) {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        let valid =
            parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !value.contains(where: { $0.isWhitespace }) && value.count <= 254
        if !valid {
            issues.add(path, "invalid_format", "\(path) is not an e-mail address")
        }
    }

    /// An openid is what the WeChat account gave: 1 to 64 letters, digits, `_` and `-`.
    private func openID(_ value: String, path: String, into issues: inout IssueList) {
        let allowed = value.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-".unicodeScalars.contains($0))
        }
        if value.isEmpty || value.count > 64 || !allowed {
            issues.add(path, "invalid_format", "\(path) must be the openid the WeChat account gave: 1 to 64 letters, digits, _ and -")
        }
    }

    private func phone(_ value: String, path: String, into issues: inout IssueList) {
        let digits = value.unicodeScalars.filter { ("0"..."9").contains($0) }.count
        let allowed = value.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || " +-().".unicodeScalars.contains($0) }
        if !allowed || digits < 6 || digits > 15 {
            issues.add(path, "invalid_format", "\(path) must be a phone number with 6 to 15 digits, e.g. +86 755 1234 5678")
        }
    }

    private func tags(_ values: [String], path: String, into issues: inout IssueList) {
        if values.count > 20 {
            issues.add(path, "too_many", "\(path) may have at most 20 entries")
        }
        for (index, tag) in values.enumerated() where tag.isEmpty || tag.count > 50 {
            issues.add("\(path)[\(index)]", "invalid_value", "tags must have 1 to 50 characters")
        }
    }

    /// Nothing a document holds goes into an issue: the field and the rule only.
    private func document(_ document: IdentityDocument, path: String, validOn day: Date, into issues: inout IssueList) {
        let number = document.number
        if number.count < 5 || number.count > 20
            || !number.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
        {
            issues.add("\(path).number", "invalid_format", "the document number must be 5 to 20 capital letters and digits")
        }
        country(document.issuingCountry, path: "\(path).issuingCountry", showing: false, into: &issues)
        text(document.fullName, path: "\(path).fullName", max: 200, into: &issues)
        if let birth = document.dateOfBirth, Self.day(birth) == nil {
            issues.add("\(path).dateOfBirth", "invalid_format", "dateOfBirth must be a date as YYYY-MM-DD")
        }
        if let expiry = Self.day(document.expiresOn) {
            // Valid through its expiry day.
            if expiry < day {
                issues.add(
                    "\(path).expiresOn", "expired",
                    "the identity document has expired: it must be valid on \(Self.text(of: day)), the day this submission was received")
            }
        } else {
            issues.add("\(path).expiresOn", "invalid_format", "expiresOn must be a date as YYYY-MM-DD")
        }
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        return calendar
    }()

    /// The calendar day `date` falls on in `zone` (UTC if nil), as `day(_:)` reads that day.
    static func day(of date: Date, in zone: TimeZone?) -> Date {
        var calendar = utcCalendar
        calendar.timeZone = zone ?? utcCalendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return utcCalendar.date(from: DateComponents(year: parts.year, month: parts.month, day: parts.day))
            ?? utcCalendar.startOfDay(for: date)
    }

    /// `YYYY-MM-DD` of a day as `day(_:)` reads it.
    static func text(of day: Date) -> String {
        day.formatted(Date.ISO8601FormatStyle(timeZone: utcCalendar.timeZone).year().month().day())
    }

    /// Parses `YYYY-MM-DD` (UTC midnight); nil for anything else, including 2026-02-30.
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (y, m, d)
        guard let date = utcCalendar.date(from: components), utcCalendar.component(.day, from: date) == d else { return nil }
        return date
    }
}

/// What registrations knows of an event from its programme.
public struct EventProgramme: Sendable, Equatable {
    public var eventID: String
    public var version: Int
    public var capacity: EventCapacity
    public var registrationDeadline: Date?
    public var siteVisitIDs: Set<String>
    /// When the event is over: midnight after its last day, in its time zone (the start of
    /// the retention time of its personal data).
    public var endsAt: Date?
    /// The event's time zone (the programme's `timeZone`); nil if it named none this system
    /// knows, or the programme was stored before time zones were kept.
    public var timeZone: TimeZone?

    public init(
        eventID: String, version: Int, capacity: EventCapacity, registrationDeadline: Date?, siteVisitIDs: Set<String>, endsAt: Date? = nil,
        timeZone: TimeZone? = nil
    ) {
        self.eventID = eventID
        self.version = version
        self.capacity = capacity
        self.registrationDeadline = registrationDeadline
        self.siteVisitIDs = siteVisitIDs
        self.endsAt = endsAt
        self.timeZone = timeZone
    }

    public init(_ programme: ProgrammePublished) {
        self.init(
            eventID: programme.eventID, version: programme.version, capacity: programme.capacity,
            registrationDeadline: programme.registrationDeadline, siteVisitIDs: Set(programme.venues.filter(\.isSiteVisit).map(\.id)),
            endsAt: Self.end(of: programme), timeZone: TimeZone(identifier: programme.timeZone))
    }

    /// Midnight after the last of `days`, in the event's zone; nil if neither can be read.
    static func end(of programme: ProgrammePublished) -> Date? {
        guard let zone = TimeZone(identifier: programme.timeZone), let last = programme.days.max() else { return nil }
        let parts = last.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard let day = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else { return nil }
        return calendar.date(byAdding: .day, value: 1, to: day)
    }
}

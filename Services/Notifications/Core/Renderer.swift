import Foundation
import ICalendar
import Messages
import Mustache
import Passes
import Synchronization

/// Renders a notification in the recipient's language from the template files, with dates and
/// times in the event's zone (named) and, where it differs, the recipient's.
public struct Renderer: Sendable {
    /// What a channel sends, so that nothing else is rendered for it.
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let subject = Parts(rawValue: 1)
        /// The text and HTML bodies.
        public static let body = Parts(rawValue: 2)
        /// The calendar attachments (the bodies then mention them).
        public static let calendars = Parts(rawValue: 4)
        /// The passes' QR codes, inline in the HTML body.
        public static let passes = Parts(rawValue: 8)
        /// The short text (`<kind>/<language>.sms`): an SMS, a chat message.
        public static let short = Parts(rawValue: 16)

        public static let all: Parts = [.subject, .body, .calendars, .passes, .short]
    }

    public struct Rendered: Sendable, Equatable {
        public var language: Language
        public var subject: String
        public var text: String
        public var html: String
        /// The itinerary as iCalendar (`METHOD:PUBLISH`), for itinerary kinds.
        public var calendar: String?
        /// Entries withdrawn from the recipient's calendar (`METHOD:CANCEL`): a cancellation, a
        /// delegate removed, items removed from an itinerary.
        public var cancellation: String?
        /// The passes' QR codes as PNG, shown inline by the HTML part (`cid:`).
        public var images: [MIMEMessage.Inline] = []
        /// The short text, where asked for: in the recipient's language where it has one, else English.
        public var short: String?
    }

    /// What signs the passes an e-mail carries: the keys, and when the event's passes expire.
    public struct PassIssuer: Sendable {
        public var keys: PassKeys
        public var expires: Date

        public init(keys: PassKeys, expires: Date) {
            self.keys = keys
            self.expires = expires
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case noTemplate(String)
        case invalidTemplate(file: String, reason: String)
        case missingEnglish([String])

        public var description: String {
            switch self {
            case .noTemplate(let name): return "no template '\(name)' (and no English one to fall back on)"
            case .invalidTemplate(let file, let reason): return "template \(file) is not valid Mustache: \(reason)"
            case .missingEnglish(let names):
                return "English templates are the fallback for every language, and these are missing: \(names.joined(separator: ", "))"
            }
        }
    }

    /// A page of the service (`<name>/<language>.page`, else English) with `values`.
    public func page(_ name: String, language: Language, values: [String: Any]) -> String? {
        let own = library.getTemplate(named: "\(name)/\(language.rawValue).page") != nil
        return library.render(values, withTemplate: "\(name)/\((own ? language : .english).rawValue).page")
    }

    /// The parts every language of a kind has (or the kind is sent in English); `sms` is
    /// optional per language (English where a language has none).
    static let parts = ["subject", "text", "html"]

    private let library: MustacheLibrary

    /// Loads every `*.mustache` under `directory`, named by its path without the extension.
    /// Subjects and text bodies are plain text: they are not HTML-escaped. Fails, naming the
    /// file, on a template that does not parse, and when an English template is missing.
    public init(directory: String) async throws {
        var library = MustacheLibrary()
        let root = URL(fileURLWithPath: directory)
        let files =
            FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".mustache") } ?? []
        for file in files.sorted() {
            let name = String(file.dropLast(".mustache".count))
            var source = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            if name.hasSuffix(".text") || name.hasSuffix(".subject") || name.hasSuffix(".sms") {
                source = "{{% CONTENT_TYPE: TEXT}}" + source
            }
            do {
                try library.register(source, named: name)
            } catch {
                throw Failure.invalidTemplate(file: file, reason: "\(error)")
            }
        }
        let missing = NotificationKind.allCases.flatMap { kind in (Self.parts + ["sms"]).map { "\(kind.rawValue)/en.\($0).mustache" } }
            .filter { library.getTemplate(named: String($0.dropLast(".mustache".count))) == nil }
        if !missing.isEmpty { throw Failure.missingEnglish(missing) }
        self.library = library
    }

    /// The language used for `wanted`: its own if every template of `kind` exists, else English.
    public func language(for kind: NotificationKind, wanted: Language) -> Language {
        let complete = Self.parts.allSatisfy { library.getTemplate(named: "\(kind.rawValue)/\(wanted.rawValue).\($0)") != nil }
        return complete ? wanted : .english
    }

    /// `organizer`: the sender, named in the calendars as their `ORGANIZER`; `passes`: what signs
    /// the passes the notification carries (none are drawn without it, nor unless `parts` asks).
    /// Parts not asked for are left empty.
    public func render(
        _ record: NotificationRecord, eventName: LocalizedText?, eventZone: String, venues: [String: LocalizedText] = [:],
        now: Date = Date(),
        organizer: ICalendar.Person? = nil, passes issuer: PassIssuer? = nil, parts: Parts = .all, optOutURL: String? = nil
    ) throws -> Rendered {
        let language = language(for: record.kind, wanted: record.recipient.language)
        var context = Context(
            record: record, language: language, eventName: eventName, eventZone: eventZone, venues: venues,
            calendars: parts.contains(.calendars)
        ).dictionary
        if let optOutURL { context["optOutURL"] = optOutURL }
        var images: [MIMEMessage.Inline] = []
        if let issuer, parts.contains(.passes), let eventID = record.eventID, let registrationID = record.registrationID {
            var shown: [[String: Any]] = []
            for holder in record.content.passes ?? [] {
                let pass = Pass(eventID: eventID, registrationID: registrationID, person: holder.person, expires: issuer.expires)
                let contentID = "pass-\(holder.person).\(record.id)@notifications.delegation"
                images.append(
                    .init(contentID: contentID, filename: "pass-\(holder.person).png", data: try pass.qrCode(issuer.keys).png(scale: 4)))
                shown.append(["name": holder.name, "code": pass.shortCode(issuer.keys), "image": "cid:\(contentID)"])
            }
            context["passes"] = shown
            context["hasPasses"] = !shown.isEmpty
        }
        func render(_ part: String, in language: Language = language) throws -> String {
            let name = "\(record.kind.rawValue)/\(language.rawValue).\(part)"
            guard let output = library.render(context, withTemplate: name) else { throw Failure.noTemplate(name) }
            return output
        }
        func line(_ text: String) -> String {
            text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        }
        let subject = parts.contains(.subject) ? line(try render("subject")) : ""
        var short: String?
        if parts.contains(.short) {
            let own = library.getTemplate(named: "\(record.kind.rawValue)/\(language.rawValue).sms") != nil
            // (an en dash alone would make an English SMS UCS-2, at 67 characters a segment)
            short = line(try render("sms", in: own ? language : .english)).replacingOccurrences(of: "–", with: "-")
        }
        guard parts.contains(.body) || parts.contains(.calendars) else {
            return Rendered(language: language, subject: subject, text: "", html: "", images: images, short: short)
        }
        let calendarName = "\(eventName?.text(in: language) ?? record.eventID ?? "") – \(record.content.organisation)"
        let attendee = ICalendar.Person(name: record.recipient.name, email: record.recipient.email)
        func event(_ item: ItineraryItem, sequence: Int) -> CalendarEvent {
            CalendarEvent(
                uid: item.uid, start: item.start, end: item.end, summary: item.title.text(in: language), location: item.address,
                description: item.counterpart, sequence: sequence)
        }
        var calendar: String?
        if parts.contains(.calendars), [.itineraryPlanned, .itineraryChanged, .digest, .reminder].contains(record.kind),
            !record.content.items.isEmpty || !record.content.changes.isEmpty
        {
            calendar = ICalendar(
                method: .publish, name: calendarName, timeZone: eventZone,
                events: record.content.items.map { event($0, sequence: $0.sequence) },
                organizer: organizer, attendee: attendee
            ).render(stamp: now)
        }
        var cancellation: String?
        let withdrawn = Self.withdrawn(record.content)
        if parts.contains(.calendars), !withdrawn.isEmpty {
            // A cancel must outrank what it withdraws: one sequence more than the entry had.
            cancellation = ICalendar(
                method: .cancel, name: calendarName, timeZone: eventZone, events: withdrawn.map { event($0, sequence: $0.sequence + 1) },
                organizer: organizer, attendee: attendee
            ).render(stamp: now)
        }
        return Rendered(
            language: language, subject: subject, text: parts.contains(.body) ? try render("text") : "",
            html: parts.contains(.body) ? try render("html") : "", calendar: calendar, cancellation: cancellation, images: images,
            short: short)
    }

    /// The entries a notification takes out of the recipient's calendar: those it withdraws, and
    /// the items its changes remove.
    static func withdrawn(_ content: NotificationContent) -> [ItineraryItem] {
        (content.withdrawn ?? []) + content.changes.filter { $0.kind == .removed }.compactMap(\.before)
    }

    /// What templates see (Templates/README.md).
    struct Context {
        let record: NotificationRecord
        let language: Language
        let eventName: LocalizedText?
        let eventZone: String
        let venues: [String: LocalizedText]
        /// Whether calendar files go with the message (the bodies mention them).
        let calendars: Bool

        var dictionary: [String: Any] {
            let content = record.content
            var registration: [String: Any] = [:]
            if let reference = content.reference, !reference.isEmpty { registration["reference"] = reference }
            if let delegates = content.delegates { registration["delegates"] = delegates }
            if let position = content.position { registration["position"] = position }
            if content.promoted == true { registration["promoted"] = true }
            if let reason = content.reason, !reason.isEmpty { registration["reason"] = reason }
            if let standing = content.standing {
                registration["stands"] = ["revision": standing.revision, standing.status.rawValue: true]
            }
            let withdrawn = Renderer.withdrawn(content)
            var values: [String: Any] = [
                "recipient": ["name": record.recipient.name],
                "organisation": content.organisation,
                "event": ["name": eventName?.text(in: language) ?? record.eventID ?? "", "zoneName": zoneName(eventZone)],
                "registration": registration,
                "issues": content.issues.map { ["path": $0.path, "message": $0.message] },
                "items": content.items.map(item),
                "changes": content.changes.map(change),
                "unmet": content.unmet.map { ["venue": venueName($0.venueID), "reason": reason($0.reason)] },
                "hasCalendar": !content.items.isEmpty && calendars,
                "withdrawn": (content.withdrawn ?? []).map(item),
                "hasWithdrawn": !(content.withdrawn ?? []).isEmpty,
                "hasCancellation": !withdrawn.isEmpty && calendars,
                "removedFromDelegation": content.removedFromDelegation == true,
                "urgent": record.urgent,
                "emailToo": NotificationsHandler.copiedByEmail(record.kind, channels: record.channels),
            ]
            if let minutes = content.reminderMinutes { values["reminder"] = ["before": duration(minutes)] }
            if let meetingPoint = content.meetingPoint { values["meetingPoint"] = meetingPoint }
            if let missing = content.missing {
                var alert: [String: Any] = [
                    "bus": missing.busID, "time": time(missing.departure, eventZone), "people": missing.people.map { ["name": $0] },
                    "count": missing.people.count,
                ]
                if let venueID = missing.venueID { alert["place"] = venueName(venueID) }
                if time(missing.departure, record.timeZone) != time(missing.departure, eventZone) {
                    alert["localTime"] = "\(time(missing.departure, record.timeZone)) \(zoneName(record.timeZone))"
                }
                if let url = missing.answerURL { alert["answerURL"] = url }
                values["missing"] = alert
            }
            return values
        }

        /// "24 hours", "1 hour", "30 minutes", in the recipient's language.
        private func duration(_ minutes: Int) -> String {
            let (count, hours) = minutes % 60 == 0 ? (minutes / 60, true) : (minutes, false)
            switch (language, hours) {
            case (.english, true): return count == 1 ? "1 hour" : "\(count) hours"
            case (.english, false): return count == 1 ? "1 minute" : "\(count) minutes"
            case (.vietnamese, true): return "\(count) giờ"
            case (.vietnamese, false): return "\(count) phút"
            case (.chineseSimplified, true): return "\(count) 小时"
            case (.chineseSimplified, false): return "\(count) 分钟"
            }
        }

        private func item(_ item: ItineraryItem) -> [String: Any] {
            var values = slot(item)
            values["title"] = item.title.text(in: language)
            if let bus = item.busID { values["bus"] = bus }
            if let table = item.table { values["table"] = table }
            if let counterpart = item.counterpart { values["counterpart"] = counterpart }
            values["isSession"] = item.kind == .session
            values["isVisit"] = item.kind == .visit
            values["isMeeting"] = item.kind == .meeting
            return values
        }

        private func change(_ change: ItineraryChange) -> [String: Any] {
            var values: [String: Any] = ["title": (change.after ?? change.before)?.title.text(in: language) ?? ""]
            values[change.kind.rawValue] = true
            if let before = change.before { values["before"] = slot(before) }
            if let after = change.after { values["after"] = slot(after) }
            return values
        }

        private func slot(_ item: ItineraryItem) -> [String: Any] {
            var values: [String: Any] = ["date": day(item.start, eventZone), "time": span(item.start, item.end, eventZone)]
            if record.timeZone != eventZone,
                TimeZone(identifier: record.timeZone)?.secondsFromGMT(for: item.start)
                    != TimeZone(identifier: eventZone)?.secondsFromGMT(for: item.start)
            {
                values["localTime"] = "\(span(item.start, item.end, record.timeZone)) \(zoneName(record.timeZone))"
            }
            // The venue and its address; when the title already names the venue (a visit's
            // title is its venue), the address alone is the place.
            let title = item.title.text(in: language)
            let venue = item.venueID.map { venueName($0, fallback: title) }
            if let venue, venue != title {
                values["place"] = venue
                if let address = item.address { values["address"] = address }
            } else if let address = item.address {
                values["place"] = address
            }
            return values
        }

        private var locale: Locale {
            switch language {
            case .vietnamese: return Locale(identifier: "vi_VN")
            case .chineseSimplified: return Locale(identifier: "zh_Hans_CN")
            case .english: return Locale(identifier: "en_GB")
            }
        }

        /// "Tuesday, 13 January 2026" in the recipient's language, the day in `zone`. Every item of
        /// every itinerary names its day, and there are few days: each is formatted once (per
        /// language and zone) and kept.
        private func day(_ date: Date, _ zone: String) -> String {
            let timeZone = TimeZone(identifier: zone) ?? .gmt
            let key = "\(language.rawValue)|\(zone)|\(timeZone.wallClock(at: date).day)"
            if let kept = Self.days.withLock({ $0[key] }) { return kept }
            let style = Date.FormatStyle(
                date: .complete, time: .omitted, locale: locale, calendar: Calendar(identifier: .gregorian), timeZone: timeZone)
            let text = date.formatted(style)
            Self.days.withLock { days in
                if days.count >= 1024 { days.removeAll() }
                days[key] = text
            }
            return text
        }

        private static let days = Mutex<[String: String]>([:])

        /// "13:30–14:30" in `zone`.
        private func span(_ start: Date, _ end: Date, _ zone: String) -> String { "\(time(start, zone))–\(time(end, zone))" }

        /// "13:30" in `zone`.
        private func time(_ date: Date, _ zone: String) -> String {
            let second = (TimeZone(identifier: zone) ?? .gmt).wallClock(at: date).second
            let hour = second / 3600, minute = second % 3600 / 60
            return "\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)"
        }

        /// "Da Nang time (UTC+7)", "岘港时间 (UTC+7)", "giờ Đà Nẵng (UTC+7)".
        private func zoneName(_ zone: String) -> String {
            let offset = (TimeZone(identifier: zone)?.secondsFromGMT(for: record.content.items.first?.start ?? Date()) ?? 0) / 3600
            let utc = "UTC\(offset >= 0 ? "+" : "")\(offset)"
            let city: [String: (String, String, String)] = [
                "Asia/Ho_Chi_Minh": ("giờ Đà Nẵng", "岘港时间", "Da Nang time"),
                "Asia/Shanghai": ("giờ Bắc Kinh", "北京时间", "Beijing time"),
            ]
            guard let names = city[zone] else { return "\(zone) (\(utc))" }
            switch language {
            case .vietnamese: return "\(names.0) (\(utc))"
            case .chineseSimplified: return "\(names.1) (\(utc))"
            case .english: return "\(names.2) (\(utc))"
            }
        }

        private func venueName(_ id: String, fallback: String? = nil) -> String {
            venues[id]?.text(in: language) ?? record.content.items.first { $0.venueID == id && $0.kind == .visit }?.title.text(in: language)
                ?? fallback ?? id
        }

        private func reason(_ reason: UnmetPreference.Reason) -> String {
            switch (reason, language) {
            case (.full, .vietnamese): return "đã kín chỗ"
            case (.full, .chineseSimplified): return "名额已满"
            case (.full, .english): return "fully booked"
            case (.closed, .vietnamese): return "không mở cửa vào thời gian phù hợp"
            case (.closed, .chineseSimplified): return "在可安排的时间内不开放"
            case (.closed, .english): return "not open at a time that fits"
            case (.documentsMissing, .vietnamese): return "thiếu giấy tờ tùy thân trước hạn chót"
            case (.documentsMissing, .chineseSimplified): return "未在截止日期前提交完整证件"
            case (.documentsMissing, .english): return "identity documents were not complete before the deadline"
            case (.clash, .vietnamese): return "trùng với lịch trình khác"
            case (.clash, .chineseSimplified): return "与其他行程冲突"
            case (.clash, .english): return "clashes with other visits"
            case (.unknownVenue, .vietnamese): return "không có trong chương trình"
            case (.unknownVenue, .chineseSimplified): return "不在活动安排中"
            case (.unknownVenue, .english): return "not part of the programme"
            case (.organiser, .vietnamese): return "ban tổ chức đã sắp xếp khác"
            case (.organiser, .chineseSimplified): return "主办方另有安排"
            case (.organiser, .english): return "the organisers arranged otherwise"
            }
        }
    }
}

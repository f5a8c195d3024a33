import Foundation
import Messages
import RegistrationsCore

// MARK: - CSV registrations

extension RecordReader {
    /// Registrations in a CSV sheet: one row per delegate, the registration's columns repeated
    /// on each row, rows grouped into delegations by `event_id` + `reference`.
    struct RegistrationSheet {
        let file: String
        var problems: [InputProblem] = []

        init(file: String) { self.file = file }

        /// One data row: its line and its cells by column (trimmed; absent columns are empty).
        struct Row {
            var line: Int
            var cells: [RegistrationColumn: String]

            subscript(_ column: RegistrationColumn) -> String { cells[column] ?? "" }
        }

        static func candidates(in source: SourceFile) -> ([Candidate<RegistrationSubmitted>], [InputProblem]) {
            var sheet = RegistrationSheet(file: source.name)
            let candidates = sheet.read(CSV(parsing: String(decoding: source.bytes, as: UTF8.self)))
            return (candidates, sheet.problems)
        }

        mutating func problem(_ line: Int?, _ column: RegistrationColumn?, _ message: String) {
            problems.append(InputProblem(file: file, line: line, path: column?.rawValue, message: message))
        }

        mutating func read(_ csv: CSV) -> [Candidate<RegistrationSubmitted>] {
            for error in csv.errors {
                problems.append(InputProblem(file: file, line: error.line, message: "invalid CSV: \(error.message)"))
            }
            let records = csv.records.filter { record in record.fields.contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }
            guard let header = records.first else {
                if csv.errors.isEmpty { problem(nil, nil, "contains no header row (see docs/contracts/registrations.csv.md)") }
                return []
            }
            if let firstError = csv.errors.first, firstError.line < header.line {
                problem(firstError.line, nil, "the header row cannot be read, so no row is read")
                return []
            }
            guard let columns = readHeader(header) else { return [] }

            var rows: [Row] = []
            for record in records.dropFirst() {
                guard record.fields.count == columns.count else {
                    problem(record.line, nil, "has \(record.fields.count) fields but the header (line \(header.line)) has \(columns.count)")
                    continue
                }
                var cells: [RegistrationColumn: String] = [:]
                for (position, field) in record.fields.enumerated() {
                    let value = Self.clean(field)
                    if let column = columns[position] {
                        cells[column] = value
                    } else if !value.isEmpty, header.fields[position].trimmingCharacters(in: .whitespaces).isEmpty {
                        problem(record.line, nil, "a value in column \(position + 1), which has no name in the header")
                    }
                }
                rows.append(Row(line: record.line, cells: cells))
            }

            var order: [String] = []
            var groups: [String: [Row]] = [:]
            for row in rows {
                let key = "\(row[.eventID])\u{0}\(row[.reference])"
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(row)
            }
            let present = Set(columns.compactMap { $0 })
            return order.compactMap { groups[$0] }.map { delegation($0, present: present) }
        }

        /// The column of each field position (nil: ignored); nil if rows cannot be read.
        mutating func readHeader(_ header: CSV.Record) -> [RegistrationColumn?]? {
            var columns: [RegistrationColumn?] = []
            var unknown: [String] = []
            var seen: Set<RegistrationColumn> = []
            for name in header.fields {
                let key = name.trimmingCharacters(in: .whitespaces).lowercased()
                guard let column = RegistrationColumn(rawValue: key) else {
                    if !key.isEmpty { unknown.append(name.trimmingCharacters(in: .whitespaces)) }
                    columns.append(nil)
                    continue
                }
                if seen.contains(column) {
                    problem(header.line, column, "the column appears twice in the header")
                    columns.append(nil)
                } else {
                    seen.insert(column)
                    columns.append(column)
                }
            }
            if !unknown.isEmpty {
                let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                problem(
                    header.line, nil,
                    "unknown column\(unknown.count == 1 ? "" : "s") \(names); "
                        + "the columns are: \(RegistrationColumn.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let missing = RegistrationColumn.allCases.filter { $0.isRequired && !seen.contains($0) }
            if !missing.isEmpty {
                problem(
                    header.line, nil,
                    "missing required column\(missing.count == 1 ? "" : "s"): \(missing.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return columns
        }

        /// Trimmed; a leading `'` that keeps a spreadsheet from reading `+84…` or `=…` as a
        /// formula is dropped.
        static func clean(_ field: String) -> String {
            let value = field.trimmingCharacters(in: .whitespacesAndNewlines)
            if value.hasPrefix("'"), let second = value.dropFirst().first, "=+-@".contains(second) {
                return String(value.dropFirst())
            }
            return value
        }

        // MARK: Building a delegation

        mutating func delegation(_ rows: [Row], present: Set<RegistrationColumn>) -> Candidate<RegistrationSubmitted> {
            let start = problems.count
            let first = rows[0]
            for row in rows.dropFirst() {
                for column in RegistrationColumn.allCases where !column.isPerDelegate && present.contains(column) {
                    let here = Self.comparable(row[column], column)
                    let there = Self.comparable(first[column], column)
                    if here != there {
                        problem(
                            row.line, column,
                            "\(Self.quoted(row[column])) here but \(Self.quoted(first[column])) on line \(first.line); "
                                + "the registration columns must be the same on every row of a delegation"
                        )
                    }
                }
            }
            let organisation = Organisation(
                name: required(.organisation, first), localName: optional(.localName, first), country: required(.country, first),
                sectors: list(.sectors, first), website: optional(.website, first)
            )
            let leadContact = Contact(
                name: required(.leadContact, first), title: optional(.leadTitle, first), email: required(.leadEmail, first),
                phone: optional(.leadPhone, first), language: language(.leadLanguage, first), channels: channels(.leadChannels, first),
                wechatOpenID: optional(.leadWeChatOpenID, first)
            )
            let delegation = Delegation(
                organisation: organisation, role: role(first), leadContact: leadContact, delegates: rows.map { delegate($0) },
                interests: Interests(sectors: list(.interestSectors, first), topics: list(.interestTopics, first)),
                preferredVisits: list(.preferredVisits, first)
            )
            let submission = RegistrationSubmitted(
                eventID: required(.eventID, first), reference: required(.reference, first), revision: revision(first),
                delegation: delegation,
                consent: Consent(dataProcessing: boolean(.consent, first, required: true), givenAt: dateTime(.consentGivenAt, first)),
                submittedAt: dateTime(.submittedAt, first)
            )
            // The delegation's own problems travel with it (the validator's are checked against them).
            let own = Array(problems[start...])
            problems.removeSubrange(start...)
            return Candidate(file: file, line: first.line, value: submission, problems: own, delegateLines: rows.map(\.line))
        }

        mutating func delegate(_ row: Row) -> Delegate {
            Delegate(
                name: required(.delegateName, row), title: optional(.delegateTitle, row), email: optional(.delegateEmail, row),
                phone: optional(.delegatePhone, row), language: language(.delegateLanguage, row),
                needsInterpreter: boolean(.needsInterpreter, row, required: false), accessibilityNeeds: optional(.accessibilityNeeds, row),
                identityDocument: identityDocument(row), channels: channels(.delegateChannels, row),
                wechatOpenID: optional(.delegateWeChatOpenID, row)
            )
        }

        /// A list of channel names (`wechat;sms;email`), nil when empty.
        mutating func channels(_ column: RegistrationColumn, _ row: Row) -> [ChannelName]? {
            let names = list(column, row)
            guard !names.isEmpty else { return nil }
            return names.compactMap { text in
                if let name = ChannelName(rawValue: text.lowercased()) { return name }
                problem(
                    row.line, column, "\(Self.quoted(text)) is not a channel name: lowercase letters, digits and -, e.g. wechat;sms;email")
                return nil
            }
        }

        /// nil when every document column is empty; otherwise all but the date of birth are needed.
        mutating func identityDocument(_ row: Row) -> IdentityDocument? {
            let columns: [RegistrationColumn] = [
                .documentKind, .documentNumber, .documentIssuingCountry, .documentFullName, .documentDateOfBirth, .documentExpiresOn,
            ]
            guard columns.contains(where: { !row[$0].isEmpty }) else { return nil }
            func needed(_ column: RegistrationColumn) -> String {
                if row[column].isEmpty {
                    problem(
                        row.line, column,
                        "is required when a document is given (document_date_of_birth is the only optional document column)")
                }
                return row[column]
            }
            var kind = IdentityDocument.Kind.passport
            let kindText = needed(.documentKind)
            if !kindText.isEmpty {
                if let parsed = IdentityDocument.Kind(rawValue: kindText.lowercased()) {
                    kind = parsed
                } else {
                    problem(
                        row.line, .documentKind,
                        "\(Self.quoted(kindText)) is not a document kind: "
                            + "write \(Self.choices(IdentityDocument.Kind.allCases.map(\.rawValue)))"
                    )
                }
            }
            return IdentityDocument(
                kind: kind, number: needed(.documentNumber), issuingCountry: needed(.documentIssuingCountry),
                fullName: needed(.documentFullName),
                dateOfBirth: optional(.documentDateOfBirth, row), expiresOn: needed(.documentExpiresOn)
            )
        }

        // MARK: Cells

        mutating func required(_ column: RegistrationColumn, _ row: Row) -> String {
            if row[column].isEmpty { problem(row.line, column, "is required") }
            return row[column]
        }

        func optional(_ column: RegistrationColumn, _ row: Row) -> String? {
            row[column].isEmpty ? nil : row[column]
        }

        func list(_ column: RegistrationColumn, _ row: Row) -> [String] {
            Self.items(row[column])
        }

        mutating func language(_ column: RegistrationColumn, _ row: Row) -> Language {
            let text = required(column, row)
            if let language = Language.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) { return language }
            if !text.isEmpty {
                problem(
                    row.line, column, "\(Self.quoted(text)) is not a language: write \(Self.choices(Language.allCases.map(\.rawValue)))")
            }
            return .english
        }

        mutating func role(_ row: Row) -> DelegationRole {
            let text = required(.role, row)
            if let role = DelegationRole(rawValue: text.lowercased()) { return role }
            if !text.isEmpty {
                problem(
                    row.line, .role, "\(Self.quoted(text)) is not a role: write \(Self.choices(DelegationRole.allCases.map(\.rawValue)))")
            }
            return .visiting
        }

        /// `yes`/`no`/`true`/`false` in any case. An unreadable value reads as true for consent
        /// (so the validator does not add `consent_required` to the problem already reported)
        /// and as false otherwise.
        mutating func boolean(_ column: RegistrationColumn, _ row: Row, required: Bool) -> Bool {
            let text = row[column]
            switch text.lowercased() {
            case "yes", "true": return true
            case "no", "false": return false
            case "":
                if required { problem(row.line, column, "is required: write yes or no") }
            default:
                problem(row.line, column, "\(Self.quoted(text)) is not yes, no, true or false")
            }
            return required
        }

        mutating func revision(_ row: Row) -> Int {
            let text = row[.revision]
            if text.isEmpty { return 1 }
            if let revision = Int(text) { return revision }
            problem(
                row.line, .revision,
                "\(Self.quoted(text)) is not a whole number (1 for a new registration, 2 for its first amendment, …)")
            return 1
        }

        mutating func dateTime(_ column: RegistrationColumn, _ row: Row) -> Date? {
            let text = row[column]
            if text.isEmpty { return nil }
            if let date = MessageCoding.parse(text) { return date }
            problem(row.line, column, "\(Self.quoted(text)) is not an ISO-8601 date-time with a time zone, e.g. 2026-01-05T10:12:00+07:00")
            return nil
        }

        static func items(_ text: String) -> [String] {
            text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        /// A cell as compared across a delegation's rows: lists by their items, yes/no by meaning.
        static func comparable(_ text: String, _ column: RegistrationColumn) -> String {
            if column.isList { return items(text).joined(separator: ";") }
            if column == .consent {
                return ["yes", "true"].contains(text.lowercased()) ? "yes" : ["no", "false"].contains(text.lowercased()) ? "no" : text
            }
            return text
        }

        static func quoted(_ text: String) -> String { text.isEmpty ? "(empty)" : "'\(text)'" }

        static func choices(_ values: [String]) -> String {
            guard let last = values.last else { return "" }
            return values.dropLast().joined(separator: ", ") + " or " + last
        }

        // MARK: Validator paths

        /// The row and column of a JSON path from `RegistrationValidator`: `delegates[2].email`
        /// is the third delegate's row, column `delegate_email`; `organisation.sectors[1]` is
        /// the delegation's first row, column `sectors`. Paths without a column stay as they are.
        static func locate(_ jsonPath: String, delegateLines: [Int], firstLine: Int) -> (line: Int, path: String) {
            let prefix = "delegates["
            if jsonPath.hasPrefix(prefix), let close = jsonPath.firstIndex(of: "]"),
                let index = Int(jsonPath[jsonPath.index(jsonPath.startIndex, offsetBy: prefix.count)..<close]),
                delegateLines.indices.contains(index)
            {
                let field = jsonPath[jsonPath.index(after: close)...].drop { $0 == "." }
                let column = RegistrationColumn.allCases.first { $0.isPerDelegate && $0.jsonPath == withoutIndex(String(field)) }
                return (delegateLines[index], column?.rawValue ?? jsonPath)
            }
            let column = RegistrationColumn.allCases.first { !$0.isPerDelegate && $0.jsonPath == withoutIndex(jsonPath) }
            return (firstLine, column?.rawValue ?? jsonPath)
        }

        /// `delegates[0]` (not followed by a field) → `the delegate on line 2`.
        static func namingRows(in message: String, delegateLines: [Int]) -> String {
            var text = message
            for (index, line) in delegateLines.enumerated().reversed() {
                let name = "delegates[\(index)]"
                var searchStart = text.startIndex
                while let found = text.range(of: name, range: searchStart..<text.endIndex) {
                    if found.upperBound < text.endIndex, text[found.upperBound] == "." {
                        searchStart = found.upperBound
                        continue
                    }
                    let replacement = "the delegate on line \(line)"
                    text.replaceSubrange(found, with: replacement)
                    searchStart = text.index(found.lowerBound, offsetBy: replacement.count)
                }
            }
            return text
        }

        /// `organisation.sectors[1]` → `organisation.sectors`.
        static func withoutIndex(_ path: String) -> String {
            guard path.hasSuffix("]"), let open = path.lastIndex(of: "[") else { return path }
            return String(path[..<open])
        }
    }

    /// The columns of a registrations CSV (documented in `docs/contracts/registrations.csv.md`).
    enum RegistrationColumn: String, CaseIterable {
        case eventID = "event_id"
        case reference
        case revision
        case organisation
        case localName = "local_name"
        case country
        case sectors
        case website
        case role
        case leadContact = "lead_contact"
        case leadTitle = "lead_title"
        case leadEmail = "lead_email"
        case leadPhone = "lead_phone"
        case leadLanguage = "lead_language"
        case leadChannels = "lead_channels"
        case leadWeChatOpenID = "lead_wechat_openid"
        case interestSectors = "interest_sectors"
        case interestTopics = "interest_topics"
        case preferredVisits = "preferred_visits"
        case consent
        case consentGivenAt = "consent_given_at"
        case submittedAt = "submitted_at"
        case delegateName = "delegate_name"
        case delegateTitle = "delegate_title"
        case delegateEmail = "delegate_email"
        case delegatePhone = "delegate_phone"
        case delegateLanguage = "delegate_language"
        case needsInterpreter = "needs_interpreter"
        case accessibilityNeeds = "accessibility_needs"
        case delegateChannels = "delegate_channels"
        case delegateWeChatOpenID = "delegate_wechat_openid"
        case documentKind = "document_kind"
        case documentNumber = "document_number"
        case documentIssuingCountry = "document_issuing_country"
        case documentFullName = "document_full_name"
        case documentDateOfBirth = "document_date_of_birth"
        case documentExpiresOn = "document_expires_on"

        /// The header must have it (a cell may still be empty where the field is optional).
        var isRequired: Bool {
            switch self {
            case .eventID, .reference, .organisation, .country, .role, .leadContact, .leadEmail, .leadLanguage, .consent, .delegateName,
                .delegateLanguage:
                return true
            default:
                return false
            }
        }

        /// Differs from row to row; the others describe the registration and repeat.
        var isPerDelegate: Bool {
            switch self {
            case .delegateName, .delegateTitle, .delegateEmail, .delegatePhone, .delegateLanguage, .needsInterpreter, .accessibilityNeeds,
                .delegateChannels, .delegateWeChatOpenID, .documentKind, .documentNumber, .documentIssuingCountry, .documentFullName,
                .documentDateOfBirth, .documentExpiresOn:
                return true
            default:
                return false
            }
        }

        var isList: Bool {
            [.sectors, .interestSectors, .interestTopics, .preferredVisits, .leadChannels, .delegateChannels].contains(self)
        }

        /// The field in `registration.submitted`; for per-delegate columns, within `delegates[i]`.
        var jsonPath: String {
            switch self {
            case .eventID: return "eventID"
            case .reference: return "reference"
            case .revision: return "revision"
            case .organisation: return "organisation.name"
            case .localName: return "organisation.localName"
            case .country: return "organisation.country"
            case .sectors: return "organisation.sectors"
            case .website: return "organisation.website"
            case .role: return "role"
            case .leadContact: return "leadContact.name"
            case .leadTitle: return "leadContact.title"
            case .leadEmail: return "leadContact.email"
            case .leadPhone: return "leadContact.phone"
            case .leadLanguage: return "leadContact.language"
            case .leadChannels: return "leadContact.channels"
            case .leadWeChatOpenID: return "leadContact.wechatOpenID"
            case .interestSectors: return "interests.sectors"
            case .interestTopics: return "interests.topics"
            case .preferredVisits: return "preferredVisits"
            case .consent: return "consent.dataProcessing"
            case .consentGivenAt: return "consent.givenAt"
            case .submittedAt: return "submittedAt"
            case .delegateName: return "name"
            case .delegateTitle: return "title"
            case .delegateEmail: return "email"
            case .delegatePhone: return "phone"
            case .delegateLanguage: return "language"
            case .needsInterpreter: return "needsInterpreter"
            case .accessibilityNeeds: return "accessibilityNeeds"
            case .delegateChannels: return "channels"
            case .delegateWeChatOpenID: return "wechatOpenID"
            case .documentKind: return "identityDocument.kind"
            case .documentNumber: return "identityDocument.number"
            case .documentIssuingCountry: return "identityDocument.issuingCountry"
            case .documentFullName: return "identityDocument.fullName"
            case .documentDateOfBirth: return "identityDocument.dateOfBirth"
            case .documentExpiresOn: return "identityDocument.expiresOn"
            }
        }
    }
}

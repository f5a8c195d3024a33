import Foundation
import Messages
import Passes

/// A bus's passenger list for a day, for the transport company and the marshals: every person
/// riding it (by delegation), the columns the organiser chooses, and the stops each gets off at.
/// As a page (printable) or CSV.
public struct Manifest: Sendable {
    public enum Column: String, Sendable, CaseIterable {
        case organisation, name, title, language, phone, interpreter, accessibility
        /// Whether the person has an identity document on file.
        case document
        /// The document's kind, number, issuing country and expiry: only for accounts with the
        /// `personal-data` role, and only where the console holds its key.
        case documentNumber = "document-number"
        /// The delegation's lead contact and phone: whom a marshal calls.
        case lead
        /// The person's pass: its QR code on the page, its short code (in the CSV too).
        case pass

        /// Whether the column shows personal data beyond what every account sees.
        public var isPersonalData: Bool { self == .documentNumber }
    }

    /// What a manifest shows unless the organiser chooses otherwise.
    public static let defaultColumns: [Column] = [.organisation, .name, .language, .phone, .lead]

    public struct Row: Sendable, Equatable {
        public var registrationID: String
        public var organisation: String
        public var person: Delegate
        public var lead: Contact
        /// Whether the person has an identity document on file.
        public var hasDocument: Bool
        /// The document itself, opened only for an account allowed to see it (or why it does not
        /// open: a key the console no longer holds).
        public var document: Result<IdentityDocument, SealedDocumentError>?
        /// One flag per stop of the bus: whether this person's itinerary has it.
        public var stops: [Bool]
        /// The person's pass, where the console has the pass keys and the column is chosen.
        public var pass: PassShown?
    }

    /// A pass as the manifest shows it: the short code, and the QR code as SVG.
    public struct PassShown: Sendable, Equatable {
        public var code: String
        public var svg: String
    }

    public let bus: BusTimeline.BusDay
    public let rows: [Row]

    /// The riders of `bus`, each delegation's people in the order it registered them,
    /// delegations by organisation; `documents`, the opened documents of those whose numbers
    /// may be shown (by registration, one per person).
    /// `pass`: the pass of a registration's person (by place, 1 for the first delegate), if shown.
    public init(
        bus: BusTimeline.BusDay, people: [String: ConsoleQueries.People],
        documents: [String: [Result<IdentityDocument, SealedDocumentError>?]] = [:], pass: (String, Int) -> PassShown? = { _, _ in nil }
    ) {
        self.bus = bus
        var rows: [Row] = []
        for rider in bus.riders {
            guard let found = people[rider.registrationID] else { continue }
            let stops = bus.stops.map { rider.stops.contains($0.key) }
            let opened = documents[rider.registrationID] ?? []
            for (index, person) in found.delegation.delegates.enumerated() {
                rows.append(
                    Row(
                        registrationID: rider.registrationID, organisation: rider.organisation, person: person,
                        lead: found.delegation.leadContact, hasDocument: found.documents.indices.contains(index) && found.documents[index],
                        document: opened.indices.contains(index) ? opened[index] : nil, stops: stops,
                        pass: pass(rider.registrationID, index + 1)))
            }
        }
        self.rows = rows
    }

    /// The columns `names` name, in their order, each once; the default if none is known. A
    /// personal-data column is dropped unless `personalData`.
    public static func columns(_ names: [String], personalData: Bool = false) -> [Column] {
        let chosen = names.compactMap(Column.init(rawValue:)).filter { personalData || !$0.isPersonalData }
        return chosen.isEmpty ? defaultColumns : chosen.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    public func value(_ column: Column, of row: Row) -> String {
        switch column {
        case .organisation: return row.organisation
        case .name: return row.person.name
        case .title: return row.person.title ?? ""
        case .language: return row.person.language.rawValue
        case .phone: return row.person.phone ?? ""
        case .interpreter: return row.person.needsInterpreter ? "✓" : ""
        case .accessibility: return row.person.accessibilityNeeds ?? ""
        case .document: return row.hasDocument ? "✓" : ""
        case .documentNumber:
            switch row.document {
            case .success(let document):
                return "\(document.kind.rawValue) \(document.number) (\(document.issuingCountry), \(document.expiresOn))"
            case .failure(let problem): return "(\(problem))"
            case nil: return ""
            }
        case .lead: return [row.lead.name, row.lead.phone].compactMap { $0 }.joined(separator: ", ")
        case .pass: return row.pass?.code ?? ""
        }
    }

    /// Buses' manifests as one RFC 4180 CSV file (CRLF, fields quoted where needed), with a
    /// byte-order mark so that spreadsheets read it as UTF-8: a header row (`headings`: the bus,
    /// the columns, the stops), then a row per person: the bus, the columns, and the stops the
    /// person gets off at (`stop` of each, joined by "; "). A cell a spreadsheet would run as a
    /// formula is prefixed with `'`.
    public static func csv(_ manifests: [Manifest], columns: [Column], headings: [String], stop: (BusTimeline.Stop) -> String) -> String {
        var lines = [headings.map(CSVField.escaped).joined(separator: ",")]
        for manifest in manifests {
            for row in manifest.rows {
                let stops = zip(manifest.bus.stops, row.stops).filter(\.1).map { stop($0.0) }.joined(separator: "; ")
                let cells = [manifest.bus.busID] + columns.map { manifest.value($0, of: row) } + [stops]
                lines.append(cells.map(CSVField.escaped).joined(separator: ","))
            }
        }
        return "\u{FEFF}" + lines.map { $0 + "\r\n" }.joined()
    }

}

import Foundation
import GRDB
import Messages

/// CSV export of an event's registrations for organisers (RFC 4180: CRLF line ends, quoted
/// fields where needed, formulas disarmed: `CSVField`, UTF-8). Identity documents are never
/// exported.
public enum RegistrationsExport {
    public static let header = [
        "registration_id", "reference", "revision", "status", "waitlist_position", "organisation", "local_name", "country", "role",
        "sectors", "delegates", "interpreters_needed", "lead_contact", "lead_email", "lead_language", "preferred_visits", "updated_at",
    ]

    public static func csv(eventID: String, in db: Database) throws -> String {
        let records = try RegistrationStore.registrations(eventID: eventID, in: db)
        var positions: [String: Int] = [:]
        let waiting = records.filter { $0.status == .waitlisted }.sorted { ($0.waitlistSequence ?? 0) < ($1.waitlistSequence ?? 0) }
        for (index, record) in waiting.enumerated() { positions[record.registrationID] = index + 1 }
        var lines = [header.map(CSVField.escaped).joined(separator: ",")]
        for record in records {
            let delegation = record.delegation
            let row: [String] = [
                record.registrationID, record.reference, String(record.revision), record.status.rawValue,
                positions[record.registrationID].map(String.init) ?? "", delegation.organisation.name,
                delegation.organisation.localName ?? "",
                delegation.organisation.country, delegation.role.rawValue, delegation.organisation.sectors.joined(separator: ";"),
                String(record.delegateCount), String(delegation.delegates.count { $0.needsInterpreter }), delegation.leadContact.name,
                delegation.leadContact.email, delegation.leadContact.language.rawValue, delegation.preferredVisits.joined(separator: ";"),
                MessageCoding.format(record.updatedAt),
            ]
            lines.append(row.map(CSVField.escaped).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

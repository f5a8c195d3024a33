import Foundation
import Messages

/// Schedules company-to-company meetings: visiting companies with local hosts, in the meeting
/// slots, one company per table per slot.
///
/// A pair qualifies when one side's interests meet the other's sectors; when both do, it is
/// mutual and goes first. Then by score (how many tags meet), then by id. No company is in two
/// meetings in a slot, no table holds two, no pair meets twice, nobody meets during their tour,
/// and companies with nothing in common are never put together.
struct MeetingScheduler {
    let model: EventModel
    let delegations: [PlanningDelegation]
    let tours: [Tour]

    struct Candidate {
        let visitor: String
        let host: String
        let mutual: Bool
        let score: Int
    }

    static func candidate(_ visitor: PlanningDelegation, _ host: PlanningDelegation) -> Candidate? {
        let wanted = Set(visitor.interests).intersection(host.sectors).count
        let wanting = Set(host.interests).intersection(visitor.sectors).count
        guard wanted + wanting > 0 else { return nil }
        return Candidate(visitor: visitor.id, host: host.id, mutual: wanted > 0 && wanting > 0, score: wanted + wanting)
    }

    func schedule(keeping previous: [Meeting]) -> [Meeting] {
        let slots = model.programme.meetingSlots.sorted { ($0.start, $0.id) < ($1.start, $1.id) }
        guard !slots.isEmpty else { return [] }
        let visitors = delegations.filter { $0.role == .visiting }.sorted { $0.id < $1.id }
        let hosts = delegations.filter { $0.role == .host }.sorted { $0.id < $1.id }
        let byID = Dictionary(delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        var booked: [String: Set<String>] = [:]  // slot → companies
        var tables: [String: Set<Int>] = [:]  // slot → tables in use
        var met = Set<String>()
        var meetings: [Meeting] = []

        func free(_ company: String, _ slot: MeetingSlot) -> Bool {
            booked[slot.id]?.contains(company) != true && !touring(company, during: slot)
        }
        func book(_ meeting: Meeting, _ slot: MeetingSlot) {
            booked[slot.id, default: []].formUnion([meeting.visitorID, meeting.hostID])
            tables[slot.id, default: []].insert(meeting.table)
            met.insert("\(meeting.visitorID)|\(meeting.hostID)")
            meetings.append(meeting)
        }

        // Meetings already announced stay where they are while they remain valid.
        for meeting in previous.sorted(by: { ($0.slotID, $0.table) < ($1.slotID, $1.table) }) {
            guard let slot = model.slots[meeting.slotID], meeting.table >= 1, meeting.table <= slot.tables,
                let visitor = byID[meeting.visitorID], let host = byID[meeting.hostID], visitor.role == .visiting, host.role == .host,
                Self.candidate(visitor, host) != nil, !met.contains("\(meeting.visitorID)|\(meeting.hostID)"),
                tables[slot.id]?.contains(meeting.table) != true, free(meeting.visitorID, slot), free(meeting.hostID, slot)
            else { continue }
            book(meeting, slot)
        }

        // Each visitor's best hosts, then all pairs by mutual interest, score and id.
        let perVisitor = slots.count * 2
        var candidates: [Candidate] = []
        let hostsByTag = Dictionary(grouping: hosts.flatMap { host in host.sectors.map { ($0, host) } }, by: \.0).mapValues { $0.map(\.1) }
        let hostsByInterest = Dictionary(grouping: hosts.flatMap { host in host.interests.map { ($0, host) } }, by: \.0).mapValues { $0.map(\.1) }
        for visitor in visitors {
            var related: [String: PlanningDelegation] = [:]
            for tag in visitor.interests { for host in hostsByTag[tag] ?? [] { related[host.id] = host } }
            for tag in visitor.sectors { for host in hostsByInterest[tag] ?? [] { related[host.id] = host } }
            let mine = related.values.compactMap { Self.candidate(visitor, $0) }
                .sorted { ($0.mutual ? 1 : 0, $0.score, $1.host) > ($1.mutual ? 1 : 0, $1.score, $0.host) }
            candidates += mine.prefix(perVisitor)
        }
        candidates.sort { ($0.mutual ? 1 : 0, $0.score, $1.visitor, $1.host) > ($1.mutual ? 1 : 0, $1.score, $0.visitor, $0.host) }
        for candidate in candidates where !met.contains("\(candidate.visitor)|\(candidate.host)") {
            for slot in slots where free(candidate.visitor, slot) && free(candidate.host, slot) {
                guard let table = (1...max(1, slot.tables)).first(where: { tables[slot.id]?.contains($0) != true }), table <= slot.tables else { continue }
                book(Meeting(slotID: slot.id, table: table, visitorID: candidate.visitor, hostID: candidate.host, mutual: candidate.mutual), slot)
                break
            }
        }
        return meetings.sorted { ($0.slotID, $0.table) < ($1.slotID, $1.table) }
    }

    private func touring(_ company: String, during slot: MeetingSlot) -> Bool {
        tours.contains { tour in
            guard tour.passengers.contains(company), let end = tour.stops.last?.departure else { return false }
            return slot.start < end && slot.end > tour.departure
        }
    }
}

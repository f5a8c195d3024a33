import Foundation
import Messages

/// Schedules company-to-company meetings: visiting companies with local hosts, in the meeting
/// slots, one company per table per slot.
///
/// A pair qualifies when one side's interests meet the other's sectors; when both do, it is
/// mutual and goes first. Then by score (how many tags meet), then by id. No company is in two
/// meetings in a slot, no table holds two, no pair meets twice, nobody meets during their tour,
/// and companies with nothing in common are never put together.
///
/// Every visitor–host pair is looked at, so companies are numbered and tags compared as bit
/// sets.
struct MeetingScheduler {
    let model: EventModel
    let delegations: [PlanningDelegation]
    /// When each company is away on a tour.
    private let away: [String: [(start: Date, end: Date)]]

    init(model: EventModel, delegations: [PlanningDelegation], tours: [Tour]) {
        self.model = model
        self.delegations = delegations
        var away: [String: [(start: Date, end: Date)]] = [:]
        for tour in tours {
            guard let end = tour.stops.last?.departure else { continue }
            for passenger in tour.passengers { away[passenger, default: []].append((tour.departure, end)) }
        }
        self.away = away
    }

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

    /// A pair by index, ordered for booking.
    private struct Pair {
        let visitor: Int
        let host: Int
        let mutual: Bool
        let score: Int

        /// Mutual first, then higher score, then visitor and host id (indices follow id order).
        static func before(_ a: Pair, _ b: Pair) -> Bool {
            (a.mutual ? 1 : 0, a.score, b.visitor, b.host) > (b.mutual ? 1 : 0, b.score, a.visitor, a.host)
        }
    }

    /// `lookingFor`: the companies to find new meetings for (nil: everyone, a fresh plan).
    func schedule(keeping previous: [Meeting], lookingFor: Set<String>? = nil) -> [Meeting] {
        let slots = model.programme.meetingSlots.sorted { ($0.start, $0.id) < ($1.start, $1.id) }
        guard !slots.isEmpty else { return [] }
        let visitors = delegations.filter { $0.role == .visiting }.sorted { $0.id < $1.id }
        let hosts = delegations.filter { $0.role == .host }.sorted { $0.id < $1.id }
        let visitorIndex = Dictionary(visitors.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let hostIndex = Dictionary(hosts.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let slotIndex = Dictionary(slots.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })

        // Who is free when: [company][slot], visitors then hosts.
        var visitorBusy = visitors.map { visitor in slots.map { slot in touring(visitor.id, during: slot) } }
        var hostBusy = hosts.map { host in slots.map { slot in touring(host.id, during: slot) } }
        var tablesUsed = Array(repeating: Set<Int>(), count: slots.count)
        var met = Array(repeating: false, count: visitors.count * hosts.count)  // [visitor * hosts.count + host]
        var meetings: [Meeting] = []

        func book(_ visitor: Int, _ host: Int, _ slot: Int, table: Int, mutual: Bool) {
            visitorBusy[visitor][slot] = true
            hostBusy[host][slot] = true
            tablesUsed[slot].insert(table)
            met[visitor * hosts.count + host] = true
            meetings.append(
                Meeting(slotID: slots[slot].id, table: table, visitorID: visitors[visitor].id, hostID: hosts[host].id, mutual: mutual))
        }

        let tags = TagIndex(delegations)
        let hostWants = hosts.map { tags.set($0.interests) }
        let hostOffers = hosts.map { tags.set($0.sectors) }
        func pair(_ visitor: Int, _ host: Int, wants: [UInt64], offers: [UInt64]) -> Pair? {
            let wanted = TagIndex.common(wants, hostOffers[host]), wanting = TagIndex.common(hostWants[host], offers)
            guard wanted + wanting > 0 else { return nil }
            return Pair(visitor: visitor, host: host, mutual: wanted > 0 && wanting > 0, score: wanted + wanting)
        }

        // Meetings already announced stay where they are while they remain valid.
        for meeting in previous.sorted(by: { ($0.slotID, $0.table) < ($1.slotID, $1.table) }) {
            guard let s = slotIndex[meeting.slotID], let v = visitorIndex[meeting.visitorID], let h = hostIndex[meeting.hostID],
                meeting.table >= 1, meeting.table <= slots[s].tables, !tablesUsed[s].contains(meeting.table),
                !visitorBusy[v][s], !hostBusy[h][s], !met[v * hosts.count + h],
                let p = pair(v, h, wants: tags.set(visitors[v].interests), offers: tags.set(visitors[v].sectors))
            else { continue }
            book(v, h, s, table: meeting.table, mutual: p.mutual)
        }

        // Each visitor's best hosts (as many as there are slots, twice over), then all those
        // pairs in order.
        let perVisitor = slots.count * 2
        var candidates: [Pair] = []
        let allHosts = Array(hosts.indices)
        let changedHosts = lookingFor.map { wanted in hosts.indices.filter { wanted.contains(hosts[$0].id) } } ?? allHosts
        for v in visitors.indices {
            // A visitor whose situation did not change only pairs with hosts whose did.
            let candidatesHosts = lookingFor?.contains(visitors[v].id) ?? true ? allHosts : changedHosts
            guard !candidatesHosts.isEmpty else { continue }
            let wants = tags.set(visitors[v].interests), offers = tags.set(visitors[v].sectors)
            var mine: [Pair] = []
            for h in candidatesHosts {
                if let p = pair(v, h, wants: wants, offers: offers) { mine.append(p) }
            }
            if mine.count > perVisitor {
                mine.sort(by: Pair.before)
                mine.removeLast(mine.count - perVisitor)
            }
            candidates += mine
        }
        candidates.sort(by: Pair.before)
        for candidate in candidates where !met[candidate.visitor * hosts.count + candidate.host] {
            for s in slots.indices where !visitorBusy[candidate.visitor][s] && !hostBusy[candidate.host][s] {
                guard let table = (1...max(1, slots[s].tables)).first(where: { !tablesUsed[s].contains($0) }), table <= slots[s].tables
                else { continue }
                book(candidate.visitor, candidate.host, s, table: table, mutual: candidate.mutual)
                break
            }
        }
        return meetings.sorted { ($0.slotID, $0.table) < ($1.slotID, $1.table) }
    }

    /// Tags as bit sets over every tag in the input.
    struct TagIndex {
        private var bits: [String: Int] = [:]

        init(_ delegations: [PlanningDelegation]) {
            for tag in Set(delegations.flatMap { $0.interests + $0.sectors }).sorted() { bits[tag] = bits.count }
        }

        func set(_ tags: [String]) -> [UInt64] {
            var words = Array(repeating: UInt64(0), count: max(1, (bits.count + 63) / 64))
            for tag in tags { if let bit = bits[tag] { words[bit / 64] |= 1 << UInt64(bit % 64) } }
            return words
        }

        static func common(_ a: [UInt64], _ b: [UInt64]) -> Int {
            var count = 0
            for index in a.indices where index < b.count { count += (a[index] & b[index]).nonzeroBitCount }
            return count
        }
    }

    private func touring(_ company: String, during slot: MeetingSlot) -> Bool {
        away[company]?.contains { slot.start < $0.end && slot.end > $0.start } ?? false
    }
}

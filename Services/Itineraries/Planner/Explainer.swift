import Foundation
import Messages

/// Says, for each delegation, which preferred visits the plan does not give it and why.
struct Explainer {
    let model: EventModel
    let plan: Plan
    let sizes: [String: Int]
    let overrides: [PlanningOverride]

    init(model: EventModel, plan: Plan, delegations: [PlanningDelegation], overrides: [PlanningOverride] = []) {
        self.model = model
        self.plan = plan
        self.overrides = overrides
        sizes = Dictionary(delegations.map { ($0.id, $0.size) }, uniquingKeysWith: { first, _ in first })
    }

    func explained(_ visitors: [PlanningDelegation]) -> Plan {
        var plan = plan
        var unmet: [String: [UnmetPreference]] = [:]
        var toursOf: [String: [Tour]] = [:]
        for tour in plan.tours { for passenger in tour.passengers { toursOf[passenger, default: []].append(tour) } }
        var visitsTo: [String: [Tour]] = [:]
        for tour in plan.tours { for stop in tour.stops { visitsTo[stop.venueID, default: []].append(tour) } }
        for delegation in visitors {
            let mine = toursOf[delegation.id] ?? []
            let seen = Set(mine.flatMap(\.stops).map(\.venueID))
            var reasons: [UnmetPreference] = []
            for venueID in delegation.preferredVisits where !seen.contains(venueID) {
                reasons.append(reason(delegation, venueID, myTours: mine, groupsThere: visitsTo[venueID] ?? []))
            }
            if !reasons.isEmpty { unmet[delegation.id] = reasons }
        }
        plan.unmet = unmet
        return plan
    }

    private func reason(_ delegation: PlanningDelegation, _ venueID: String, myTours: [Tour], groupsThere: [Tour]) -> UnmetPreference {
        guard let venue = model.venues[venueID], venue.isSiteVisit else {
            return UnmetPreference(venueID: venueID, reason: .unknownVenue, detail: "'\(venueID)' is not a site visit of this event")
        }
        let openDays = model.days.filter { day in day.openVenues.contains { $0.venue.id == venueID } }
        if let forbidden = overrides.first(where: { $0.kind == .forbidVisit && $0.delegationID == delegation.id && $0.venueID == venueID })
        {
            return UnmetPreference(
                venueID: venueID, reason: .organiser, detail: "the organisers took this visit out for the delegation (\(forbidden.id))")
        }
        let pins = overrides.filter { pin in
            pin.kind == .pin && pin.delegationID == delegation.id && openDays.contains { $0.date == pin.day }
        }
        if !pins.isEmpty, pins.count == openDays.count, let pin = pins.first {
            return UnmetPreference(
                venueID: venueID, reason: .organiser,
                detail: "the organisers put the delegation on \(pin.busID ?? "a bus") on \(pin.day ?? "that day") (\(pin.id)), "
                    + "which does not go there")
        }
        guard !openDays.isEmpty else {
            return UnmetPreference(
                venueID: venueID, reason: .closed,
                detail: "\(venue.name.text(in: .english)) has no opening that fits between the sessions on the event's days")
        }
        if !delegation.mayEnter(venue.restrictedAccess) {
            return UnmetPreference(
                venueID: venueID, reason: .documentsMissing,
                detail: "\(venue.name.text(in: .english)) admits only visitors whose identity documents were complete before the deadline")
        }
        if delegation.size > venue.capacityPerVisit {
            return UnmetPreference(
                venueID: venueID, reason: .full,
                detail: "the delegation (\(delegation.size)) is larger than a visit group there (\(venue.capacityPerVisit))")
        }
        let name = venue.name.text(in: .english)
        guard let mine = myTours.first(where: { tour in openDays.contains { $0.date == tour.day } }) else {
            return UnmetPreference(venueID: venueID, reason: .full, detail: "no seat was free on a bus on the days \(name) is open")
        }
        let groupSize = mine.passengers.reduce(0) { sum, id in sum + (sizes[id] ?? 0) }
        if groupSize > venue.capacityPerVisit {
            return UnmetPreference(
                venueID: venueID, reason: .full,
                detail: "the delegation's bus group (\(groupSize)) is larger than a visit group at \(name) (\(venue.capacityPerVisit))")
        }
        let noRoomIn = { (tour: Tour) in tour.passengers.reduce(0) { $0 + (sizes[$1] ?? 0) } + delegation.size > venue.capacityPerVisit }
        if !groupsThere.isEmpty, groupsThere.allSatisfy(noRoomIn) {
            return UnmetPreference(venueID: venueID, reason: .full, detail: "the visit groups to \(name) are full")
        }
        return UnmetPreference(
            venueID: venueID, reason: .clash,
            detail: "the delegation's tour that day could not fit \(name) around its other visits and the travel between them")
    }
}

import Foundation
import GRDB
import ServiceRuntime

/// Whether an event needs planning (table `plan_inputs`): every change to what its plan depends
/// on (its programme, a delegation accepted or cancelled) raises `generation`; a plan made from
/// inputs at one generation is saved only if nothing but new delegations came since (the
/// generation is still that one, or `alteredGeneration`, the last change that was not a new
/// delegation's arrival, is not later), and then marks it planned: the newcomers wait for the
/// next round.
struct PlanInputs: StoreRecord {
    static let databaseTableName = "plan_inputs"

    var eventID: String
    var generation: Int
    var plannedGeneration: Int
    /// The generation of the last change other than a new delegation's arrival.
    var alteredGeneration: Int
    /// The first and the latest change not yet planned (nil once planned).
    var firstChange: Date?
    var lastChange: Date?
    /// The trace of the latest change: the plan it leads to is a span of that trace.
    var trace: TraceContext?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", generation, plannedGeneration = "planned_generation", alteredGeneration = "altered_generation"
        case firstChange = "first_change", lastChange = "last_change", trace
    }

    /// When it should be planned: after `debounce` of quiet, at the latest `maxWait` after the
    /// first change; nil when nothing waits.
    func due(debounce: Double, maxWait: Double) -> Date? {
        guard generation > plannedGeneration, let firstChange, let lastChange else { return nil }
        return min(lastChange.addingTimeInterval(debounce), firstChange.addingTimeInterval(maxWait))
    }
}

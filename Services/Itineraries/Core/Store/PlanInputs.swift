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
    /// The latest change was the last of a batch published together (an import, contract 1.8).
    var batchEnded: Bool

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", generation, plannedGeneration = "planned_generation", alteredGeneration = "altered_generation"
        case firstChange = "first_change", lastChange = "last_change", trace, batchEnded = "batch_ended"
    }

    /// When it should be planned, and why then: after `debounce` of quiet, at the latest
    /// `maxWait` after the first change, at once when the latest change ended a batch (the burst
    /// the quiet waits for is known to be over); nil when nothing waits.
    func due(debounce: Double, maxWait: Double) -> (at: Date, trigger: PlanTrigger)? {
        guard generation > plannedGeneration, let firstChange, let lastChange else { return nil }
        if batchEnded { return (lastChange, .batch) }
        let quiet = lastChange.addingTimeInterval(debounce)
        let limit = firstChange.addingTimeInterval(maxWait)
        return quiet <= limit ? (quiet, .quiet) : (limit, .limit)
    }
}

/// Why an event was planned when it was (`plans_total{trigger}`): the last of a batch came in,
/// the changes settled, the longest wait ran out while they kept coming, or the organisers asked
/// for a re-optimisation.
public enum PlanTrigger: String, Sendable {
    case batch, quiet, limit, request
}

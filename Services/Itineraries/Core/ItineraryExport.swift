import Foundation
import GRDB
import ItineraryPlanner
import Messages

/// The command line's exports, from the store.
public enum ItineraryExport {
    public enum Failure: Error, CustomStringConvertible {
        case noPlan(String)
        case badRequest(String)
        public var description: String {
            switch self {
            case .noPlan(let event): return "no plan for event '\(event)' in this store"
            case .badRequest(let text): return text
            }
        }
    }

    public static func render(event: String, delegation: String?, bus: String?, format: String, language: Language, in db: Database) throws
        -> String
    {
        guard let s = try ItinerariesHTTP.snapshot(event, in: db) else { throw Failure.noPlan(event) }
        let builder = s.builder
        let items: [ItineraryItem]
        let name: String
        if let delegation {
            items = try ItineraryStore.told(eventID: event, in: db)[delegation]?.items ?? builder.items(for: delegation, in: s.plan)
            name = s.delegations.first { $0.planning.id == delegation }?.planning.name ?? delegation
        } else if let bus {
            items = builder.items(forBus: bus, in: s.plan)
            name = "Bus \(bus)"
        } else {
            let sizes = Dictionary(s.delegations.map { ($0.planning.id, $0.planning.size) }, uniquingKeysWith: { first, _ in first })
            return try MessageCoding.encodeText(builder.headcounts(s.plan, sizes: sizes)) + "\n"
        }
        switch format {
        case "ics": return builder.calendar(items, name: name, language: language).render(stamp: Date())
        case "json": return try MessageCoding.encodeText(items) + "\n"
        default: throw Failure.badRequest("--format is json or ics")
        }
    }
}

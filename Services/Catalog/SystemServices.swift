import ConsoleCore
import ItinerariesCore
import NotificationsCore
import RegistrationsCore
import ServiceRuntime

/// Every service of the system, as each declares itself (its router's types, its partition, its
/// port): what the ops tool applies and checks, the deployment grants and the system tests run.
public enum SystemServices {
    public static let registrations = RegistrationsService.description
    public static let itineraries = ItinerariesService.description
    public static let notifications = NotificationsService.description
    public static let console = ConsoleService.description

    public static let all = [registrations, itineraries, notifications, console]

    /// A service by name: a kind (`registrations`) or an instance of one, as `<P>_NAME` names
    /// instances (`registrations-2`, `notifications-eu`): the kind's messages under its own queues.
    public static func named(_ name: String) -> ServiceDescription? {
        if let kind = all.first(where: { $0.name == name }) { return kind }
        guard let kind = all.first(where: { name.hasPrefix("\($0.name)-") }), name.count > kind.name.count + 1 else { return nil }
        return kind.instance(named: name)
    }
}

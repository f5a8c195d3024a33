import Foundation
import Messages

/// Who a notification goes to.
public struct Recipient: Sendable, Codable, Hashable {
    public var name: String
    public var email: String
    public var language: Language

    public init(name: String, email: String, language: Language) {
        self.name = name
        self.email = email
        self.language = language
    }
}

/// What a notification says, kept until it is sent (templates render it at send time).
public struct NotificationContent: Sendable, Codable, Equatable {
    public var organisation: String
    public var reference: String?
    public var delegates: Int?
    public var position: Int?
    public var promoted: Bool?
    public var reason: String?
    public var issues: [ValidationIssue] = []
    public var items: [ItineraryItem] = []
    public var changes: [ItineraryChange] = []
    public var unmet: [UnmetPreference] = []
    public var planVersion: Int?
    /// Calendar entries the recipient received that are now withdrawn (a cancellation, or a
    /// delegate removed by an amendment): sent as an iCalendar `METHOD:CANCEL`.
    public var withdrawn: [ItineraryItem]?
    /// The recipient is no longer one of the delegation's people (an amendment removed them).
    public var removedFromDelegation: Bool?
    /// A refused amendment: the registration stands as it was.
    public var standing: RegistrationRejected.Standing?

    public init(organisation: String, reference: String? = nil) {
        self.organisation = organisation
        self.reference = reference
    }
}

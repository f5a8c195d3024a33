import Crypto
import Foundation

/// Which registration a message is about, as every service names it: stable across replays, the
/// same (event, reference) always gets the same id.
public func registrationID(eventID: String, reference: String) -> String {
    let digest = SHA256.hash(data: Data("\(eventID)|\(reference)".utf8))
    return "reg-" + digest.prefix(10).hexString
}

/// What a domain message is about, for sharding. Every payload type says (`MessagePayload
/// .partitionKeys`), every publisher in the system puts both keys in headers, and a sharded
/// service's consistent-hash exchange hashes the one it partitions on, so that everything about
/// one event (registrations, itineraries) or one recipient (notifications) reaches the same
/// instance and its store.
public struct PartitionKeys: Sendable, Hashable {
    /// The event (`eventID`).
    public static let eventHeader = "partition-event"
    /// The registration whose contacts hear about it (its `registrationID`, or the one its
    /// `eventID` and `reference` make).
    public static let recipientHeader = "partition-recipient"

    public var event: String?
    public var recipient: String?

    public init(event: String?, recipient: String?) {
        self.event = event
        self.recipient = recipient
    }

    /// The keys of a message about registration (`eventID`, `reference`).
    public static func registration(eventID: String, reference: String) -> PartitionKeys {
        PartitionKeys(event: eventID, recipient: Messages.registrationID(eventID: eventID, reference: reference))
    }
}

extension RegistrationSubmitted {
    public var partitionKeys: PartitionKeys { .registration(eventID: eventID, reference: reference) }
}

extension RegistrationCancelRequested {
    public var partitionKeys: PartitionKeys { .registration(eventID: eventID, reference: reference) }
}

extension RegistrationAccepted {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension RegistrationWaitlisted {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension RegistrationRejected {
    /// A rejection of a body that named no event or reference has no keys.
    public var partitionKeys: PartitionKeys {
        let derived = eventID.flatMap { event in reference.map { Messages.registrationID(eventID: event, reference: $0) } }
        return PartitionKeys(event: eventID, recipient: registrationID ?? derived)
    }
}

extension RegistrationCancelled {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension ProgrammePublished {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}

extension ItineraryPlanned {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension ItineraryChanged {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension NotificationDelivered {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: nil, recipient: registrationID) }
}

extension NotificationFailed {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: nil, recipient: registrationID) }
}

extension NotificationResendRequested {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension CheckinRecorded {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension BoardingMissed {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension AttendanceDeclined {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

extension PlanOverrideRequested {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}

extension PlanOverrideDecided {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}

extension PlanReoptimiseRequested {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}

extension PlanReoptimised {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}

private let hexDigits = Array("0123456789abcdef".utf8)

extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits a byte (digests in ids and signatures).
    public var hexString: String {
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension RegistrationEraseRequested {
    public var partitionKeys: PartitionKeys { .registration(eventID: eventID, reference: reference) }
}

extension RegistrationErased {
    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

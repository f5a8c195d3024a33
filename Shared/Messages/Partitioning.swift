import Crypto
import Foundation

/// Which registration a message is about, as every service names it: stable across replays, the
/// same (event, reference) always gets the same id.
public func registrationID(eventID: String, reference: String) -> String {
    let digest = SHA256.hash(data: Data("\(eventID)|\(reference)".utf8))
    return "reg-" + digest.prefix(10).hexString
}

/// What a domain message is about, for sharding. Every publisher in the system puts both keys in
/// headers; a sharded service's consistent-hash exchange hashes the one it partitions on, so that
/// everything about one event (registrations, itineraries) or one recipient (notifications)
/// reaches the same instance and its store.
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

    /// Read from a message body (any type: the fields have the same names in every contract);
    /// nil where the body does not say, or is not JSON.
    public init(body: Data) {
        struct Fields: Decodable {
            var eventID: String?
            var reference: String?
            var registrationID: String?
        }
        let fields = try? JSONDecoder().decode(Fields.self, from: body)
        event = fields?.eventID
        recipient = fields?.registrationID
            ?? fields.flatMap { fields in fields.eventID.flatMap { event in fields.reference.map { registrationID(eventID: event, reference: $0) } } }
    }
}

extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits a byte (digests in ids and signatures).
    public var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

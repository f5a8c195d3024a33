import AMQP
import Foundation
import Messages

extension OutgoingMessage {
    /// A domain message as every publisher in the system sends it: routing key and `type` are
    /// the message type, persistent JSON, `schema-version` header, message id, optional
    /// correlation and causation ids, the partition keys a sharded service hashes (the message
    /// id where the message names none), the publisher in `app_id`, and `mandatory` so that a
    /// message no queue takes fails instead of vanishing.
    public static func domain(
        type: String, body: Data, exchange: String, messageID: String, correlationID: String? = nil, causationID: String? = nil,
        timestamp: Date = Date(), appID: String, partitionKeys: PartitionKeys = PartitionKeys(event: nil, recipient: nil)
    ) -> OutgoingMessage {
        var headers: AMQPTable = [FailureHeader.schemaVersion: .string(SchemaVersion.current)]
        if let causationID { headers[FailureHeader.causationID] = .string(causationID) }
        headers[PartitionKeys.eventHeader] = .string(partitionKeys.event ?? messageID)
        headers[PartitionKeys.recipientHeader] = .string(partitionKeys.recipient ?? messageID)
        return OutgoingMessage(
            body: body, exchange: exchange, routingKey: type,
            properties: MessageProperties(
                contentType: "application/json", headers: headers, deliveryMode: .persistent, correlationID: correlationID,
                messageID: messageID, timestamp: timestamp, type: type, appID: appID),
            mandatory: true)
    }

    /// `payload` encoded as a domain message, with its partition keys.
    public static func domain<T: MessagePayload>(
        _ payload: T, exchange: String, messageID: String = UUID().uuidString, correlationID: String? = nil, appID: String
    ) throws -> OutgoingMessage {
        domain(
            type: T.messageType.rawValue, body: try MessageCoding.encode(payload), exchange: exchange, messageID: messageID,
            correlationID: correlationID, appID: appID, partitionKeys: payload.partitionKeys)
    }
}

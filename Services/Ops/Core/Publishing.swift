import AMQP
import Crypto
import Foundation
import Messages
import ServiceRuntime

/// Publishes validated records as domain messages, with confirms.
///
/// Each message id is derived from the message's type and body, so publishing the same file
/// twice sends the same ids and the services drop the second copy.
public enum Publishing {
    public struct Outcome: Sendable {
        public var file: String
        public var line: Int
        public var messageID: String
        /// nil: confirmed by the broker.
        public var error: String?
    }

    public static func publish<Value: MessagePayload>(
        _ records: [InputRecord<Value>], exchange: String, connection configuration: AMQPConfiguration, batch: Int = 200,
        progress: @Sendable (Int) -> Void = { _ in }
    ) async throws -> [Outcome] {
        let messages = try records.map { record in
            let body = try MessageCoding.encode(record.value)
            return OutgoingMessage.domain(
                type: Value.messageType.rawValue, body: body, exchange: exchange, messageID: messageID(Value.messageType, body: body),
                appID: "delegation-ops",
                partitionKeys: record.value.partitionKeys)
        }
        return try await withConnection(configuration, name: "delegation-ops publish") { connection in
            guard try await connection.exchangeExists(exchange) else {
                throw OpsError.notFound(
                    "the exchange '\(exchange)' does not exist; run `delegation-ops topology apply` (or start a service once)")
            }
            var outcomes: [Outcome] = []
            for start in stride(from: 0, to: messages.count, by: batch) {
                let slice = Array(messages[start..<min(start + batch, messages.count)])
                let results = await connection.publish(slice)
                for (offset, result) in results.enumerated() {
                    let record = records[start + offset]
                    var error: String?
                    if case .failure(let failure) = result { error = "\(failure)" }
                    outcomes.append(
                        Outcome(file: record.file, line: record.line, messageID: slice[offset].properties.messageID ?? "", error: error))
                }
                progress(outcomes.count)
            }
            return outcomes
        }
    }

    /// `ops-<first 32 hex digits of SHA-256(type, body)>`.
    static func messageID(_ type: MessageType, body: Data) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(type.rawValue.utf8))
        hasher.update(data: body)
        return "ops-" + hasher.finalize().hexString.prefix(32)
    }
}

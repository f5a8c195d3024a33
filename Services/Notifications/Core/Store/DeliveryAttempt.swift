import Foundation
import GRDB
import Messages
import ServiceRuntime

/// One try of a notification on one channel (table `attempts`).
public struct DeliveryAttempt: StoreRecord, Equatable {
    public static let databaseTableName = "attempts"

    public var notificationID: String
    public var attempt: Int
    public var channel: ChannelName
    public var startedAt: Date
    public var finishedAt: Date
    /// `sent`, `transient` or `permanent`.
    public var outcome: String
    public var detail: String?

    public init(
        notificationID: String, attempt: Int, channel: ChannelName, startedAt: Date, finishedAt: Date, outcome: String,
        detail: String?
    ) {
        self.notificationID = notificationID
        self.attempt = attempt
        self.channel = channel
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case notificationID = "notification_id", attempt, channel, startedAt = "started_at", finishedAt = "finished_at", outcome, detail
    }
}

/// Headers the runtime adds to a message it parks in a dead-letter queue or sends for retry.
/// The ops tool reads them.
public enum FailureHeader {
    /// The service that gave up on the message.
    public static let service = "x-failure-service"
    /// Why: a sentence for a person.
    public static let reason = "x-failure-reason"
    /// `invalid-body`, `unsupported-version`, `unexpected-type`, `conflicting-duplicate`,
    /// `permanent`, `retries-exhausted`.
    public static let kind = "x-failure-kind"
    /// Which attempt failed (1-based).
    public static let attempt = "x-failure-attempt"
    /// When (AMQP timestamp).
    public static let time = "x-failure-time"
    /// Where the message was first published to.
    public static let originalExchange = "x-original-exchange"
    public static let originalRoutingKey = "x-original-routing-key"
    /// The attempt a retried message is on (set when it goes to a delay queue).
    public static let retryAttempt = "x-attempt"
    /// The contract version of the body.
    public static let schemaVersion = "schema-version"
    /// The message id of the message whose handling emitted this one.
    public static let causationID = "causation-id"
    /// When the service first received the message (AMQP timestamp). Honoured only on messages
    /// that reach the inbox through the default exchange (retries, returns, the ops tool), which
    /// integrations cannot publish to; set on every copy the runtime makes.
    public static let receivedAt = "x-received-at"
    /// Set by `delegation-ops failed retry`: the message is processed again even though it was
    /// parked before.
    public static let retriedBy = "x-retried-by"
}

/// Why a message was parked.
public enum FailureKind: String, Sendable, Codable, CaseIterable {
    case invalidBody = "invalid-body"
    case unsupportedVersion = "unsupported-version"
    case unexpectedType = "unexpected-type"
    /// A message id seen before with another body: the copy was not applied.
    case conflictingDuplicate = "conflicting-duplicate"
    case permanent
    case retriesExhausted = "retries-exhausted"
}

internal import CRabbitMQ

import struct Foundation.Date

extension MessageProperties {
    /// Decodes the properties of a received content header (copies everything). Fields that
    /// repeat from message to message (content type, type, app id…) go through `interner`.
    init(_ p: amqp_basic_properties_t, interner: inout StringInterner) {
        let flags = p._flags
        func has(_ flag: Int32) -> Bool { flags & amqp_flags_t(flag) != 0 }
        func text(_ flag: Int32, _ bytes: amqp_bytes_t) -> String? { has(flag) ? CDecode.string(bytes) : nil }
        func common(_ flag: Int32, _ bytes: amqp_bytes_t) -> String? { has(flag) ? interner.string(bytes) : nil }

        self.init(
            contentType: common(AMQP_BASIC_CONTENT_TYPE_FLAG, p.content_type),
            contentEncoding: common(AMQP_BASIC_CONTENT_ENCODING_FLAG, p.content_encoding),
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? CDecode.table(p.headers) : [:],
            deliveryMode: has(AMQP_BASIC_DELIVERY_MODE_FLAG) ? DeliveryMode(rawValue: p.delivery_mode) : nil,
            priority: has(AMQP_BASIC_PRIORITY_FLAG) ? p.priority : nil,
            correlationID: text(AMQP_BASIC_CORRELATION_ID_FLAG, p.correlation_id),
            replyTo: common(AMQP_BASIC_REPLY_TO_FLAG, p.reply_to),
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, p.expiration),
            messageID: text(AMQP_BASIC_MESSAGE_ID_FLAG, p.message_id),
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? Date(timeIntervalSince1970: Double(p.timestamp)) : nil,
            type: common(AMQP_BASIC_TYPE_FLAG, p.type),
            userID: common(AMQP_BASIC_USER_ID_FLAG, p.user_id),
            appID: common(AMQP_BASIC_APP_ID_FLAG, p.app_id),
            clusterID: common(AMQP_BASIC_CLUSTER_ID_FLAG, p.cluster_id)
        )
    }

    /// Encodes into C structures that live in `arena` until its next reset.
    func encoded(in arena: CArena) throws -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        var flags: Int32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: inout amqp_bytes_t) throws {
            guard let value else { return }
            field = try arena.bytes(value)
            flags |= flag
        }
        try set(contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, &p.content_type)
        try set(contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, &p.content_encoding)
        if !headers.isEmpty {
            p.headers = try arena.table(headers)
            flags |= AMQP_BASIC_HEADERS_FLAG
        }
        if let deliveryMode {
            p.delivery_mode = deliveryMode.rawValue
            flags |= AMQP_BASIC_DELIVERY_MODE_FLAG
        }
        if let priority {
            p.priority = priority
            flags |= AMQP_BASIC_PRIORITY_FLAG
        }
        try set(correlationID, AMQP_BASIC_CORRELATION_ID_FLAG, &p.correlation_id)
        try set(replyTo, AMQP_BASIC_REPLY_TO_FLAG, &p.reply_to)
        try set(expiration, AMQP_BASIC_EXPIRATION_FLAG, &p.expiration)
        try set(messageID, AMQP_BASIC_MESSAGE_ID_FLAG, &p.message_id)
        if let timestamp {
            p.timestamp = timestamp.amqpSeconds
            flags |= AMQP_BASIC_TIMESTAMP_FLAG
        }
        try set(type, AMQP_BASIC_TYPE_FLAG, &p.type)
        try set(userID, AMQP_BASIC_USER_ID_FLAG, &p.user_id)
        try set(appID, AMQP_BASIC_APP_ID_FLAG, &p.app_id)
        try set(clusterID, AMQP_BASIC_CLUSTER_ID_FLAG, &p.cluster_id)
        p._flags = amqp_flags_t(flags)
        return p
    }
}

extension Date {
    /// Whole seconds since 1970, as AMQP carries a timestamp: 0 for anything earlier (or not a
    /// number), the largest value for anything later than 64 bits hold. A timestamp received
    /// near 2^64 becomes exactly 2^64 as a `Double`, which `UInt64(_:)` would trap on when the
    /// message is copied (a retry or a dead letter keeps its properties).
    var amqpSeconds: UInt64 {
        let seconds = timeIntervalSince1970.rounded(.down)
        guard seconds > 0 else { return 0 }
        return seconds < 18_446_744_073_709_551_616.0 ? UInt64(seconds) : .max
    }
}

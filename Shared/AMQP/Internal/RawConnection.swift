internal import CRabbitMQ

import struct Foundation.Data

#if canImport(Glibc)
    import Glibc
#endif

/// A frame read from the broker, decoded and copied out of librabbitmq's buffers.
enum InboundFrame {
    case basicAck(channel: UInt16, tag: UInt64, multiple: Bool)
    case basicNack(channel: UInt16, tag: UInt64, multiple: Bool)
    case basicReturn(channel: UInt16, ReplyCode, text: String, exchange: String, routingKey: String)
    case basicDeliver(channel: UInt16, consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
    case basicCancel(channel: UInt16, consumerTag: String, noWait: Bool)
    case basicCancelOk(channel: UInt16, consumerTag: String)
    case contentHeader(channel: UInt16, MessageProperties, bodySize: UInt64)
    case contentBody(channel: UInt16, Data)
    case channelClose(channel: UInt16, ReplyCode, text: String)
    case channelCloseOk(channel: UInt16)
    case channelFlow(channel: UInt16, active: Bool)
    case connectionClose(ReplyCode, text: String)
    case connectionBlocked(reason: String)
    case connectionUnblocked
    case other(channel: UInt16, method: UInt32)
}

/// AMQP method ids (class << 16 | method); librabbitmq defines them as casts Swift cannot import.
enum Method {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOk: UInt32 = 0x000A_0033
    static let connectionBlocked: UInt32 = 0x000A_003C
    static let connectionUnblocked: UInt32 = 0x000A_003D
    static let channelFlow: UInt32 = 0x0014_0014
    static let channelFlowOk: UInt32 = 0x0014_0015
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOk: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicCancelOk: UInt32 = 0x003C_001F
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

/// The one owner of a librabbitmq connection (`amqp_connection_state_t`) and its socket.
///
/// `@unchecked Sendable`: librabbitmq connections are not thread-safe. An instance is created,
/// used and destroyed only on its `ConnectionEngine`'s thread; it crosses threads only as part of
/// that engine, which never touches it from anywhere else.
final class RawConnection: @unchecked Sendable {
    private let state: amqp_connection_state_t
    private let configuration: AMQPConfiguration
    private let arena = CArena()
    /// The largest frame asked for at login (the broker may grant less; 131,072 is its default).
    static let frameMax = 131_072
    /// Room for a content header's properties: a frame less its 8 bytes of framing and the
    /// header's 12 (class, weight, body size).
    private var propertiesScratch = [UInt8](repeating: 0, count: frameMax - 8 - 12)
    private var interner = StringInterner()
    private var destroyed = false

    /// The negotiated heartbeat in seconds (0: none).
    private(set) var heartbeat: Int = 0

    init(configuration: AMQPConfiguration) throws {
        guard let state = amqp_new_connection() else {
            throw AMQPError.library(operation: "creating a connection", status: AMQP_STATUS_NO_MEMORY.rawValue, message: "out of memory")
        }
        self.state = state
        self.configuration = configuration
    }

    deinit { destroy() }

    var descriptor: Int32 { amqp_get_sockfd(state) }

    /// TCP (or TLS) connect and the AMQP handshake. Throws a typed error: refused, TLS,
    /// `ACCESS_REFUSED`, unknown vhost.
    func open() throws {
        let endpoint = configuration.endpoint
        var timeout = Self.makeTimeval(seconds: configuration.connectTimeout)
        amqp_set_handshake_timeout(state, &timeout)
        var rpcTimeout = Self.makeTimeval(seconds: configuration.ioTimeout)
        amqp_set_rpc_timeout(state, &rpcTimeout)

        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyPeer ? 1 : 0)
            let caFile = tls.caCertificateFile ?? "/etc/ssl/certs/ca-certificates.crt"
            if tls.verifyPeer || tls.caCertificateFile != nil {
                let status = amqp_ssl_socket_set_cacert(socket, caFile)
                guard status == AMQP_STATUS_OK.rawValue else {
                    throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot read CA certificate file '\(caFile)'")
                }
            }
            if let certificate = tls.certificateFile, let key = tls.keyFile {
                let status = amqp_ssl_socket_set_key(socket, certificate, key)
                guard status == AMQP_STATUS_OK.rawValue else {
                    throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot read client certificate '\(certificate)' or key '\(key)'")
                }
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else {
            throw AMQPError.connectionFailed(endpoint: endpoint, reason: "cannot create a socket")
        }

        let status = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw Self.openError(status: status, endpoint: endpoint, tls: configuration.tls != nil, timeout: configuration.connectTimeout)
        }

        let properties = try clientProperties()
        let reply = crabbitmq_login_plain(
            state, configuration.virtualHost, 0, Int32(Self.frameMax), Int32(configuration.heartbeat), [properties],
            configuration.user, configuration.password)
        arena.reset()
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            heartbeat = Int(amqp_get_heartbeat(state))
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == Method.connectionClose:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let code = ReplyCode(rawValue: close.reply_code)
            let text = CDecode.string(close.reply_text)
            throw AMQPError.connectionClosedByBroker(code, text: Self.explain(code, text, configuration))
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            throw AMQPError.timeout(operation: "AMQP handshake with \(endpoint)", seconds: configuration.connectTimeout)
        default:
            throw AMQPError.connectionFailed(endpoint: endpoint, reason: "handshake failed: \(Self.describe(reply))")
        }
    }

    private func clientProperties() throws -> amqp_table_t {
        let table: AMQPTable = [
            "product": "delegation AMQP (rabbitmq-c)",
            "platform": "Swift",
            "connection_name": .string(configuration.connectionName),
            "capabilities": .table([
                "publisher_confirms": true,
                "consumer_cancel_notify": true,
                "connection.blocked": true,
                "authentication_failure_close": true,
                "basic.nack": true,
                "exchange_exchange_bindings": true,
                "per_consumer_qos": true,
            ]),
        ]
        return try arena.table(table)
    }

    // MARK: Channels

    func openChannel(_ channel: UInt16) throws {
        amqp_channel_open(state, channel)
        try checkReply(channel, "opening channel \(channel)")
    }

    func confirmSelect(_ channel: UInt16) throws {
        amqp_confirm_select(state, channel)
        try checkReply(channel, "enabling publisher confirms")
    }

    func qos(_ channel: UInt16, prefetch: UInt16) throws {
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try checkReply(channel, "setting the prefetch count")
    }

    func consume(_ channel: UInt16, queue: String, consumerTag: String, arguments: AMQPTable) throws {
        defer { arena.reset() }
        let args = try arena.table(arguments)
        amqp_basic_consume(state, channel, try arena.bytes(queue), try arena.bytes(consumerTag), 0, 0, 0, args)
        try checkReply(channel, "consuming from queue '\(queue)'")
    }

    /// Sends `basic.cancel`; the `basic.cancel-ok` arrives later as a frame.
    func cancel(_ channel: UInt16, consumerTag: String) throws {
        defer { arena.reset() }
        var method = amqp_basic_cancel_t(consumer_tag: try arena.bytes(consumerTag), nowait: 0)
        try send(channel, Method.basicCancel, &method, "cancelling a consumer")
    }

    func closeChannel(_ channel: UInt16) throws {
        amqp_channel_close(state, channel, Int32(ReplyCode.replySuccess.rawValue))
        try checkReply(channel, "closing channel \(channel)")
    }

    /// Answers the broker's `channel.close`.
    func sendChannelCloseOk(_ channel: UInt16) throws {
        var ok = amqp_channel_close_ok_t(dummy: 0)
        try send(channel, Method.channelCloseOk, &ok, "answering channel.close")
    }

    func sendConnectionCloseOk() throws {
        var ok = amqp_connection_close_ok_t(dummy: 0)
        try send(0, Method.connectionCloseOk, &ok, "answering connection.close")
    }

    func sendCancelOk(_ channel: UInt16, consumerTag: String) throws {
        defer { arena.reset() }
        var ok = amqp_basic_cancel_ok_t(consumer_tag: try arena.bytes(consumerTag))
        try send(channel, Method.basicCancelOk, &ok, "answering basic.cancel")
    }

    func sendFlowOk(_ channel: UInt16, active: Bool) throws {
        var ok = amqp_channel_flow_ok_t(active: active ? 1 : 0)
        try send(channel, Method.channelFlowOk, &ok, "answering channel.flow")
    }

    /// A clean `connection.close`, bounded by the RPC timeout.
    func close() {
        _ = amqp_connection_close(state, Int32(ReplyCode.replySuccess.rawValue))
    }

    /// Frees the connection and closes its socket. Idempotent.
    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        amqp_destroy_connection(state)
    }

    // MARK: Publishing and acknowledging

    /// Writes one message; returns once the bytes are handed to the socket (not confirmed).
    func publish(_ channel: UInt16, _ message: PendingPublish) throws {
        defer { arena.reset() }
        var properties = try message.properties.encoded(in: arena)
        // The library writes the method frame before it encodes the properties: properties that
        // do not fit one frame would fail only after it, leaving the connection mid-message. So
        // they are encoded here first, and such a message fails on its own.
        let encoded = propertiesScratch.withUnsafeMutableBytes { scratch in
            amqp_encode_properties(UInt16(AMQP_BASIC_CLASS), &properties, amqp_bytes_t(len: scratch.count, bytes: scratch.baseAddress))
        }
        guard encoded >= 0 else {
            throw AMQPError.unwritable(
                exchange: message.exchange, routingKey: message.routingKey,
                reason:
                    "its properties (headers) do not fit in one frame of \(Self.frameMax) bytes (\(String(cString: amqp_error_string2(encoded))))"
            )
        }
        let exchange = try arena.bytes(message.exchange)
        let routingKey = try arena.bytes(message.routingKey)
        let status = message.body.withUnsafeBytes { body in
            let bytes = amqp_bytes_t(len: body.count, bytes: body.count == 0 ? nil : UnsafeMutableRawPointer(mutating: body.baseAddress))
            return amqp_basic_publish(state, channel, exchange, routingKey, message.mandatory ? 1 : 0, 0, &properties, bytes)
        }
        try checkStatus(status, "publishing")
    }

    func ack(_ channel: UInt16, tag: UInt64, multiple: Bool) throws {
        try checkStatus(amqp_basic_ack(state, channel, tag, multiple ? 1 : 0), "acknowledging a delivery")
    }

    func nack(_ channel: UInt16, tag: UInt64, requeue: Bool) throws {
        try checkStatus(amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0), "nacking a delivery")
    }

    func reject(_ channel: UInt16, tag: UInt64, requeue: Bool) throws {
        try checkStatus(amqp_basic_reject(state, channel, tag, requeue ? 1 : 0), "rejecting a delivery")
    }

    /// Whether the socket can take more bytes now (a publish would not block).
    var isWritable: Bool {
        var descriptor = pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLOUT), revents: 0)
        return poll(&descriptor, 1, 0) > 0 && descriptor.revents & Int16(POLLOUT) != 0
    }

    // MARK: Reading

    /// Whether librabbitmq holds bytes or decoded frames that `poll()` on the socket cannot see.
    var hasBufferedInput: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    /// The next complete frame if one can be had without waiting, else nil. Sends a heartbeat
    /// when one is due and fails with `.connectionLost` once the broker's heartbeats are missed.
    func nextFrame() throws -> InboundFrame? {
        var frame = amqp_frame_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        while true {
            let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
            if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            try checkStatus(status, "reading from the broker")
            if let decoded = decode(frame) { return decoded }
        }
    }

    /// Releases librabbitmq's buffers for frames already copied out.
    func releaseBuffers() { amqp_maybe_release_buffers(state) }

    private func decode(_ frame: amqp_frame_t) -> InboundFrame? {
        let channel = frame.channel
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            return decodeMethod(channel, frame.payload.method)
        case AMQP_FRAME_HEADER:
            let header = frame.payload.properties
            guard let decoded = header.decoded else { return nil }
            let properties = MessageProperties(decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee, interner: &interner)
            return .contentHeader(channel: channel, properties, bodySize: header.body_size)
        case AMQP_FRAME_BODY:
            let fragment = frame.payload.body_fragment
            guard fragment.len > 0, let base = fragment.bytes else { return .contentBody(channel: channel, Data()) }
            return .contentBody(channel: channel, Data(bytes: base, count: fragment.len))
        default:
            return nil
        }
    }

    private func decodeMethod(_ channel: UInt16, _ method: amqp_method_t) -> InboundFrame {
        func body<T>(_ type: T.Type) -> T { method.decoded.assumingMemoryBound(to: T.self).pointee }
        switch method.id {
        case Method.basicAck:
            let ack = body(amqp_basic_ack_t.self)
            return .basicAck(channel: channel, tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case Method.basicNack:
            let nack = body(amqp_basic_nack_t.self)
            return .basicNack(channel: channel, tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case Method.basicDeliver:
            let d = body(amqp_basic_deliver_t.self)
            return .basicDeliver(
                channel: channel, consumerTag: interner.string(d.consumer_tag), deliveryTag: d.delivery_tag,
                redelivered: d.redelivered != 0, exchange: interner.string(d.exchange), routingKey: interner.string(d.routing_key))
        case Method.basicReturn:
            let r = body(amqp_basic_return_t.self)
            return .basicReturn(
                channel: channel, ReplyCode(rawValue: r.reply_code), text: CDecode.string(r.reply_text),
                exchange: CDecode.string(r.exchange), routingKey: CDecode.string(r.routing_key))
        case Method.basicCancel:
            let c = body(amqp_basic_cancel_t.self)
            return .basicCancel(channel: channel, consumerTag: CDecode.string(c.consumer_tag), noWait: c.nowait != 0)
        case Method.basicCancelOk:
            return .basicCancelOk(channel: channel, consumerTag: CDecode.string(body(amqp_basic_cancel_ok_t.self).consumer_tag))
        case Method.channelClose:
            let c = body(amqp_channel_close_t.self)
            return .channelClose(channel: channel, ReplyCode(rawValue: c.reply_code), text: CDecode.string(c.reply_text))
        case Method.channelCloseOk:
            return .channelCloseOk(channel: channel)
        case Method.channelFlow:
            return .channelFlow(channel: channel, active: body(amqp_channel_flow_t.self).active != 0)
        case Method.connectionClose:
            let c = body(amqp_connection_close_t.self)
            return .connectionClose(ReplyCode(rawValue: c.reply_code), text: CDecode.string(c.reply_text))
        case Method.connectionBlocked:
            return .connectionBlocked(reason: CDecode.string(body(amqp_connection_blocked_t.self).reason))
        case Method.connectionUnblocked:
            return .connectionUnblocked
        default:
            return .other(channel: channel, method: method.id)
        }
    }

    // MARK: Topology (synchronous RPCs on the given channel)

    func declareExchange(_ channel: UInt16, _ exchange: ExchangeDeclaration, passive: Bool) throws {
        defer { arena.reset() }
        amqp_exchange_declare(
            state, channel, try arena.bytes(exchange.name), try arena.bytes(exchange.type), passive ? 1 : 0,
            exchange.durable ? 1 : 0, exchange.autoDelete ? 1 : 0, exchange.internal ? 1 : 0, try arena.table(exchange.arguments))
        try checkReply(channel, passive ? "checking exchange '\(exchange.name)'" : "declaring exchange '\(exchange.name)'")
    }

    func deleteExchange(_ channel: UInt16, _ name: String, ifUnused: Bool) throws {
        defer { arena.reset() }
        amqp_exchange_delete(state, channel, try arena.bytes(name), ifUnused ? 1 : 0)
        try checkReply(channel, "deleting exchange '\(name)'")
    }

    func declareQueue(_ channel: UInt16, _ queue: QueueDeclaration, passive: Bool) throws -> QueueState {
        defer { arena.reset() }
        let ok = amqp_queue_declare(
            state, channel, try arena.bytes(queue.name), passive ? 1 : 0, queue.durable ? 1 : 0, queue.exclusive ? 1 : 0,
            queue.autoDelete ? 1 : 0, try arena.table(queue.arguments))
        try checkReply(channel, passive ? "checking queue '\(queue.name)'" : "declaring queue '\(queue.name)'")
        guard let ok else { throw AMQPError.library(operation: "declaring queue '\(queue.name)'", status: 0, message: "no reply") }
        return QueueState(
            name: CDecode.string(ok.pointee.queue), messageCount: Int(ok.pointee.message_count),
            consumerCount: Int(ok.pointee.consumer_count))
    }

    func bindQueue(_ channel: UInt16, _ binding: Binding) throws {
        defer { arena.reset() }
        amqp_queue_bind(
            state, channel, try arena.bytes(binding.queue), try arena.bytes(binding.exchange), try arena.bytes(binding.routingKey),
            try arena.table(binding.arguments))
        try checkReply(channel, "binding queue '\(binding.queue)' to exchange '\(binding.exchange)' with '\(binding.routingKey)'")
    }

    func bindExchange(_ channel: UInt16, _ binding: ExchangeBinding) throws {
        defer { arena.reset() }
        amqp_exchange_bind(
            state, channel, try arena.bytes(binding.destination), try arena.bytes(binding.source), try arena.bytes(binding.routingKey),
            amqp_empty_table)
        try checkReply(channel, "binding exchange '\(binding.destination)' to exchange '\(binding.source)' with '\(binding.routingKey)'")
    }

    func unbindQueue(_ channel: UInt16, _ binding: Binding) throws {
        defer { arena.reset() }
        amqp_queue_unbind(
            state, channel, try arena.bytes(binding.queue), try arena.bytes(binding.exchange), try arena.bytes(binding.routingKey),
            try arena.table(binding.arguments))
        try checkReply(channel, "unbinding queue '\(binding.queue)' from exchange '\(binding.exchange)'")
    }

    func purgeQueue(_ channel: UInt16, _ name: String) throws -> Int {
        defer { arena.reset() }
        let ok = amqp_queue_purge(state, channel, try arena.bytes(name))
        try checkReply(channel, "purging queue '\(name)'")
        return Int(ok?.pointee.message_count ?? 0)
    }

    func deleteQueue(_ channel: UInt16, _ name: String, ifUnused: Bool, ifEmpty: Bool) throws -> Int {
        defer { arena.reset() }
        let ok = amqp_queue_delete(state, channel, try arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        try checkReply(channel, "deleting queue '\(name)'")
        return Int(ok?.pointee.message_count ?? 0)
    }

    /// `basic.get` (manual ack): the message and how many remain, or nil if the queue is empty.
    func get(_ channel: UInt16, queue: String) throws -> (envelope: Envelope, properties: MessageProperties, body: Data, remaining: Int)? {
        defer { arena.reset() }
        let reply = amqp_basic_get(state, channel, try arena.bytes(queue), 0)
        try check(reply, channel, "getting a message from queue '\(queue)'")
        guard reply.reply.id == 0x003C_0047, let decoded = reply.reply.decoded else { return nil }  // basic.get-ok
        let ok = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let envelope = Envelope(
            deliveryTag: ok.delivery_tag, redelivered: ok.redelivered != 0, exchange: CDecode.string(ok.exchange),
            routingKey: CDecode.string(ok.routing_key), consumerTag: "")
        let remaining = Int(ok.message_count)
        var message = amqp_message_t()
        try check(amqp_read_message(state, channel, &message, 0), channel, "reading a message from queue '\(queue)'")
        defer { amqp_destroy_message(&message) }
        let body = message.body.len > 0 && message.body.bytes != nil ? Data(bytes: message.body.bytes, count: message.body.len) : Data()
        return (envelope, MessageProperties(message.properties, interner: &interner), body, remaining)
    }

    // MARK: Errors

    private func send<T>(_ channel: UInt16, _ method: UInt32, _ body: inout T, _ operation: String) throws {
        let status = withUnsafeMutablePointer(to: &body) { amqp_send_method(state, channel, method, $0) }
        try checkStatus(status, operation)
    }

    private func checkStatus(_ status: Int32, _ operation: String) throws {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        if status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue {
            throw AMQPError.connectionLost("no heartbeat from the broker for \(2 * heartbeat) s")
        }
        throw AMQPError.connectionLost("\(operation): \(String(cString: amqp_error_string2(status)))")
    }

    private func checkReply(_ channel: UInt16, _ operation: String) throws {
        try check(amqp_get_rpc_reply(state), channel, operation)
    }

    /// Turns a failed RPC reply into an error, answering the broker's channel.close or
    /// connection.close so the protocol stays in step.
    private func check(_ reply: amqp_rpc_reply_t, _ channel: UInt16, _ operation: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == Method.channelClose:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let code = ReplyCode(rawValue: close.reply_code)
            let text = CDecode.string(close.reply_text)
            var ok = amqp_channel_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, channel, Method.channelCloseOk, &ok)
            throw AMQPError.channelClosedByBroker(code, text: "\(operation): \(text)")
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == Method.connectionClose:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, Method.connectionCloseOk, &ok)
            throw AMQPError.connectionClosedByBroker(
                ReplyCode(rawValue: close.reply_code), text: "\(operation): \(CDecode.string(close.reply_text))")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            throw AMQPError.timeout(operation: operation, seconds: configuration.ioTimeout)
        default:
            throw AMQPError.connectionLost("\(operation): \(Self.describe(reply))")
        }
    }

    private static func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NONE: return "no reply"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return String(cString: amqp_error_string2(reply.library_error))
        default: return "unexpected server method 0x\(String(reply.reply.id, radix: 16))"
        }
    }

    private static func explain(_ code: ReplyCode, _ text: String, _ configuration: AMQPConfiguration) -> String {
        switch code {
        case .accessRefused: return "\(text) (check the user and password for \(configuration.description))"
        case .notAllowed: return "\(text) (does vhost '\(configuration.virtualHost)' exist, and may user '\(configuration.user)' use it?)"
        default: return text
        }
    }

    private static func openError(status: Int32, endpoint: String, tls: Bool, timeout: Double) -> AMQPError {
        let text = String(cString: amqp_error_string2(status))
        switch status {
        case AMQP_STATUS_TIMEOUT.rawValue:
            return .timeout(operation: "connecting to \(endpoint)", seconds: timeout)
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue, AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return .tlsFailed(
                endpoint: endpoint, reason: "the broker's certificate did not verify (\(text)); check the CA file and the host name")
        case AMQP_STATUS_SSL_ERROR.rawValue, AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue:
            return .tlsFailed(endpoint: endpoint, reason: "\(text) (is this a TLS port, and does the certificate verify?)")
        case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED.rawValue:
            return .connectionFailed(endpoint: endpoint, reason: "cannot resolve the host name")
        default:
            return .connectionFailed(endpoint: endpoint, reason: "\(text) (is a broker listening there\(tls ? " with TLS" : "")?)")
        }
    }

    private static func makeTimeval(seconds: Double) -> Glibc.timeval {
        let whole = Int(seconds)
        return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }
}

import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Where and how to deliver e-mail.
public struct SMTPConfiguration: Sendable {
    public enum Security: String, Sendable {
        /// Plain SMTP (a local relay).
        case none
        /// Upgrade with STARTTLS after EHLO (RFC 3207); fail if the server does not offer it.
        case startTLS = "starttls"
        /// TLS from the first byte (port 465).
        case tls
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// PEM file of CAs to trust instead of the system's (a private relay).
    public var caFile: String?
    public var verifyCertificate: Bool
    /// The name given in EHLO.
    public var heloName: String
    public var timeout: Double

    public init(
        host: String = "127.0.0.1", port: Int = 25, security: Security = .none, username: String? = nil, password: String? = nil,
        caFile: String? = nil, verifyCertificate: Bool = true, heloName: String = "delegation-notifications", timeout: Double = 15
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.caFile = caFile
        self.verifyCertificate = verifyCertificate
        self.heloName = heloName
        self.timeout = timeout
    }
}

/// A minimal SMTP client (RFC 5321): EHLO, STARTTLS, AUTH PLAIN; one message per connection
/// (`send`), or many over a few kept open (`SMTPPool`). Replies 2xx succeed, 4xx are transient,
/// 5xx permanent for the message (`RCPT`, `DATA`) or refusing the channel (the greeting, `AUTH`,
/// `MAIL FROM`: `DeliveryError.channelRefused`).
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration

    public init(configuration: SMTPConfiguration) { self.configuration = configuration }

    /// Sends `message` (already rendered) from `sender` to `recipient` on a connection of its own.
    public func send(_ message: Data, from sender: String, to recipient: String) async throws(DeliveryError) {
        try await sorted {
            let connection = try await open()
            defer { connection.close() }
            try await connection.transaction(message, from: sender, to: recipient)
            _ = try? await connection.command("QUIT", expect: 221...221)
        }
    }

    /// `body`'s failures as delivery errors: what the server answered, or transient.
    func sorted(_ body: () async throws -> Void) async throws(DeliveryError) {
        do {
            try await body()
        } catch let error as DeliveryError {
            throw error
        } catch let error as NIOSSLError {
            throw .transient("TLS with \(configuration.host):\(configuration.port) failed: \(error)")
        } catch {
            throw .transient("SMTP to \(configuration.host):\(configuration.port) failed: \(error)")
        }
    }

    /// A connection past the greeting, EHLO, STARTTLS and AUTH, ready for a transaction.
    func open() async throws -> SMTPConnection {
        let replies = SMTPReplyHandler()
        let tls = try makeTLSContext()
        let host = configuration.host
        let implicitTLS = configuration.security == .tls
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(max(1, configuration.timeout))))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS, let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: host))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(CRLFLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(replies)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .get()
        let connection = SMTPConnection(channel: channel, replies: replies, timeout: configuration.timeout)
        do {
            _ = try await connection.command(nil, expect: 220...220)
            var features = try await connection.command("EHLO \(configuration.heloName)", expect: 250...250)
            if configuration.security == .startTLS {
                guard features.lines.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                    throw DeliveryError.transient("\(host) does not offer STARTTLS")
                }
                _ = try await connection.command("STARTTLS", expect: 220...220)
                guard let tls else { throw DeliveryError.permanent("no TLS context") }
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: tls, serverHostname: host), position: .first)
                }.get()
                features = try await connection.command("EHLO \(configuration.heloName)", expect: 250...250)
            }
            if let user = configuration.username, let password = configuration.password {
                let token = Data("\u{0}\(user)\u{0}\(password)".utf8).base64EncodedString()
                _ = try await connection.command("AUTH PLAIN \(token)", expect: 235...235)
            }
            connection.smtpUTF8 = features.lines.contains { $0.uppercased().hasPrefix("SMTPUTF8") }
            connection.pipelining = features.lines.contains { $0.uppercased() == "PIPELINING" }
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    private func makeTLSContext() throws -> NIOSSLContext? {
        guard configuration.security != .none else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile { tls.trustRoots = .file(caFile) }
        if !configuration.verifyCertificate { tls.certificateVerification = .none }
        return try NIOSSLContext(configuration: tls)
    }

    /// Lines starting with "." get another "." (RFC 5321 §4.5.2); bare LFs become CRLF; ends
    /// with CRLF. Works on the bytes: messages are mostly base64 lines.
    static func dotStuffed(_ message: Data) -> String {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        var output: [UInt8] = []
        output.reserveCapacity(message.count + 64)
        var previous: UInt8 = lf
        message.withUnsafeBytes { bytes in
            for byte in bytes {
                if byte == lf && previous != cr { output.append(cr) }
                if byte == dot && previous == lf { output.append(dot) }
                output.append(byte)
                previous = byte
            }
        }
        if !output.isEmpty && previous != lf { output += [cr, lf] }
        return String(decoding: output, as: UTF8.self)
    }
}

/// One SMTP reply: its code and lines (a multi-line reply has `250-…` continuations).
struct SMTPReply: Sendable {
    let code: Int
    let lines: [String]
    var text: String { lines.joined(separator: " ") }
}

/// A kept-open connection that failed before its transaction got anywhere (the relay closed it
/// while it was idle, or refused the reset): nothing was sent on it, so another may be tried.
struct StaleConnection: Error {}

/// One open SMTP connection, used by one sender at a time.
final class SMTPConnection: @unchecked Sendable {
    // (one task at a time uses it: the pool hands it out to one sender, or one `send` owns it)
    let channel: Channel
    let replies: SMTPReplyHandler
    let timeout: Double
    var smtpUTF8 = false
    /// The server takes commands in groups (RFC 2920): a transaction's commands go in one write.
    var pipelining = false
    /// Messages sent on it, and when it was last given back to its pool.
    var sent = 0
    var idleSince = Date()

    init(channel: Channel, replies: SMTPReplyHandler, timeout: Double) {
        self.channel = channel
        self.replies = replies
        self.timeout = timeout
    }

    /// Sends `line` (nil: waits for the greeting) and checks the reply's code.
    func command(_ line: String?, expect: ClosedRange<Int>) async throws -> SMTPReply {
        let reply = try await replies.next(1, on: channel, sending: line.map { [$0] } ?? [], timeout: timeout)[0]
        try Self.check(reply, to: line, expect: expect)
        return reply
    }

    /// A reply other than `expect` as a delivery error: 4xx transient; 5xx permanent when it is
    /// about this message (its recipient, its content), and `channelRefused` when the relay
    /// refuses the channel before any recipient is named (this server at the greeting, the
    /// credentials, the sender): every message would meet that until the settings are fixed.
    static func check(_ reply: SMTPReply, to line: String?, expect: ClosedRange<Int>) throws {
        guard !expect.contains(reply.code) else { return }
        let command = commandName(line)
        let text = "\(command) → \(reply.code) \(reply.text)"
        if (400..<500).contains(reply.code) { throw DeliveryError.transient(text) }
        throw ["RCPT TO", "DATA", "the message"].contains(command) ? DeliveryError.permanent(text) : DeliveryError.channelRefused(text)
    }

    /// The command a line sends, without what it carries (the credentials, the addresses, the
    /// message itself): what an error names.
    static func commandName(_ line: String?) -> String {
        guard let line else { return "greeting" }
        let upper = line.prefix(12).uppercased()
        for name in ["MAIL FROM", "RCPT TO", "AUTH", "EHLO", "STARTTLS", "DATA", "RSET", "QUIT"] where upper.hasPrefix(name) {
            return name
        }
        return "the message"
    }

    /// One message: MAIL, RCPT, DATA (after RSET when `reset`), then the message. A server that
    /// pipelines gets the commands in one write and answers them together (a round trip instead
    /// of four); then, on a kept-open connection, a failed reset or no replies at all (it was
    /// closed, it timed out) throws `StaleConnection`: nothing was sent.
    func transaction(_ message: Data, from sender: String, to recipient: String, reset: Bool = false) async throws {
        let commands: [(line: String, expect: ClosedRange<Int>)] =
            (reset ? [("RSET", 250...250)] : []) + [
                ("MAIL FROM:<\(sender)>" + (smtpUTF8 ? " SMTPUTF8" : ""), 250...250), ("RCPT TO:<\(recipient)>", 250...251),
                ("DATA", 354...354),
            ]
        if pipelining {
            let answers: [SMTPReply]
            do {
                answers = try await replies.next(commands.count, on: channel, sending: commands.map(\.line), timeout: timeout)
            } catch {
                // (closed while it waited in the pool, say: the message itself was never sent)
                if reset { throw StaleConnection() }
                throw error
            }
            for (command, reply) in zip(commands, answers) {
                if reset && command.line == "RSET" && !command.expect.contains(reply.code) { throw StaleConnection() }
                try Self.check(reply, to: command.line, expect: command.expect)
            }
        } else {
            for command in commands { _ = try await self.command(command.line, expect: command.expect) }
        }
        _ = try await command(SMTPClient.dotStuffed(message) + ".", expect: 250...250)
        sent += 1
    }

    var isOpen: Bool { channel.isActive }

    func close() { channel.close(promise: nil) }
}

/// A few SMTP connections to one relay, kept open between messages (issue 16: a connection
/// per message cost most of the time of an e-mail). A connection is taken by one sender at a
/// time; before each further message it is reset (`RSET`, in the transaction's one write when
/// the server pipelines), and one the server closed, or that fails the reset, is replaced by
/// another before anything is sent. A connection that fails during a transaction is closed,
/// never reused. Kept at most `maxIdle` at once, each for
/// `maxMessages` messages and `maxIdleSeconds` unused (relays close idle sessions).
public final class SMTPPool: Sendable {
    public let client: SMTPClient
    let maxIdle: Int
    let maxMessages: Int
    let maxIdleSeconds: Double
    private let idle = Mutex<[SMTPConnection]>([])

    public init(configuration: SMTPConfiguration, maxIdle: Int = 8, maxMessages: Int = 100, maxIdleSeconds: Double = 30) {
        client = SMTPClient(configuration: configuration)
        self.maxIdle = maxIdle
        self.maxMessages = maxMessages
        self.maxIdleSeconds = maxIdleSeconds
    }

    deinit { for connection in idle.withLock({ $0 }) { connection.close() } }

    /// Connections open and waiting.
    public var idleCount: Int { idle.withLock { $0.count } }

    public func send(_ message: Data, from sender: String, to recipient: String) async throws(DeliveryError) {
        try await client.sorted {
            while true {
                let (connection, reused) = try await ready()
                do {
                    try await connection.transaction(message, from: sender, to: recipient, reset: reused && connection.pipelining)
                    giveBack(connection)
                    return
                } catch is StaleConnection {
                    connection.close()  // (the server timed it out, say: nothing was sent on it)
                } catch {
                    connection.close()
                    throw error
                }
            }
        }
    }

    /// An idle connection, else a new one. One that does not pipeline is reset here (`RSET`).
    private func ready() async throws -> (connection: SMTPConnection, reused: Bool) {
        let now = Date()
        while let connection = idle.withLock({ $0.popLast() }) {
            guard connection.isOpen, now.timeIntervalSince(connection.idleSince) < maxIdleSeconds else {
                connection.close()
                continue
            }
            if connection.pipelining { return (connection, true) }  // (reset in the transaction's write)
            do {
                _ = try await connection.command("RSET", expect: 250...250)
                return (connection, true)
            } catch {
                connection.close()  // (the server timed it out, say: nothing was sent on it)
            }
        }
        return (try await client.open(), false)
    }

    private func giveBack(_ connection: SMTPConnection) {
        connection.idleSince = Date()
        let kept =
            connection.sent < maxMessages
            && idle.withLock { idle in
                guard idle.count < maxIdle else { return false }
                idle.append(connection)
                return true
            }
        if !kept {
            Task {
                _ = try? await connection.command("QUIT", expect: 221...221)
                connection.close()
            }
        }
    }
}

/// Splits the byte stream at CRLF.
struct CRLFLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let index = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let length = index - buffer.readerIndex
        let carriageReturn = length > 0 && buffer.getInteger(at: index - 1, as: UInt8.self) == UInt8(ascii: "\r")
        guard let line = buffer.readString(length: carriageReturn ? length - 1 : length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: carriageReturn ? 2 : 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

/// Collects reply lines and hands each complete reply to the command waiting for it.
final class SMTPReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    // Touched only on the channel's event loop.
    typealias InboundIn = String

    private var lines: [String] = []
    private var waiting: [(id: Int, promise: EventLoopPromise<SMTPReply>)] = []
    private var counter = 0
    private var ready: [SMTPReply] = []
    private var failure: Error?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard line.count >= 3, let code = Int(line.prefix(3)) else { return }
        lines.append(line.count > 4 ? String(line.dropFirst(4)) : "")
        // "250-…" continues, "250 …" ends the reply.
        if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { return }
        let reply = SMTPReply(code: code, lines: lines)
        lines = []
        if waiting.isEmpty { ready.append(reply) } else { waiting.removeFirst().promise.succeed(reply) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(DeliveryError.transient("the SMTP server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: Error) {
        failure = failure ?? error
        let pending = waiting
        waiting = []
        for entry in pending { entry.promise.fail(error) }
    }

    /// Writes `lines` in one go (none: the greeting is awaited) and returns the next `count`
    /// replies; after `timeout` seconds without them all the connection is closed and a
    /// transient error thrown.
    func next(_ count: Int, on channel: Channel, sending lines: [String], timeout: Double) async throws -> [SMTPReply] {
        let promises = (0..<count).map { _ in channel.eventLoop.makePromise(of: SMTPReply.self) }
        let all = EventLoopFuture.whenAllSucceed(promises.map(\.futureResult), on: channel.eventLoop)
        channel.eventLoop.execute {
            var ids: [Int] = []
            for promise in promises {
                if let failure = self.failure {
                    promise.fail(failure)
                } else if !self.ready.isEmpty {
                    promise.succeed(self.ready.removeFirst())
                } else {
                    self.counter += 1
                    ids.append(self.counter)
                    self.waiting.append((self.counter, promise))
                }
            }
            if !ids.isEmpty {
                let ids = ids
                // Every completion happens on the event loop, so the timeout and a reply cannot
                // both complete a promise: whichever comes first removes it from `waiting`.
                let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
                    let late = self.waiting.filter { ids.contains($0.id) }
                    guard !late.isEmpty else { return }
                    self.waiting.removeAll { ids.contains($0.id) }
                    for entry in late { entry.promise.fail(DeliveryError.transient("no SMTP reply within \(timeout) s")) }
                    channel.close(promise: nil)
                }
                all.whenComplete { _ in deadline.cancel() }
            }
            if !lines.isEmpty {
                channel.writeAndFlush(ByteBuffer(string: lines.map { $0 + "\r\n" }.joined()), promise: nil)
            }
        }
        return try await all.get()
    }
}

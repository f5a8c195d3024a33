import AMQP
import Foundation
import GRDB
import ServiceCatalog
import ServiceRuntime

/// The services as processes for system tests: each instance (`registrations`,
/// `registrations-shard-2`) runs the executable of its kind with its own store and log in
/// `directory`, and is started, killed and stopped by name. Used from one test task at a time.
public final class RunningSystem: @unchecked Sendable {
    public let directory: URL
    /// Given to every instance, over the test process's own environment.
    public var environment: [String: String]
    public private(set) var processes: [String: ServiceProcess] = [:]

    /// Short retry delays and notification timings, identity keys, text logs at `warning`.
    public init(amqpURL: String, smtpPort: Int, exchange: String = "delegation") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("system-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        environment = [
            "AMQP_URL": amqpURL, "EXCHANGE": exchange, "LOG_FORMAT": "text", "LOG_LEVEL": "warning",
            "REGISTRATIONS_IDENTITY_KEYS": "k1:\(Data((0..<32).map { UInt8($0) }).base64EncodedString())",
            "REGISTRATIONS_RETENTION_DAYS": String(Samples.retentionDays),
            "ITINERARIES_IDENTITY_KEYS": "k1:\(Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString())",
            "NOTIFICATIONS_SMTP_PORT": String(smtpPort), "NOTIFICATIONS_QUIET_HOURS": "off", "NOTIFICATIONS_DIGEST_WINDOW": "1",
            "NOTIFICATIONS_RETRY_BASE": "0.2", "NOTIFICATIONS_RETRY_MAX": "1",
        ]
        for service in SystemServices.all {
            environment["\(ServiceConfiguration.prefix(for: service.name))_RETRY_DELAYS"] = Self.retryDelays
        }
    }

    /// The retry delays every instance runs with (queue arguments: declare with the same).
    public static let retryDelays = "0.3,1"

    /// Where an instance keeps its store, when not in `directory` (set before starting it).
    public var storePaths: [String: String] = [:]

    public func store(_ instance: String) -> String { storePaths[instance] ?? directory.appendingPathComponent("\(instance).sqlite").path }

    /// Starts `instance` (a service, or an instance of one by `<P>_NAME`) with `extra` settings.
    public func start(_ instance: String, extra: [String: String] = [:]) throws {
        let (kind, environment) = try settings(instance, extra: extra)
        processes[instance] = try ServiceProcess(
            executable: ServiceTestBed.executable(kind), arguments: ["serve"], environment: environment,
            logFile: directory.appendingPathComponent("\(instance).log"))
    }

    /// Runs `instance`'s executable with `arguments` (a subcommand an operator runs on its
    /// store) and its settings; its exit status and output.
    public func command(_ instance: String, _ arguments: [String], extra: [String: String] = [:]) async throws
        -> (status: Int32?, output: String)
    {
        let (kind, environment) = try settings(instance, extra: extra)
        let log = directory.appendingPathComponent("\(instance)-command-\(UUID().uuidString.prefix(6)).log")
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable(kind), arguments: arguments, environment: environment, logFile: log)
        let status = await process.wait(within: 30)
        if status == nil { process.signal(SIGKILL) }
        return (status, process.log)
    }

    private func settings(_ instance: String, extra: [String: String]) throws -> (kind: String, environment: [String: String]) {
        guard let service = SystemServices.named(instance) else {
            throw TestBroker.CommandFailed(command: "start \(instance)", status: 64, output: "not a service or an instance of one")
        }
        let prefix = ServiceConfiguration.prefix(for: service.kind)
        var environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        environment["\(prefix)_NAME"] = instance
        environment["\(prefix)_STORE_PATH"] = store(instance)
        environment["\(prefix)_HTTP_PORT"] = "0"
        environment.merge(extra) { $1 }
        return (service.kind, environment)
    }

    /// Declares what `instance` declares at start (the domain exchange and archive, its queues
    /// and bindings, with this system's exchange, retention and retry delays; as one shard of
    /// its service with `sharded`), so that messages published before it runs reach it: a queue
    /// that exists is not yet bound.
    public func declareQueues(of instance: String, sharded: Bool = false, on connection: AMQPConnection) async throws {
        guard let service = SystemServices.named(instance) else {
            throw TestBroker.CommandFailed(command: "declare \(instance)", status: 64, output: "not a service or an instance of one")
        }
        let exchange = environment["EXCHANGE"] ?? "delegation"
        let delays = environment["\(ServiceConfiguration.prefix(for: service.kind))_RETRY_DELAYS"] ?? Self.retryDelays
        try await connection.declare(ServiceTopology.domain(exchange: exchange, archiveMaxAge: environment["ARCHIVE_MAX_AGE"] ?? "30D"))
        try await connection.declare(
            ServiceTopology.service(
                service.names(exchange: exchange), consumes: service.consumes,
                retryDelays: delays.split(separator: ",").compactMap { Double($0) },
                deliveryLimit: 5, sharding: sharded ? service.sharding(exchange: exchange) : nil))
    }

    /// The HTTP port `instance` listens on (started with `LOG_LEVEL` info or lower, which logs
    /// it), once it does; nil after `seconds`.
    public func httpPort(_ instance: String, within seconds: Double = 60) async -> Int? {
        var port: Int?
        _ = await eventually(within: seconds) {
            let log = processes[instance]?.log ?? ""
            guard let line = log.split(separator: "\n").first(where: { $0.contains("HTTP listening") }),
                let range = line.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression)
            else { return false }
            port = Int(line[range].split(separator: ":").last ?? "")
            return port != nil
        }
        return port
    }

    public func kill(_ instance: String) async {
        guard let process = processes[instance] else { return }
        process.signal(SIGKILL)
        _ = await process.wait(within: 10)
    }

    /// Kills `instance` (-9) and starts it again with the same settings.
    public func restart(_ instance: String, extra: [String: String] = [:]) async throws {
        await kill(instance)
        try start(instance, extra: extra)
    }

    /// SIGTERM to `instance`; its exit status, or nil if it still runs after 30 s.
    public func stop(_ instance: String) async -> Int32? {
        guard let process = processes[instance] else { return nil }
        process.signal(SIGTERM)
        return await process.wait(within: 30)
    }

    /// SIGTERM to all, SIGKILL to those still running after 20 s.
    public func stopAll() async {
        for process in processes.values { process.signal(SIGTERM) }
        for process in processes.values where await process.wait(within: 20) == nil { process.signal(SIGKILL) }
    }

    /// Reads `instance`'s store (read-only, while it may be running).
    public func read<T>(_ instance: String, _ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: store(instance), configuration: configuration).read(body)
    }

    /// The three services' world in a virtual host of its own: an SMTP server, a system whose
    /// queues are declared (nothing started yet) and a publisher on the vhost's URL; afterwards
    /// the services are stopped and the files removed, whatever happened.
    public static func inVirtualHost(
        _ name: String,
        _ body: (_ system: RunningSystem, _ smtp: SMTPTestServer, _ publisher: AMQPConnection, _ url: String) async throws -> Void
    ) async throws {
        try await TestBroker.withVirtualHost { vhost in
            let url = TestBroker.url.hasSuffix("/") ? TestBroker.url + vhost : TestBroker.url + "/" + vhost
            let smtp = try await SMTPTestServer()
            let system = try RunningSystem(amqpURL: url, smtpPort: smtp.port)
            defer {
                smtp.stop()
                system.removeFiles()
            }
            var amqp = try AMQPConfiguration(url: url)
            amqp.connectionName = "\(name) publisher"
            let publisher = try await AMQPConnection.connect(amqp, logger: TestBroker.logger)
            do {
                for service in SystemServices.all { try await system.declareQueues(of: service.name, on: publisher) }
                try await body(system, smtp, publisher, url)
            } catch {
                await system.stopAll()
                await publisher.close()
                throw error
            }
            await system.stopAll()
            await publisher.close()
        }
    }

    /// Removes the stores and logs.
    public func removeFiles() { try? FileManager.default.removeItem(at: directory) }

    /// How many times each e-mail (by the local part of its Message-ID, the notification id)
    /// reached `smtp`.
    public static func receivedMessageIDs(_ smtp: SMTPTestServer) -> [String: Int] {
        var received: [String: Int] = [:]
        for raw in smtp.messages {
            let head = String(decoding: raw.prefix(2000), as: UTF8.self)
            if let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("Message-ID: <") }) {
                received[String(line.dropFirst(13).prefix { $0 != "@" }), default: 0] += 1
            }
        }
        return received
    }

    /// Polls `state` once a second until `idle` holds for the same state twice in a row, or
    /// `seconds` pass; returns whether it settled and the last state.
    public static func settle(within seconds: Int, _ state: () async -> (idle: Bool, summary: String)) async -> (
        settled: Bool, last: String
    ) {
        var last = ""
        for _ in 0..<seconds {
            try? await Task.sleep(for: .seconds(1))
            let now = await state()
            if now.idle && now.summary == last { return (true, last) }
            last = now.summary
        }
        return (false, last)
    }
}

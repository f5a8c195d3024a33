import AMQP
import Foundation
import GRDB
import Logging
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// A service for ops tests: it fails every message permanently while `broken` is set (a bad
/// deploy) and otherwise records each message it applies in `applied`, with no uniqueness, so
/// that a message applied twice shows as two rows.
struct DeployableHandler: Sendable {
    static let router: MessageRouter<DeployableHandler> = {
        var router = MessageRouter<DeployableHandler>()
        router.on(RegistrationSubmitted.self) { try $0.apply($1.metadata, $2) }
        router.on(ProgrammePublished.self) { try $0.apply($1.metadata, $2) }
        return router
    }()

    let broken: Locked<Bool>

    func apply(_ message: MessageMetadata, _ db: Database) throws -> [OutboundMessage] {
        if broken.value { throw HandlerFailure.permanent("bug in release 1.4.2: cannot read message '\(message.messageID)'") }
        try db.execute(sql: "INSERT INTO applied (message_id, type) VALUES (?, ?)", arguments: [message.messageID, message.type.rawValue])
        return []
    }

    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("ops-test-1") { db in
            try db.execute(sql: "CREATE TABLE applied (message_id TEXT NOT NULL, type TEXT NOT NULL)")
        }
    }

    static func makeHost(_ bed: ServiceTestBed, broken: Locked<Bool>) async throws -> ServiceHost {
        try await ServiceHost(
            configuration: bed.configuration(retryDelays: [0.2]),
            dispatcher: DeployableHandler.router.dispatcher(for: DeployableHandler(broken: broken)), logger: TestBroker.logger,
            migrations: migrations, connectPatience: 5)
    }

    /// Message id → how many times it was applied.
    static func applied(_ host: ServiceHost) async throws -> [String: Int] {
        try await host.store.database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT message_id FROM applied") { counts[row[0], default: 0] += 1 }
            return counts
        }
    }
}

/// Runs `delegation-ops` as operators do, against the test broker and `bed`'s exchange.
enum OpsTool {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(
        _ arguments: [String], bed: ServiceTestBed? = nil, environment extra: [String: String] = [:], within seconds: Double = 60
    ) async throws -> Result {
        var environment = ProcessInfo.processInfo.environment
        environment["DELEGATION_OPS_URL"] = TestBroker.url
        if let bed { environment["EXCHANGE"] = bed.exchange }
        environment.merge(extra) { $1 }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ops-\(UUID().uuidString.prefix(8)).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable("delegation-ops"), arguments: arguments, environment: environment, logFile: log)
        guard let status = await process.wait(within: seconds) else {
            process.signal(SIGKILL)
            throw OpsToolTimedOut(arguments: arguments, output: process.log)
        }
        return Result(status: status, output: process.log)
    }

    struct OpsToolTimedOut: Error, CustomStringConvertible {
        var arguments: [String]
        var output: String
        var description: String { "delegation-ops \(arguments.joined(separator: " ")) did not finish: \(output)" }
    }
}

extension ServiceTestBed {
    func messagesIn(_ queue: String) async throws -> Int { try await connection.queueState(queue).messageCount }
}

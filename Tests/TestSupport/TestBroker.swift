import AMQP
import Foundation
import Logging

/// The private broker that `deploy/test` (or `deploy/broker start`) runs, as tests reach it.
///
/// Settings come from the environment `deploy/test` exports; without them, the defaults of
/// `deploy/broker` apply, so `deploy/broker start && swift test` works too.
public enum TestBroker {
    static let environment = ProcessInfo.processInfo.environment

    /// The checkout's root (three levels above this file).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    public static var url: String { environment["DELEGATION_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5673/" }
    public static var tlsURL: String { environment["DELEGATION_AMQPS_URL"] ?? "amqps://guest:guest@localhost:5674/" }
    public static var caFile: String { environment["DELEGATION_BROKER_CA"] ?? "\(root)/.run/broker/tls/ca.pem" }
    /// The broker node's data folder (`deploy/broker env`), where its stream segments lie.
    public static var dataDirectory: String {
        environment["DELEGATION_BROKER_DATA"]
            ?? "\(root)/.run/broker/mnesia/\(environment["DELEGATION_BROKER_NODE"] ?? "delegation@localhost")"
    }

    /// A configuration for the plain listener, named after the test for the broker's list.
    public static func configuration(_ name: String = #function, vhost: String? = nil) -> AMQPConfiguration {
        do {
            var configuration = try AMQPConfiguration(url: url)
            configuration.connectionName = "test \(name)"
            if let vhost { configuration.virtualHost = vhost }
            return configuration
        } catch {
            preconditionFailure("DELEGATION_AMQP_URL is not a valid AMQP URL: \(error)")
        }
    }

    public static func connect(
        _ name: String = #function, vhost: String? = nil, logger: Logger = TestBroker.logger,
        adjust: (inout AMQPConfiguration) -> Void = { _ in }
    ) async throws -> AMQPConnection {
        var configuration = configuration(name, vhost: vhost)
        adjust(&configuration)
        return try await AMQPConnection.connect(configuration, logger: logger)
    }

    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }

    /// A name no other test uses.
    public static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` against the private broker; throws with its output if it fails.
    @discardableResult
    public static func ctl(_ arguments: String...) async throws -> String {
        try await run("\(root)/deploy/broker", ["ctl"] + arguments)
    }

    /// Creates a vhost that guest may use, runs `body`, deletes the vhost.
    public static func withVirtualHost<T>(_ body: (String) async throws -> T) async throws -> T {
        let vhost = uniqueName("vhost")
        try await ctl("add_vhost", vhost)
        try await ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        do {
            let result = try await body(vhost)
            _ = try? await ctl("delete_vhost", vhost)
            return result
        } catch {
            _ = try? await ctl("delete_vhost", vhost)
            throw error
        }
    }

    /// Runs a program without blocking a thread of the cooperative pool; returns its output
    /// (standard output and error together).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let (status, text) = try await runAnyway(executable, arguments)
        guard status == 0 else {
            throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: status, output: text)
        }
        return text
    }

    /// Runs a command to its end, whatever its status; returns the status and what it printed
    /// (standard output and error). Waits suspended, holding no thread.
    public static func runAnyway(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("cmd-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let handle = try FileHandle(forWritingTo: outputFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        try handle.close()
        return (status, (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "")
    }

    public struct CommandFailed: Error, CustomStringConvertible {
        public let command: String
        public let status: Int32
        public let output: String

        public init(command: String, status: Int32, output: String) {
            self.command = command
            self.status = status
            self.output = output
        }

        public var description: String { "\(command) exited with \(status): \(output)" }
    }
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

import AMQP
import Foundation
import Logging
import Messages
import ServiceRuntime

/// An isolated world for one service test: its own exchange, queue names, archive stream and
/// store file, an observer queue that sees every message on the exchange, and cleanup.
public final class ServiceTestBed: Sendable {
    public let id: String
    public let exchange: String
    public let serviceName: String
    public let directory: URL
    public let connection: AMQPConnection
    public let observerQueue: String
    public let observer: Collector

    /// `service` is the kind (`registrations`); queues are named `<service>-<id>.…`.
    public init(service: String) async throws {
        id = String(UUID().uuidString.prefix(8)).lowercased()
        exchange = "test-\(id)"
        serviceName = "\(service)-\(id)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("testbed-\(id)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        connection = try await TestBroker.connect("testbed \(service)")
        observerQueue = "test-\(id).observer"
        try await connection.declare(ServiceTopology.domain(exchange: exchange, archiveMaxAge: "1h"))
        try await connection.declare(
            Topology(
                queues: [QueueDeclaration(name: observerQueue)],
                bindings: [Binding(queue: observerQueue, exchange: exchange, routingKey: "#")]))
        observer = Collector(try await connection.consume(queue: observerQueue, prefetch: 1000), autoAck: true)
    }

    public var names: ServiceNames { ServiceNames(service: serviceName, exchange: exchange) }
    public var storePath: String { directory.appendingPathComponent("\(serviceName).sqlite").path }

    /// A configuration for the service under test: this bed's names, short retry delays.
    public func configuration(retryDelays: [Double] = [0.3, 0.6], deliveryLimit: Int = 3) -> ServiceConfiguration {
        var amqp = TestBroker.configuration(serviceName)
        amqp.connectionName = serviceName
        return ServiceConfiguration(
            serviceName: serviceName, amqp: amqp, exchange: exchange, archiveMaxAge: "1h", storePath: storePath, synchronous: .normal,
            httpHost: "127.0.0.1", httpPort: 0, prefetch: 64, batchSize: 16, retryDelays: retryDelays, deliveryLimit: deliveryLimit,
            shutdownTimeout: 10, logLevel: TestBroker.logger.logLevel, logFormat: .text)
    }

    /// The environment for running the service's executable as a separate process.
    public func environment(prefix: String, extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["AMQP_URL"] = TestBroker.url
        environment["EXCHANGE"] = exchange
        environment["ARCHIVE_MAX_AGE"] = "1h"
        environment["\(prefix)_NAME"] = serviceName
        environment["\(prefix)_STORE_PATH"] = storePath
        environment["\(prefix)_STORE_SYNCHRONOUS"] = "normal"
        environment["\(prefix)_HTTP_PORT"] = "0"
        environment["\(prefix)_RETRY_DELAYS"] = "0.3,0.6"
        environment["\(prefix)_DELIVERY_LIMIT"] = "3"
        environment["LOG_LEVEL"] = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"] ?? "warning"
        environment["LOG_FORMAT"] = "text"
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Publishes a message as an integration would: persistent JSON with every property.
    public func publish<T: MessagePayload>(
        _ payload: T, messageID: String = UUID().uuidString, correlationID: String? = nil, headers: AMQPTable = ["schema-version": "1.0"]
    ) async throws {
        try await publishRaw(
            MessageCoding.encode(payload), type: T.messageType.rawValue, messageID: messageID, correlationID: correlationID,
            headers: headers)
    }

    /// Publishes any body (for malformed input).
    public func publishRaw(
        _ body: Data, type: String, messageID: String? = UUID().uuidString, correlationID: String? = nil,
        headers: AMQPTable = ["schema-version": "1.0"], contentType: String = "application/json"
    ) async throws {
        try await connection.publish(
            body, exchange: exchange, routingKey: type,
            properties: MessageProperties(
                contentType: contentType, headers: headers, deliveryMode: .persistent, correlationID: correlationID, messageID: messageID,
                timestamp: Date(), type: type, appID: "tests"),
            mandatory: true)
    }

    /// Messages of `type` the observer has seen, decoded.
    public func seen<T: MessagePayload>(_ type: T.Type) -> [T] {
        observer.deliveries.filter { $0.properties.type == T.messageType.rawValue }.compactMap {
            try? MessageCoding.decode(T.self, from: $0.body)
        }
    }

    /// Waits until the observer has seen at least `count` messages of `type`.
    @discardableResult
    public func waitFor<T: MessagePayload>(_ type: T.Type, count: Int, within seconds: Double = 15) async -> [T] {
        _ = await eventually(within: seconds) { self.seen(type).count >= count }
        return seen(type)
    }

    /// Deliveries of `type` with their properties.
    public func deliveries(ofType type: MessageType) -> [Delivery] {
        observer.deliveries.filter { $0.properties.type == type.rawValue }
    }

    /// Takes every message from the service's dead-letter queue (acking them).
    public func drainDeadLetters() async throws -> [Delivery] {
        var parked: [Delivery] = []
        while let got = try await connection.get(queue: names.deadLetterQueue) {
            got.delivery.ack()
            parked.append(got.delivery)
        }
        return parked
    }

    /// Path of an executable built next to the test bundle (`registrations`, …).
    public static func executable(_ name: String) -> String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent(name).path
    }

    /// Deletes this bed's queues, exchanges and files.
    public func tearDown(retryQueues: Int = 2) async {
        observer.stop()
        var queues = [names.inbox, names.deadLetterQueue, names.archive, observerQueue]
        queues += (1...max(1, retryQueues)).map(names.retryQueue)
        queues.append(names.unroutedQueue)
        for queue in queues { _ = try? await connection.delete(queue: queue) }
        for other in [names.deadLetterExchange, names.typeCheck, names.knownTypes, names.unroutedExchange] {
            _ = try? await connection.delete(exchange: other)
        }
        _ = try? await connection.delete(exchange: exchange)
        await connection.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A service executable run as a child process, for crash and signal tests.
public final class ServiceProcess: Sendable {
    private let process: Process
    public let logFile: URL

    public init(executable: String, arguments: [String] = [], environment: [String: String], logFile: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        self.logFile = logFile
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// Signals the process while it runs (once it ended, its pid may be another process's).
    public func signal(_ signal: Int32) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end; returns its status, or nil if it did not end in time.
    public func wait(within seconds: Double) async -> Int32? {
        guard await eventually(within: seconds, { !self.process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
}

extension ServiceTestBed {
    /// Runs the host `make` builds on a fresh bed for the duration of `body`, then shuts it down
    /// gracefully and tears the bed down (also when `body` throws).
    public static func withRunningService(
        _ service: String, _ make: (ServiceTestBed) async throws -> ServiceHost, _ body: (ServiceTestBed, ServiceHost) async throws -> Void
    ) async throws {
        let bed = try await ServiceTestBed(service: service)
        let host: ServiceHost
        do {
            host = try await make(bed)
        } catch {
            await bed.tearDown()
            throw error
        }
        let running = Task { try await host.run(signals: []) }
        do {
            try await host.waitUntilStarted()
            try await body(bed, host)
        } catch {
            await host.shutdown()
            _ = try? await running.value
            await bed.tearDown()
            throw error
        }
        await host.shutdown()
        try await running.value
        await bed.tearDown()
    }
}

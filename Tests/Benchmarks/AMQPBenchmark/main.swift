// The AMQP module's throughput benchmark; run it through `deploy/bench`, which runs the
// project's raw C benchmark (Tests/Benchmarks/raw/amqp_raw_bench.c) with the same arguments on
// the same broker and prints both side by side.
//
//   amqp-bench --host 127.0.0.1 --port 5673 --scenario publish|consume --queue-type classic|quorum
//              --count N [--window W] [--prefetch P] [--body-size 512] [--queue NAME] [--batch K]
//
// publish: N persistent JSON messages to a fresh durable queue, at most W unconfirmed (W tasks
//          each awaiting its confirm, or with --batch K, W/K tasks each publishing K messages at
//          a time with the batch API); timed from the first publish to the last confirm.
// consume: the queue is filled first (untimed), then consumed with prefetch P and every message
//          acked; timed until the N-th ack is on the wire.
// Prints one JSON line, as the C program does.
import AMQP
import Foundation
import Logging

struct Options {
    var host = "127.0.0.1"
    var port = 5673
    var scenario = "publish"
    var queueType = "classic"
    var count = 100_000
    var window = 256
    var prefetch = 256
    var bodySize = 512
    var queue: String?
    var batch = 1

    init(_ arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { throw Failure("\(flag) needs a value") }
            func number() throws -> Int {
                guard let n = Int(value), n > 0 else { throw Failure("\(flag) must be a positive whole number") }
                return n
            }
            switch flag {
            case "--host": host = value
            case "--port": port = try number()
            case "--scenario":
                guard ["publish", "consume"].contains(value) else { throw Failure("--scenario is publish or consume") }
                scenario = value
            case "--queue-type":
                guard ["classic", "quorum"].contains(value) else { throw Failure("--queue-type is classic or quorum") }
                queueType = value
            case "--count": count = try number()
            case "--window": window = try number()
            case "--prefetch": prefetch = try number()
            case "--body-size": bodySize = try number()
            case "--queue": queue = value
            case "--batch": batch = try number()
            default: throw Failure("unknown option \(flag)")
            }
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func body(sequence: Int, size: Int) -> Data {
    let head = "{\"seq\":\(sequence),\"ts\":\(Date().timeIntervalSince1970),\"kind\":\"registration\",\"pad\":\""
    let padding = max(0, size - head.utf8.count - 2)
    return Data((head + String(repeating: "x", count: padding) + "\"}").utf8)
}

/// Publishes `count` messages, at most `window` unconfirmed: `window` tasks each awaiting its own
/// confirm, or `window / batch` tasks each publishing `batch` messages at a time.
func publishAll(_ connection: AMQPConnection, queue: String, count: Int, window: Int, bodySize: Int, batch: Int = 1) async throws {
    let properties = MessageProperties(contentType: "application/json", deliveryMode: .persistent)
    let payloads = (0..<min(count, 1024)).map { body(sequence: $0, size: bodySize) }
    @Sendable func message(_ n: Int) -> OutgoingMessage {
        OutgoingMessage(body: payloads[n % payloads.count], exchange: "", routingKey: queue, properties: properties)
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        let chunk = max(1, min(batch, window))
        let workers = max(1, min(window / chunk, (count + chunk - 1) / chunk))
        for worker in 0..<workers {
            group.addTask {
                var first = worker * chunk
                while first < count {
                    if chunk == 1 {
                        let m = message(first)
                        try await connection.publish(m.body, exchange: m.exchange, routingKey: m.routingKey, properties: m.properties)
                    } else {
                        let results = await connection.publish((first..<min(first + chunk, count)).map(message))
                        for result in results { try result.get() }
                    }
                    first += workers * chunk
                }
            }
        }
        try await group.waitForAll()
    }
}

func run(_ options: Options) async throws -> [String: Any] {
    var configuration = AMQPConfiguration(host: options.host, port: options.port)
    configuration.heartbeat = 0
    configuration.maxUnconfirmed = options.window
    configuration.connectionName = "amqp-bench"
    var logger = Logger(label: "amqp-bench")
    logger.logLevel = .warning
    let connection = try await AMQPConnection.connect(configuration, logger: logger)
    let queue = options.queue ?? "bench.\(options.scenario).\(options.queueType).\(getpid())"
    try await connection.declare(
        Topology(queues: [QueueDeclaration(name: queue, kind: options.queueType == "quorum" ? .quorum : .classic)]))

    var seconds = 0.0
    var cpu = 0.0
    switch options.scenario {
    case "publish":
        let (startCPU, start) = (cpuSeconds(), Date())
        try await publishAll(
            connection, queue: queue, count: options.count, window: options.window, bodySize: options.bodySize, batch: options.batch)
        (seconds, cpu) = (Date().timeIntervalSince(start), cpuSeconds() - startCPU)
    default:
        try await publishAll(connection, queue: queue, count: options.count, window: 256, bodySize: options.bodySize, batch: 64)
        let consuming = try await AMQPConnection.connect(configuration, logger: logger)
        let (startCPU, start) = (cpuSeconds(), Date())
        let consumer = try await consuming.consume(queue: queue, prefetch: UInt16(min(options.prefetch, 65535)))
        var received = 0
        for try await delivery in consumer {
            delivery.ack()
            received += 1
            if received == options.count { break }
        }
        // Runs after the acks on the connection's thread, so they are written by then.
        _ = try await consuming.queueState(queue)
        (seconds, cpu) = (Date().timeIntervalSince(start), cpuSeconds() - startCPU)
        await consuming.close()
    }
    try await connection.delete(queue: queue)
    await connection.close()
    return [
        "client": options.batch > 1 ? "swift-batch\(options.batch)" : "swift", "scenario": options.scenario,
        "queue_type": options.queueType, "count": options.count,
        "window": options.window, "prefetch": options.prefetch, "body_size": options.bodySize,
        "seconds": (seconds * 1000).rounded() / 1000, "msgs_per_s": (Double(options.count) / seconds).rounded(),
        "client_cpu_s": (cpu * 1000).rounded() / 1000,
    ]
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let result = try await run(options)
    let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("amqp-bench: \(error)\n".utf8))
    exit(1)
}

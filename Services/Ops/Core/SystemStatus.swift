import AMQP
import Foundation
import Messages
import RegistrationsCore
import ServiceCatalog
import ServiceRuntime

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The state of the system on one screen: per service, its queues' depths and consumers and
/// its health endpoint's answer; the archive stream's size.
public struct SystemStatus: Sendable, Codable, Equatable {
    public struct Queue: Sendable, Codable, Equatable {
        public var name: String
        /// nil: the queue does not exist.
        public var messages: Int?
        public var consumers: Int?
    }

    public struct Service: Sendable, Codable, Equatable {
        public var name: String
        public var inbox: Queue
        public var retries: [Queue]
        public var deadLetters: Queue
        /// `ready`, `not ready`, or why it could not be asked.
        public var health: String
        public var healthURL: String?
    }

    public var services: [Service]
    public var archive: Queue
    /// Messages of a type no service consumes (`<exchange>.unrouted.messages`).
    public var unrouted: Queue
    /// Each event's retention, from the registrations service (`GET /retention`); nil when it
    /// was not asked, with `retentionProblem` saying why it could not be read.
    public var retention: RegistrationsHTTP.Retention?
    public var retentionProblem: String?
    public var time: Date

    /// Whether anything needs a person: a missing queue, an inbox without consumers, parked
    /// messages, a service not ready.
    public var problems: [String] {
        var problems: [String] = []
        if archive.messages == nil { problems.append("the archive stream \(archive.name) is missing") }
        if unrouted.messages == nil { problems.append("\(unrouted.name) is missing: `delegation-ops topology apply` declares it") }
        if let count = unrouted.messages, count > 0 {
            problems.append(
                "\(count) message(s) of a type no service consumes in \(unrouted.name): `delegation-ops failed list --service unrouted`")
        }
        for service in services {
            if service.inbox.messages == nil { problems.append("\(service.inbox.name) is missing") }
            if service.inbox.consumers == 0 { problems.append("nothing consumes \(service.inbox.name)") }
            if let parked = service.deadLetters.messages, parked > 0 {
                problems.append("\(parked) failed message(s) in \(service.deadLetters.name)")
            }
            if service.health != "ready" && service.health != "not checked" { problems.append("\(service.name): \(service.health)") }
        }
        // A day's grace: the schedule asks within the hour, the services erase at once.
        for event in retention?.events ?? [] where event.overdue(at: time.addingTimeInterval(-86400)) > 0 {
            problems.append(
                "\(event.overdue(at: time)) registration(s) of \(event.eventID) kept past their retention "
                    + "(due \(MessageCoding.format(event.eraseFrom))): is registrations running?")
        }
        return problems
    }

    /// `health`: each service's base URL (`http://127.0.0.1:8081`); a service without one is
    /// not asked.
    public static func read(
        exchange: String, services: [ServiceDescription] = SystemServices.all, health: [String: URL], token: String? = nil,
        connection configuration: AMQPConfiguration,
        maxRetryQueues: Int = 10
    ) async throws -> SystemStatus {
        try await withConnection(configuration, name: "delegation-ops status") { connection in
            func state(_ name: String) async throws -> Queue {
                let state = try await connection.queueStateIfExists(name)
                return Queue(name: name, messages: state?.messageCount, consumers: state?.consumerCount)
            }
            var result: [Service] = []
            for service in services {
                let names = service.names(exchange: exchange)
                var retries: [Queue] = []
                for attempt in 1...maxRetryQueues {
                    let queue = try await state(names.retryQueue(attempt))
                    if queue.messages == nil { break }
                    retries.append(queue)
                }
                let url = health[service.name]
                var answer = "not checked"
                if let url { answer = await Self.health(url) }
                result.append(
                    Service(
                        name: service.name, inbox: try await state(names.inbox), retries: retries,
                        deadLetters: try await state(names.deadLetterQueue),
                        health: answer, healthURL: url?.absoluteString))
            }
            let domain = ServiceNames(service: "", exchange: exchange)
            var retention: RegistrationsHTTP.Retention?
            var retentionProblem: String?
            if let base = health[SystemServices.registrations.name] {
                do {
                    retention = try await Self.retention(base, token: token)
                } catch {
                    retentionProblem = "\(error)"
                }
            }
            return SystemStatus(
                services: result, archive: try await state(domain.archive), unrouted: try await state(domain.unroutedQueue),
                retention: retention, retentionProblem: retentionProblem, time: Date())
        }
    }

    /// The registrations service's `GET /retention`, with a `read` token when given.
    static func retention(_ base: URL, token: String?) async throws -> RegistrationsHTTP.Retention {
        var request = URLRequest(url: base.appendingPathComponent("retention"))
        request.timeoutInterval = 5
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        switch (response as? HTTPURLResponse)?.statusCode {
        case 200?: return try MessageCoding.decode(RegistrationsHTTP.Retention.self, from: data)
        case 401?, 403?:
            throw OpsError.attention("the registrations service wants a read token (DELEGATION_OPS_TOKEN or _FILE)")
        case let code: throw OpsError.attention("HTTP \(code.map(String.init) ?? "?") from \(base)")
        }
    }

    static func health(_ base: URL) async -> String {
        var request = URLRequest(url: base.appendingPathComponent("health/ready"))
        request.timeoutInterval = 3
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            switch (response as? HTTPURLResponse)?.statusCode {
            case 200?: return "ready"
            case let code?: return "not ready (HTTP \(code))"
            case nil: return "no HTTP answer"
            }
        } catch {
            return "unreachable (\(error.localizedDescription))"
        }
    }

    /// The screen `delegation-ops status` prints.
    public var text: String {
        func count(_ queue: Queue) -> String { queue.messages.map(String.init) ?? "missing" }
        var lines = ["service         inbox  consumers  retrying  failed  health"]
        for service in services {
            let retrying = service.retries.compactMap(\.messages).reduce(0, +)
            lines.append(
                service.name.padding(toLength: 14, withPad: " ", startingAt: 0) + "  "
                    + count(service.inbox).leftPadded(5) + "  " + (service.inbox.consumers.map(String.init) ?? "-").leftPadded(9) + "  "
                    + String(retrying).leftPadded(8) + "  " + count(service.deadLetters).leftPadded(6) + "  " + service.health)
        }
        lines.append("archive stream \(archive.name): \(archive.messages.map { "\($0) messages" } ?? "missing")")
        lines.append("unknown types \(unrouted.name): \(unrouted.messages.map { "\($0) messages" } ?? "missing")")
        if let retention {
            lines.append("retention (personal data erased \(retention.retentionDays) days after an event ends):")
            for event in retention.events {
                let due = time >= event.eraseFrom ? "due since" : "due"
                lines.append(
                    "  \(event.eventID): ended \(MessageCoding.format(event.endsAt)), \(due) \(MessageCoding.format(event.eraseFrom)): "
                        + "\(event.registrations) registration(s), \(event.erased) erased")
            }
            if retention.events.isEmpty { lines.append("  no event with a known end yet") }
        } else if let retentionProblem {
            lines.append("retention: \(retentionProblem)")
        }
        let problems = self.problems
        lines.append(problems.isEmpty ? "all well" : problems.map { "! \($0)" }.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

// `delegation-ops`: what ops on call use. See docs/operations.md for the runbook.
import AMQP
import ArgumentParser
import Foundation
import Messages
import OpsCore
import ServiceCatalog
import ServiceRuntime

@main
struct DelegationOps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegation-ops",
        abstract: "Operate the delegation system: topology, publishing, failed messages, replay, status, the plan.",
        discussion: """
            Exit codes: 0 done; 1 done but something needs attention (drift, failures, parked messages); 64 wrong \
            command line; 65 invalid input (nothing sent); 66 not found; 69 broker unreachable; 77 refused \
            (credentials or permissions); 75 interrupted midway (safe to run again); 78 the broker refused with \
            PRECONDITION_FAILED (something declared with other arguments: running again will not help).
            """,
        subcommands: [
            TopologyCommand.self, PublishCommand.self, FailedCommand.self, ReplayCommand.self, StatusCommand.self, PlanCommand.self,
            EraseCommand.self,
        ])
}

/// Where the broker is. The URL comes from `--url`, `DELEGATION_OPS_URL` or `AMQP_URL`.
struct BrokerOptions: ParsableArguments {
    @Option(help: "AMQP URL (default: $DELEGATION_OPS_URL, $AMQP_URL, amqp://guest:guest@127.0.0.1:5672/).")
    var url: String?

    @Option(help: "The domain exchange (default: $EXCHANGE or delegation).")
    var exchange: String?

    var exchangeName: String { exchange ?? ProcessInfo.processInfo.environment["EXCHANGE"] ?? "delegation" }

    func configuration() throws -> AMQPConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let text = url ?? environment["DELEGATION_OPS_URL"] ?? environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
        do {
            return try AMQPConfiguration(url: text)
        } catch {
            throw OpsError.usage("\(error)")
        }
    }
}

/// Runs a command body, printing an `OpsError` to stderr and exiting with its code.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let ops = OpsError.from(error, doing: "delegation-ops")
        FileHandle.standardError.write(Data("delegation-ops: \(ops)\n".utf8))
        throw ExitCode(ops.exitCode)
    }
}

func knownService(_ name: String) throws -> ServiceDescription {
    guard let service = SystemServices.named(name) else {
        throw OpsError.usage(
            "unknown service '\(name)': name one of \(SystemServices.all.map(\.name).joined(separator: ", ")), "
                + "or an instance of one (registrations-2)"
        )
    }
    return service
}

func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

func note(_ text: String) { FileHandle.standardError.write(Data("\(text)\n".utf8)) }

// MARK: topology

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Declare or check every exchange and queue the services need.",
        subcommands: [Apply.self, Verify.self])

    struct Settings: ParsableArguments {
        @Option(help: "Seconds before each retry, for every service (default: each service's <P>_RETRY_DELAYS, else 1,5,30,120).")
        var retryDelays: String?
        @Option(help: "Inbox delivery limit for every service (default: each service's <P>_DELIVERY_LIMIT, else 5).")
        var deliveryLimit: Int?
        @Option(help: "Archive stream retention (default: ARCHIVE_MAX_AGE, else 30D).")
        var archiveMaxAge: String?
        @Option(help: "rabbitmqctl on the broker's host (e.g. 'rabbitmqctl -n rabbit@db1'), to check bindings and apply/check policies.")
        var rabbitmqctl: String?
        @Option(
            help: """
                The definitions file whose policies apply and verify use \
                (default: deploy/rabbitmq/definitions.json, else /etc/rabbitmq/definitions.json).
                """
        )
        var definitions: String?
        @Option(help: "service=N: the service runs as N shards, instances <service>-1 … <service>-N (repeatable).")
        var shards: [String] = []

        var control: BrokerControl? { rabbitmqctl.map(BrokerControl.init(commandLine:)) }

        func policies() throws -> [BrokerControl.Policy] {
            guard control != nil else { return [] }
            let path =
                definitions
                ?? (FileManager.default.fileExists(atPath: "deploy/rabbitmq/definitions.json")
                    ? "deploy/rabbitmq/definitions.json" : "/etc/rabbitmq/definitions.json")
            return try BrokerControl.policies(inDefinitions: path)
        }

        /// What the services declare: the options given, else each setting as the services
        /// read it from the same environment (run this with the services' environment file).
        func topology(exchange: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SystemTopology {
            var topology = SystemTopology()
            topology.exchange = exchange
            var reader = EnvironmentReader(environment)
            topology.archiveMaxAge = archiveMaxAge ?? reader.string("ARCHIVE_MAX_AGE", default: topology.archiveMaxAge)
            if let retryDelays {
                let delays = retryDelays.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard !delays.isEmpty, delays.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    throw OpsError.usage("--retry-delays must be seconds, e.g. 1,5,30,120")
                }
                topology.retryDelays = delays.compactMap { $0 }
            }
            if let deliveryLimit { topology.deliveryLimit = deliveryLimit }
            for kind in Set(topology.services.map(\.kind)) {
                let p = ServiceConfiguration.prefix(for: kind)
                if retryDelays == nil {
                    topology.retryDelaysByService[kind] = reader.secondsList("\(p)_RETRY_DELAYS", default: topology.retryDelays)
                }
                if deliveryLimit == nil {
                    topology.deliveryLimitByService[kind] = reader.integer(
                        "\(p)_DELIVERY_LIMIT", default: topology.deliveryLimit, in: 1...1_000)
                }
            }
            guard reader.problems.isEmpty else { throw OpsError.usage(reader.problems.sorted().joined(separator: "; ")) }
            topology.shards = try TopologyCommand.shards(shards)
            return topology
        }
    }

    /// `service=N` options: how many shards each sharded service runs as.
    static func shards(_ entries: [String]) throws -> [String: Int] {
        var shards: [String: Int] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, SystemServices.all.contains(where: { $0.name == parts[0] }), let count = Int(parts[1]),
                (1...64).contains(count)
            else {
                throw OpsError.usage("--shards takes service=N with N from 1 to 64, e.g. notifications=2")
            }
            shards[parts[0]] = count
        }
        return shards
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare everything (idempotent).")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var settings: Settings

        func run() async throws {
            try await reportingErrors {
                let policies = try settings.policies()
                let topology = try await settings.topology(exchange: broker.exchangeName)
                    .apply(connection: try broker.configuration(), control: settings.control, policies: policies)
                let bindings = topology.bindings.count + topology.exchangeBindings.count
                print(
                    "declared \(topology.exchanges.count) exchanges, \(topology.queues.count) queues, \(bindings) bindings"
                        + (settings.control == nil ? " (policies: give --rabbitmqctl)" : "; set \(policies.count) policies"))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check without changing anything; exit 1 on drift.")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var settings: Settings

        func run() async throws {
            try await reportingErrors {
                let topology = try settings.topology(exchange: broker.exchangeName)
                let configuration = try broker.configuration()
                var drift = try await topology.verify(connection: configuration)
                if let control = settings.control {
                    drift += try await topology.verifyBindingsAndPolicies(
                        control, vhost: configuration.virtualHost, policies: try settings.policies())
                } else {
                    note("bindings and policies not checked: AMQP cannot read them (give --rabbitmqctl on the broker's host)")
                }
                for line in drift { print(line) }
                if !drift.isEmpty {
                    throw OpsError.attention(
                        "\(drift.count) difference(s); `delegation-ops topology apply` creates what is missing, "
                            + "a queue that differs must be deleted (after moving its messages) or re-configured"
                    )
                }
                let expected = topology.topology
                let checked =
                    settings.control == nil
                    ? "" : ", \(expected.bindings.count + expected.exchangeBindings.count) bindings and the policies"
                print("topology matches: \(expected.exchanges.count) exchanges, \(expected.queues.count) queues\(checked)")
            }
        }
    }
}

// MARK: publish

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Validate records, then publish them with confirms.",
        subcommands: [Registrations.self, Programme.self])

    struct Registrations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "registration.submitted from JSON, NDJSON or CSV files (docs/contracts/).",
            discussion: """
                The registrations of one command (all its files) are published as one batch per event (each \
                carries its place in it), so itineraries plans them together as soon as the last is \
                accepted: give an import's files to one command. A lone registration of an event is no \
                batch; records that give their own batch are sent as given.
                """)
        @OptionGroup var broker: BrokerOptions
        @Flag(help: "Validate only; send nothing.") var dryRun = false
        @Option(
            help: """
                Seal identity documents to this key (the registrations service's, id:base64: \
                `registrations document-keys public`; default: $DELEGATION_OPS_DOCUMENT_KEY). \
                Without it, documents are sent as given.
                """)
        var documentKey: String?
        @Argument(help: "Files: .json (object or array), .ndjson/.jsonl, .csv") var files: [String]

        func run() async throws {
            try await reportingErrors {
                var (records, problems) = RecordReader.registrations(from: files)
                records = try RecordReader.batched(records)
                if let spec = documentKey ?? ProcessInfo.processInfo.environment["DELEGATION_OPS_DOCUMENT_KEY"], !spec.isEmpty {
                    let key: DocumentKeys.PublicKey
                    do {
                        key = try DocumentKeys.PublicKey(spec: spec)
                    } catch {
                        throw OpsError.invalidInput("--document-key: \(error)")
                    }
                    records = try RecordReader.sealingDocuments(records, to: key)
                }
                try await PublishCommand.publish(records, problems: problems, dryRun: dryRun, broker: broker)
            }
        }
    }

    struct Programme: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "programme.published from a JSON file.")
        @OptionGroup var broker: BrokerOptions
        @Flag(help: "Validate only; send nothing.") var dryRun = false
        @Argument(help: "The programme file (.json)") var file: String

        func run() async throws {
            try await reportingErrors {
                let (records, problems) = RecordReader.programmes(from: [file])
                try await PublishCommand.publish(records, problems: problems, dryRun: dryRun, broker: broker)
            }
        }
    }

    static func publish<Value: MessagePayload>(
        _ records: [InputRecord<Value>], problems: [InputProblem], dryRun: Bool, broker: BrokerOptions
    ) async throws {
        for problem in problems { print(problem) }
        guard problems.isEmpty else {
            throw OpsError.invalidInput("\(problems.count) problem(s) in the input; nothing was sent")
        }
        guard !records.isEmpty else { throw OpsError.invalidInput("no records in the input; nothing was sent") }
        if dryRun {
            print("\(records.count) \(Value.messageType.rawValue) record(s) are valid; nothing sent (--dry-run)")
            return
        }
        let outcomes = try await Publishing.publish(records, exchange: broker.exchangeName, connection: try broker.configuration()) {
            done in
            note("published \(done)/\(records.count)")
        }
        let failed = outcomes.filter { $0.error != nil }
        for outcome in failed { print("\(outcome.file):\(outcome.line): NOT SENT: \(outcome.error ?? "")") }
        print(
            "confirmed \(outcomes.count - failed.count) of \(outcomes.count) \(Value.messageType.rawValue) "
                + "to exchange '\(broker.exchangeName)'"
        )
        if !failed.isEmpty {
            throw OpsError.attention("\(failed.count) record(s) were not confirmed; running the same command again is safe")
        }
    }
}

// MARK: failed

struct FailedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failed", abstract: "Dead-lettered messages: list, show, retry, purge.",
        subcommands: [List.self, Show.self, Retry.self, Purge.self])

    struct Filter: ParsableArguments {
        @Option(
            help: """
                Only this service: registrations, itineraries, notifications, console, an instance (registrations-2), \
                or 'unrouted' (messages of a type no service consumes).
                """
        )
        var service: String?

        func services() throws -> [ServiceDescription] {
            if service == ParkingLot.unroutedName { return [] }
            return try service.map { [try knownService($0)] } ?? SystemServices.all
        }

        /// The queues to look in: the services' dead-letter queues, and the unrouted messages
        /// unless one service was named.
        func lots(exchange: String) throws -> [ParkingLot] {
            let unrouted = service == nil || service == ParkingLot.unroutedName ? [ParkingLot.unrouted(exchange: exchange)] : []
            return try services().map { ParkingLot($0.names(exchange: exchange)) } + unrouted
        }
    }

    struct AuditOptions: ParsableArguments {
        @Option(
            help: "Audit log (default: $DELEGATION_OPS_AUDIT_LOG, else $XDG_STATE_HOME/delegation-ops/audit.log, else ~/.local/state/…).")
        var auditLog: String?

        func open() throws -> AuditLog { try AuditLog(file: auditLog.map { URL(fileURLWithPath: $0) } ?? AuditLog.defaultFile()) }
    }

    static func browse(_ filter: Filter, broker: BrokerOptions) async throws -> [FailedMessage] {
        let configuration = try broker.configuration()
        var messages: [FailedMessage] = []
        for lot in try filter.lots(exchange: broker.exchangeName) {
            messages += try await FailedMessages.browse(lot, connection: configuration)
        }
        return messages
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Failed messages grouped by service, type and reason, with counts and first/last seen.")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var filter: Filter
        @Option(help: "Only this type (a pattern: registration.*).") var type: String?
        @Option(help: "Only reasons containing this text, or this kind (invalid-body, crash-loop, …).") var reason: String?
        @Flag(help: "JSON for scripts.") var json = false

        func run() async throws {
            try await reportingErrors {
                let selection = FailedSelection.matching(type: type, reason: reason)
                let messages = try await FailedCommand.browse(filter, broker: broker).filter(selection.contains)
                let groups = FailedMessages.groups(messages)
                if json {
                    let encoder = MessageCoding.makeEncoder()
                    encoder.outputFormatting.insert(.prettyPrinted)
                    print(String(decoding: try encoder.encode(groups), as: UTF8.self))
                    return
                }
                if groups.isEmpty {
                    print("no failed messages")
                    return
                }
                for group in groups {
                    let seen = [group.firstSeen, group.lastSeen].compactMap { $0.map(MessageCoding.format) }
                    print(
                        "group \(group.group)  \(group.count) × \(group.service) \(group.type) [\(group.kind)]  "
                            + "\(seen.first ?? "?") … \(seen.last ?? "?")"
                    )
                    print("    \(group.reason)")
                    print("    ids: \(group.ids.prefix(5).joined(separator: " "))\(group.ids.count > 5 ? " …" : "")")
                }
                print(
                    "\(messages.count) failed message(s) in \(groups.count) group(s); "
                        + "`delegation-ops failed retry --group G` moves a group back"
                )
                if messages.contains(where: { $0.service == ParkingLot.unroutedName }) {
                    print(
                        "messages of an unknown type cannot be retried: "
                            + "correct the publisher, then `delegation-ops failed purge --service unrouted`"
                    )
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One failed message: headers (failure and x-death), properties and body.")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var filter: Filter
        @Argument(help: "The id from `failed list` (or the message id).") var id: String

        func run() async throws {
            try await reportingErrors {
                let messages = try await FailedCommand.browse(filter, broker: broker)
                guard let message = messages.first(where: FailedSelection.ids([id]).contains) else {
                    throw OpsError.notFound("no failed message with id \(id)")
                }
                try printJSON(FailedMessages.record(message))
            }
        }
    }

    struct Selection: ParsableArguments {
        @Argument(help: "Ids from `failed list`.") var ids: [String] = []
        @Option(help: "Every message of this group.") var group: String?
        @Flag(help: "Every message (of --service, or of every service).") var all = false

        func selection() throws -> FailedSelection {
            switch (ids.isEmpty, group, all) {
            case (false, nil, false): return .ids(Set(ids))
            case (true, let group?, false): return .group(group)
            case (true, nil, true): return .all
            default: throw OpsError.usage("name ids, or --group G, or --all (one of them)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move failed messages back to their service's inbox (confirmed before they leave the dead-letter queue).")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var filter: Filter
        @OptionGroup var which: Selection
        @OptionGroup var audit: AuditOptions
        @Flag(help: "Show what would be retried; change nothing.") var dryRun = false

        /// Testing only: `DELEGATION_OPS_FAULT=crash-after-copy:N`.
        static var fault: Int? {
            guard let text = ProcessInfo.processInfo.environment["DELEGATION_OPS_FAULT"], text.hasPrefix("crash-after-copy:") else {
                return nil
            }
            return Int(text.dropFirst("crash-after-copy:".count))
        }

        func run() async throws {
            try await reportingErrors {
                let selection = try which.selection()
                let log = dryRun ? nil : try audit.open()
                let configuration = try broker.configuration()
                if filter.service == ParkingLot.unroutedName {
                    throw OpsError.usage(
                        "messages of a type no service consumes have no inbox to go back to: correct the publisher and purge them")
                }
                var total = 0
                for service in try filter.services() {
                    let names = service.names(exchange: broker.exchangeName)
                    let retried = try await FailedMessages.retry(
                        selection, in: names, connection: configuration, audit: log, dryRun: dryRun, crashAfterCopy: Self.fault
                    ) { progress in
                        if progress.selected % 100 == 0 {
                            note(
                                "\(service.name): \(progress.done) retried of \(progress.selected) selected (\(progress.examined) examined)"
                            )
                        }
                    }
                    for message in retried {
                        print("\(dryRun ? "would retry" : "retried") \(message.id) \(message.type) → \(names.inbox)")
                    }
                    total += retried.count
                }
                print("\(dryRun ? "would retry" : "retried") \(total) message(s)\(log.map { "; audit log: \($0.file.path)" } ?? "")")
                if total == 0, case .ids = selection { throw OpsError.notFound("none of the ids is in a dead-letter queue") }
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete failed messages for good, after saving them to a file.")
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var filter: Filter
        @OptionGroup var which: Selection
        @OptionGroup var audit: AuditOptions
        @Option(help: "Where the purged messages are saved first (JSON lines); without --service, one file per service: FILE.<service>.")
        var out: String
        @Flag(help: "Required: yes, delete them.") var confirm = false

        func run() async throws {
            try await reportingErrors {
                guard confirm else {
                    throw OpsError.usage("purge deletes messages for good: add --confirm (they are saved to --out first)")
                }
                let selection = try which.selection()
                let log = try audit.open()
                let configuration = try broker.configuration()
                var total = 0
                let lots = try filter.lots(exchange: broker.exchangeName)
                for lot in lots {
                    let file = URL(fileURLWithPath: lots.count == 1 ? out : "\(out).\(lot.name)")
                    let purged = try await FailedMessages.purge(selection, in: lot, connection: configuration, to: file, audit: log)
                    if !purged.isEmpty { print("\(lot.name): purged \(purged.count), saved in \(file.path)") }
                    total += purged.count
                }
                print("purged \(total) message(s); audit log: \(log.file.path)")
            }
        }
    }
}

// MARK: replay

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-send archived messages from a time range to one service's inbox (duplicates are dropped by the service).")
    @OptionGroup var broker: BrokerOptions
    @Option(help: "From: ISO-8601 (2026-01-13T08:00:00+07:00) or a time ago (90m, 2h, 3d).") var since: String
    @Option(help: "Until (same forms); default: now.") var until: String?
    @Option(help: "Only types matching this pattern (registration.*).") var type: String?
    @Option(help: "The service to rebuild.") var to: String
    @Option(help: "Stop after this many seconds without a message (the end of the archive).") var idle: Double = 2
    @Option(
        help: """
            The service runs as N shards (<service>-1…N): send each message through its consistent-hash exchange, \
            so every shard gets the keys it owns (re-sharding).
            """
    )
    var throughShards: Int?
    @Flag(help: "Count what would be sent; send nothing.") var dryRun = false

    func run() async throws {
        try await reportingErrors {
            let target = try knownService(to)
            let options = Replay.Options(
                since: try OpsTime.parse(since), until: try until.map { try OpsTime.parse($0) } ?? Date(), types: type, dryRun: dryRun,
                idle: idle,
                shards: throughShards)
            let summary = try await Replay.run(
                to: target, exchange: broker.exchangeName, options: options, connection: try broker.configuration()
            ) { summary in
                note("read \(summary.read), \(dryRun ? "would replay" : "replayed") \(summary.replayed)")
            }
            if summary.keysRequested { print("asked registrations to send the data keys again (registration.data-keys-requested)") }
            for (type, count) in summary.byType.sorted(by: { $0.key < $1.key }) { print("  \(type): \(count)") }
            print(
                "\(dryRun ? "would replay" : "replayed") \(summary.replayed) of \(summary.read) archived message(s) "
                    + "to \(target.names(exchange: broker.exchangeName).inbox)"
            )
        }
    }
}

// MARK: status

struct StatusCommand: AsyncParsableCommand {
    /// A `read` API token for the services' HTTP side: `DELEGATION_OPS_TOKEN`, or the file
    /// `DELEGATION_OPS_TOKEN_FILE` names.
    static func token(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        var reader = EnvironmentReader(environment)
        let token = reader.optionalString("DELEGATION_OPS_TOKEN")
        if let problem = reader.problems.first { throw OpsError.usage(problem) }
        return token
    }

    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Queue depths, consumers, failed messages and each service's health; exit 1 if anything needs attention.")
    @OptionGroup var broker: BrokerOptions
    @Option(name: .customLong("health"), help: "service=URL of a service's HTTP port (default: http://127.0.0.1:<its default port>).")
    var health: [String] = []
    @Flag(help: "Do not ask the services' health endpoints.") var noHealth = false
    @Flag(help: "JSON for scripts.") var json = false
    @Option(help: "service=N: the service runs as N shards, <service>-1 … <service>-N (repeatable; give each one's --health).")
    var shards: [String] = []

    func run() async throws {
        try await reportingErrors {
            var urls: [String: URL] = [:]
            if !noHealth {
                for service in SystemServices.all { urls[service.name] = URL(string: "http://127.0.0.1:\(service.defaultHTTPPort)") }
                for entry in health {
                    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, SystemServices.named(parts[0]) != nil, let url = URL(string: parts[1]) else {
                        throw OpsError.usage("--health takes service=URL, e.g. notifications=http://127.0.0.1:8083")
                    }
                    urls[parts[0]] = url
                }
            }
            var deployment = SystemTopology()
            deployment.exchange = broker.exchangeName
            deployment.shards = try TopologyCommand.shards(shards)
            let services = deployment.instances.map(\.service)
            let status = try await SystemStatus.read(
                exchange: broker.exchangeName, services: services, health: urls.filter { url in services.contains { $0.name == url.key } },
                token: try Self.token(), connection: try broker.configuration())
            if json {
                let encoder = MessageCoding.makeEncoder()
                encoder.outputFormatting.insert(.prettyPrinted)
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            } else {
                print(status.text)
            }
            if !status.problems.isEmpty { throw ExitCode(1) }
        }
    }
}

// MARK: plan

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a registration's personal data in every service (registration.erase-requested).",
        discussion: """
            Publishes registration.erase-requested with confirms; registrations, itineraries, notifications and the console \
            each remove the registration's names, e-mail addresses, phones, identity documents and message bodies, keep what \
            accounting needs in anonymous form, and answer registration.erased (--wait SECONDS waits for all four). Erasing \
            twice is harmless. \
            See docs/operations.md, "Erasing a person's data".
            """)

    @OptionGroup var broker: BrokerOptions
    @Option(help: "The event id.") var event: String
    @Option(help: "The registration's reference.") var reference: String
    @Option(help: "request (the person asked) or retention.") var reason = "request"
    @Option(help: "Who asks: an account or role name, not contact details (default: your user name).") var requestedBy: String?
    @Option(help: ArgumentHelp("Wait up to this many seconds for every service's answer.", valueName: "seconds")) var wait: Double?
    @Flag(help: "Print the message; send nothing.") var dryRun = false

    func run() async throws {
        try await reportingErrors {
            guard let why = RegistrationEraseRequested.Reason(rawValue: reason) else {
                throw OpsError.usage("--reason must be request or retention")
            }
            guard !event.isEmpty, !reference.isEmpty else { throw OpsError.usage("--event and --reference must not be empty") }
            let request = RegistrationEraseRequested(
                eventID: event, reference: reference, requestedBy: requestedBy ?? PlanRequests.defaultRequester() ?? "ops",
                reason: why, requestedAt: Date())
            print(try PlanRequests.json(request))
            let records = [InputRecord(file: "delegation-ops erase", line: 1, value: request)]
            guard let wait, !dryRun else {
                try await PublishCommand.publish(records, problems: [], dryRun: dryRun, broker: broker)
                return
            }
            let expected = Set(SystemServices.all.filter { $0.consumes.contains(.registrationEraseRequested) }.map(\.name))
            let answers = try await PlanRequests.awaitingAnswers(
                RegistrationErased.self, exchange: broker.exchangeName, connection: try broker.configuration(), within: wait,
                matching: { $0.eventID == request.eventID && $0.reference == request.reference },
                until: { expected.isSubset(of: Set($0.map(\.service))) }
            ) {
                try await PublishCommand.publish(records, problems: [], dryRun: false, broker: broker)
                note("waiting up to \(PlanCommand.value(wait)) s for registration.erased from \(expected.sorted().joined(separator: ", "))")
            }
            for answer in answers {
                print("\(answer.service): erased\(answer.found ? "" : " (held nothing of it)") at \(MessageCoding.format(answer.erasedAt))")
            }
            let missing = expected.subtracting(answers.map(\.service))
            if !missing.isEmpty {
                throw OpsError.attention(
                    "no answer from \(missing.sorted().joined(separator: ", ")) within \(PlanCommand.value(wait)) s: is it running "
                        + "(`delegation-ops status`)? It erases when it next consumes; its answer goes to the archive stream")
            }
        }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Steer the itineraries planner: organisers' overrides, and re-optimisation (preview, then apply).",
        discussion: """
            Each command publishes one message with confirms; the itineraries service answers with plan.override-decided or \
            plan.reoptimised, which the archive stream keeps (--wait SECONDS waits for it). See docs/operations.md, \
            "Steering the plan: overrides and re-optimisation".
            """,
        subcommands: [Override.self, Reoptimise.self])

    struct Common: ParsableArguments {
        @Option(help: "Who asks: an account or role name, not contact details (default: your user name).") var requestedBy: String?
        @Option(
            help: ArgumentHelp(
                "Wait up to this many seconds for the itineraries service's answer (from the archive stream).", valueName: "seconds"))
        var wait: Double?
        @Flag(help: "Check the options and print the message; send nothing.") var dryRun = false

        var requester: String? { requestedBy ?? PlanRequests.defaultRequester() }

        func validate() throws {
            if let wait, !(wait > 0 && wait <= 3600) {
                throw ValidationError("--wait takes a number of seconds, more than 0 and at most 3600")
            }
        }
    }

    struct Override: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the planner to keep an organiser's decision (plan.override-requested), or take one back (--withdraw).",
            discussion: """
                One kind per override (R: reference, B: bus, D: day, V: venue):
                  --pin --reference R --bus B --day D      R rides bus B on day D
                  --require-visit --reference R --venue V  R visits venue V on some day
                  --forbid-visit --reference R --venue V   R does not visit venue V
                  --lock-tour --bus B --day D              B's tour on D stays as it is
                  --reserve-seats N --bus B [--day D]      N seats of B kept free (on D)
                  --withdraw                               take the override --id back

                The same --id again replaces the override. The itineraries service answers with plan.override-decided: \
                applied (with the visit value it costs), refused (with the reason; nothing of it applies) or withdrawn.
                """)
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The event.") var event: String
        @Option(help: "The override's name, unique within the event (the same id again replaces it).") var id: String
        @Flag(help: "Pin the delegation (--reference) to --bus on --day.") var pin = false
        @Flag(help: "The delegation (--reference) visits --venue on some day.") var requireVisit = false
        @Flag(help: "The delegation (--reference) does not visit --venue.") var forbidVisit = false
        @Flag(help: "The tour of --bus on --day keeps its riders and stops as they are now.") var lockTour = false
        @Option(help: ArgumentHelp("Keep N seats of --bus free on --day (every day without --day).", valueName: "N"))
        var reserveSeats: Int?
        @Flag(help: "Take the override --id back (give only --event and --id).") var withdraw = false
        @Option(help: "The registration's reference (pin, require-visit, forbid-visit).") var reference: String?
        @Option(help: "The bus, as the programme names it (pin, lock-tour, reserve-seats).") var bus: String?
        @Option(help: "The day, YYYY-MM-DD in the event's time zone (pin, lock-tour, reserve-seats).") var day: String?
        @Option(help: "The venue, a site visit of the programme (require-visit, forbid-visit).") var venue: String?
        @Option(help: "Why, in the organiser's words (kept with the override; no personal data).") var reason: String?
        @OptionGroup var common: Common

        func run() async throws {
            try await reportingErrors {
                var options = PlanRequests.OverrideOptions(eventID: event, overrideID: id)
                options.pin = pin
                options.requireVisit = requireVisit
                options.forbidVisit = forbidVisit
                options.lockTour = lockTour
                options.reserveSeats = reserveSeats
                options.withdraw = withdraw
                options.reference = reference
                options.busID = bus
                options.day = day
                options.venueID = venue
                options.reason = reason
                options.requestedBy = common.requester
                let request = try PlanRequests.override(options, requestedAt: Date())
                let answer = try await PlanCommand.send(request, answer: PlanOverrideDecided.self, common: common, broker: broker) {
                    PlanRequests.answers($0, request)
                }
                guard let answer else { return }
                switch answer.outcome {
                case .applied:
                    let cost = answer.cost.map { $0 == 0 ? "it costs no visit value" : "it costs \(PlanCommand.value($0)) of visit value" }
                    print(
                        "override '\(answer.overrideID)' applied"
                            + (answer.planVersion.map { " from plan version \($0)" } ?? "") + (cost.map { ": \($0)" } ?? ""))
                case .withdrawn:
                    print("override '\(answer.overrideID)' withdrawn; the next plan no longer keeps it")
                case .refused:
                    throw OpsError.attention(
                        "override '\(answer.overrideID)' refused: \(answer.reason ?? "no reason given"); nothing of it applies")
                }
            }
        }
    }

    struct Reoptimise: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Preview the best plan allowing moves, or apply a preview (plan.reoptimise-requested).",
            discussion: """
                Without --apply: a preview; nothing changes for the delegations. The answer (plan.reoptimised, previewed) \
                gives the visit value before and after and the registrations that would move. Apply it with \
                --apply <the preview's request id>; delegations are then told only what changes for them.
                """)
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The event.") var event: String
        @Option(help: "This request's id (default: a fresh one, printed); a request id is only acted on once.") var id: String?
        @Option(help: ArgumentHelp("Apply the preview made by the request PREVIEW_ID.", valueName: "PREVIEW_ID")) var apply: String?
        @OptionGroup var common: Common

        func run() async throws {
            try await reportingErrors {
                let request = try PlanRequests.reoptimise(
                    eventID: event, requestID: id, applyPreview: apply, requestedBy: common.requester, requestedAt: Date())
                print("request id: \(request.requestID)")
                let answer = try await PlanCommand.send(request, answer: PlanReoptimised.self, common: common, broker: broker) {
                    PlanRequests.answers($0, request)
                }
                guard let answer else {
                    if request.applyPreview == nil, !common.dryRun {
                        print(
                            "once previewed, apply it with: delegation-ops plan reoptimise --event \(request.eventID) "
                                + "--apply \(request.requestID)")
                    }
                    return
                }
                let gained = answer.valueAfter - answer.valueBefore
                let figures =
                    "visit value \(PlanCommand.value(answer.valueBefore)) → \(PlanCommand.value(answer.valueAfter)) "
                    + "(\(gained >= 0 ? "+" : "")\(PlanCommand.value(gained)))"
                let moved = answer.moved.prefix(20).joined(separator: " ") + (answer.moved.count > 20 ? " …" : "")
                switch answer.outcome {
                case .previewed:
                    print(
                        "previewed \(answer.requestID)"
                            + (answer.basedOnVersion.map { " (from plan version \($0))" } ?? "") + ": \(figures); "
                            + "\(answer.moved.count) registration(s) would move\(moved.isEmpty ? "" : ": \(moved)")")
                    print("apply it with: delegation-ops plan reoptimise --event \(answer.eventID) --apply \(answer.requestID)")
                case .applied:
                    print(
                        "applied" + (answer.planVersion.map { " as plan version \($0)" } ?? "") + ": \(figures); "
                            + "\(answer.moved.count) registration(s) moved\(moved.isEmpty ? "" : ": \(moved)"); "
                            + "their delegations are told what changed")
                case .refused:
                    throw OpsError.attention(
                        "re-optimisation \(answer.requestID) refused: \(answer.reason ?? "no reason given"); nothing changed "
                            + "(preview again if the event changed)")
                }
            }
        }
    }

    /// Prints the request, publishes it as `publish` does (confirms, to the domain exchange) and,
    /// with `--wait`, returns its answer from the archive; nil when not waiting (or nothing came,
    /// which is said).
    static func send<Request: MessagePayload, Answer: MessagePayload>(
        _ request: Request, answer: Answer.Type, common: Common, broker: BrokerOptions,
        matching: @escaping @Sendable (Answer) -> Bool
    ) async throws -> Answer? {
        print(try PlanRequests.json(request))
        let records = [InputRecord(file: "delegation-ops plan", line: 1, value: request)]
        let answerType = Answer.messageType.rawValue
        guard let wait = common.wait, !common.dryRun else {
            try await PublishCommand.publish(records, problems: [], dryRun: common.dryRun, broker: broker)
            if !common.dryRun {
                print(
                    "the itineraries service answers with \(answerType) (kept in the archive stream \(broker.exchangeName).archive; "
                        + "--wait SECONDS waits for it)")
            }
            return nil
        }
        let answer = try await PlanRequests.awaitingAnswer(
            Answer.self, exchange: broker.exchangeName, connection: try broker.configuration(), within: wait, matching: matching
        ) {
            try await PublishCommand.publish(records, problems: [], dryRun: false, broker: broker)
            note("waiting up to \(value(wait)) s for \(answerType)")
        }
        guard let answer else {
            throw OpsError.attention(
                "sent, but no \(answerType) came within \(value(wait)) s: is the itineraries service running "
                    + "(`delegation-ops status`)? Its answer will still come, to the archive stream")
        }
        print(try PlanRequests.json(answer))
        return answer
    }

    /// A figure as people read it: `12`, `12.5`, `0.25`.
    static func value(_ number: Double) -> String {
        var text = String(format: "%.2f", number)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }
}

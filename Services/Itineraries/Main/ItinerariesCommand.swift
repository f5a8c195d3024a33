// The itineraries service (`itineraries serve`, the default) and its offline tools: plan and
// score without a broker, export from the store. Configuration comes from the environment.
import ArgumentParser
import Foundation
import ItinerariesCore
import ItineraryPlanner
import Logging
import Messages
import ServiceCommand
import ServiceRuntime

@main
struct Itineraries: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "itineraries",
        abstract: "Plans who visits what, when, with whom; tells each delegation what concerns it.",
        subcommands: [
            Serve<ItinerariesExecutable>.self, PlanCommand.self, ReoptimiseCommand.self, ScoreCommand.self, Export.self,
            Tokens<ItinerariesExecutable>.self, DocumentKeysCommand<ItinerariesExecutable>.self, CheckConfig<ItinerariesExecutable>.self,
        ],
        defaultSubcommand: Serve<ItinerariesExecutable>.self)
}

/// The itineraries service as an executable: `serve` and `check-config` come from
/// ServiceCommand.
enum ItinerariesExecutable: ServiceExecutable {
    static let name = "itineraries"

    static func configuration(from environment: [String: String]) throws -> ItinerariesConfiguration {
        try ItinerariesConfiguration.fromEnvironment(environment)
    }

    static func service(_ configuration: ItinerariesConfiguration) -> ServiceConfiguration { configuration.service }

    static func documentKeys(_ configuration: ItinerariesConfiguration) -> DocumentKeys? { configuration.documentKeys }

    static func openStore(_ configuration: ItinerariesConfiguration) throws -> ServiceStore {
        try ServiceStore(
            path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: ItineraryStore.migrate)
    }

    static func serve(_ configuration: ItinerariesConfiguration, logger: Logger) async throws {
        try await ItinerariesService.makeHost(configuration, logger: logger).run()
    }

    static func settings(_ configuration: ItinerariesConfiguration) -> [(String, String)] {
        [
            (
                "re-plan",
                "after \(configuration.debounce) s of quiet, at most \(configuration.maxWait) s after a change, at once when a batch ends"
            ),
            ("plan search", "at most \(configuration.searchSeconds) s"),
            ("identity key", configuration.vault.currentKeyID),
        ]
    }
}

/// The programme and registrations files the offline commands read.
struct InputFiles: ParsableArguments {
    @Option(name: .long, help: "A programme.published JSON file.") var programme: String
    @Option(name: .long, help: "A JSON array of registration.accepted (or registration.submitted) payloads.") var registrations: String
    @Option(name: .long, help: "A JSON array of overrides (as the planner keeps them: id, kind, delegationID, busID, day, ...).")
    var overrides: String?

    func load() throws -> PlanningInput {
        let programme = try MessageCoding.decode(ProgrammePublished.self, from: try read(self.programme))
        let data = try read(registrations)
        let delegations: [PlanningDelegation]
        if let accepted = try? MessageCoding.decode([RegistrationAccepted].self, from: data) {
            delegations = accepted.filter { $0.eventID == programme.eventID }.map(PlanningDelegation.init)
        } else {
            let submitted = try MessageCoding.decode([RegistrationSubmitted].self, from: data)
            delegations = submitted.filter { $0.eventID == programme.eventID }.map { submission in
                PlanningDelegation(
                    RegistrationAccepted(
                        registrationID: submission.reference, eventID: submission.eventID, reference: submission.reference,
                        revision: submission.revision,
                        delegation: submission.delegation, acceptedAt: submission.submittedAt ?? programme.publishedAt,
                        submittedAt: submission.submittedAt))
            }
        }
        let overrides = try self.overrides.map { try MessageCoding.decode([PlanningOverride].self, from: try read($0)) } ?? []
        return PlanningInput(programme: programme, delegations: delegations, overrides: overrides)
    }

    private func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read '\(path)'") }
        return data
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Plan offline: programme + registrations → plan JSON.")

    @OptionGroup var files: InputFiles
    @Option(name: .long, help: "Where to write the plan (default: standard output).") var out: String?
    @Option(name: .long, help: "A previous plan to re-plan from (stable).") var previous: String?
    @Option(name: .long, help: "Search iterations (0: the route-first construction alone; default 4000).") var iterations: Int?
    @Option(name: .long, help: "The longest the search runs, in seconds (0: no cap; default 1.5, as the service).") var seconds: Double?
    @Option(name: .long, help: "The search's random seed (the same input, iterations and seed give the same plan).") var seed: UInt64?

    func run() async throws {
        let input = try files.load()
        let previousPlan = try previous.map { path in
            try MessageCoding.decode(Plan.self, from: FileManager.default.contents(atPath: path) ?? Data())
        }
        var planner = Planner()
        if let iterations { planner.searchIterations = max(0, iterations) }
        if let seconds { planner.searchTimeLimit = seconds > 0 ? .milliseconds(Int((seconds * 1000).rounded())) : nil }
        if let seed { planner.searchSeed = seed }
        let started = ContinuousClock.now
        let plan = planner.plan(input, previous: previousPlan)
        let elapsed = ContinuousClock.now - started
        let checker = PlanChecker()
        let data = try MessageCoding.encode(plan)
        if let out { try data.write(to: URL(fileURLWithPath: out)) } else { FileHandle.standardOutput.write(data + Data("\n".utf8)) }
        let score = checker.score(of: plan, for: input)
        let violations = checker.violations(of: plan, for: input)
        let duration = elapsed.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1)))
        FileHandle.standardError.write(
            Data(
                """
                planned \(input.delegations.count) delegations in \(duration): \(plan.tours.count) tours, \(plan.meetings.count) meetings, \
                score \(String(format: "%.1f", score.total)), \(violations.count) violations\n
                """.utf8))
    }
}

/// The offline form of `plan.reoptimise-requested`: the best plan allowing moves, against the
/// plan in force, before anything is published.
struct ReoptimiseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reoptimise",
        abstract: "Preview a re-optimisation offline: the value gained over the plan in force and the registrations it moves.")

    @OptionGroup var files: InputFiles
    @Option(name: .long, help: "The plan in force (JSON, as `plan` writes it).") var current: String
    @Option(name: .long, help: "Where to write the re-optimised plan (default: nowhere).") var out: String?

    func run() async throws {
        let input = try files.load()
        guard let data = FileManager.default.contents(atPath: current) else { throw ValidationError("cannot read '\(current)'") }
        let inForce = try MessageCoding.decode(Plan.self, from: data)
        let fresh = Planner().plan(input)
        let checker = PlanChecker()
        let before = checker.score(of: inForce, for: input).visitValue
        let after = checker.score(of: fresh, for: input).visitValue
        let moved = PlanningService.moved(from: inForce, to: fresh)
        if let out { try MessageCoding.encode(fresh).write(to: URL(fileURLWithPath: out)) }
        print(
            """
            visit value \(String(format: "%.1f", before)) → \(String(format: "%.1f", after)) \
            (\(after >= before ? "+" : "")\(String(format: "%.1f", after - before))); \(moved.count) registrations would move\
            \(moved.isEmpty ? "" : ": " + moved.joined(separator: ", "))
            violations: \(checker.violations(of: fresh, for: input).count)
            """)
    }
}

struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Check any plan: hard-constraint violations and soft score (exit 1 if any violation).")

    @OptionGroup var files: InputFiles
    @Option(name: .long, help: "The plan JSON to check.") var plan: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let input = try files.load()
        let plan = try MessageCoding.decode(Plan.self, from: FileManager.default.contents(atPath: self.plan) ?? Data())
        let checker = PlanChecker()
        let violations = checker.violations(of: plan, for: input)
        let score = checker.score(of: plan, for: input)
        if json {
            struct Report: Codable {
                var violations: [PlanChecker.Violation]
                var score: PlanChecker.Score
            }
            print(try MessageCoding.encodeText(Report(violations: violations, score: score)))
        } else {
            print("hard-constraint violations: \(violations.count)")
            for violation in violations { print("  - \(violation)") }
            let visitValue = String(format: "%.1f", score.visitValue)
            print(
                """
                score: \(String(format: "%.1f", score.total))
                  visit value \(visitValue); preferred visits \(score.preferredGranted)/\(score.preferredAsked)
                  meetings \(score.mutualMeetings) mutual, \(score.oneSidedMeetings) one-sided
                  interpreter needs covered \(score.interpreterCovered)/\(score.interpreterNeeded)
                """)
        }
        if !violations.isEmpty { throw ExitCode(1) }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Export from the store: a delegation's or a bus's itinerary (JSON or iCalendar), "
            + "a restricted venue's access list (CSV), or headcounts."
    )

    @Option(name: .long, help: "The event id.") var event: String
    @Option(name: .long, help: "A delegation (registration id).") var delegation: String?
    @Option(name: .long, help: "A bus id.") var bus: String?
    @Option(name: .long, help: "json or ics.") var format = "json"
    @Option(name: .long, help: "Language of titles in .ics: vi, zh-Hans, en.") var language = "en"
    @Option(name: .customLong("access-list"), help: "A venue id: who enters it, with their documents (CSV).") var accessList: String?

    func run() async throws {
        let configuration = try ItinerariesExecutable.loadConfiguration()
        let store = try ItinerariesExecutable.openStore(configuration)
        if let venue = accessList {
            guard let snapshot = try await store.database.read({ db in try ItinerariesHTTP.snapshot(event, in: db) }) else {
                throw ValidationError("no plan for event '\(event)' in this store")
            }
            let entries = try await ItinerariesHTTP.accessList(snapshot, venue: venue, store: store, vault: configuration.vault)
            FileHandle.standardOutput.write(Data(ItinerariesHTTP.csv(entries).utf8))
            return
        }
        let output = try await store.database.read { db in
            try ItineraryExport.render(
                event: event, delegation: delegation, bus: bus, format: format, language: Language(rawValue: language) ?? .english, in: db)
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

// The registrations service. `registrations` (or `registrations serve`) runs it; the other
// subcommands work on its store. Configuration comes from the environment (README.md).
import ArgumentParser
import Foundation
import Logging
import RegistrationsCore
import ServiceRuntime

@main
struct Registrations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registrations",
        abstract: "Validates, deduplicates and places delegation registrations.",
        subcommands: [Serve.self, Export.self, RotateKeys.self, CheckConfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service until SIGTERM or SIGINT.")

    func run() async throws {
        let configuration = try loadConfiguration()
        StructuredLogHandler.bootstrap(level: configuration.service.logLevel, format: configuration.service.logFormat)
        let logger = Logger(label: "registrations")
        logger.info("starting", metadata: ["store": "\(configuration.service.storePath)", "broker": "\(configuration.service.amqp)"])
        let host = try await RegistrationsService.makeHost(configuration, logger: logger)
        try await host.run()
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write an event's registrations as CSV (no identity documents).")

    @Option(name: .long, help: "The event id.") var event: String
    @Option(name: .long, help: "Output file (default: standard output).") var out: String?

    func run() async throws {
        let configuration = try loadConfiguration()
        let store = try ServiceStore(path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: RegistrationStore.migrate)
        let csv = try await store.database.read { db in try RegistrationsExport.csv(eventID: event, in: db) }
        if let out {
            try csv.write(toFile: out, atomically: true, encoding: .utf8)
        } else {
            FileHandle.standardOutput.write(Data(csv.utf8))
        }
    }
}

struct RotateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-keys",
        abstract: "Re-seal every stored identity document under the current key (the first in REGISTRATIONS_IDENTITY_KEYS).")

    func run() async throws {
        let configuration = try loadConfiguration()
        let vault = configuration.vault
        let store = try ServiceStore(path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: RegistrationStore.migrate)
        let count = try await store.database.write { db -> Int in
            var count = 0
            for row in try RegistrationStore.sealedIdentities(in: db) where row.keyID != vault.currentKeyID {
                let documents = try vault.open(row.ciphertext, keyID: row.keyID, registrationID: row.registrationID)
                let sealed = try vault.seal(documents, registrationID: row.registrationID)
                try RegistrationStore.setIdentity(registrationID: row.registrationID, sealed, in: db)
                count += 1
            }
            return count
        }
        print("re-sealed \(count) registration(s) under key '\(vault.currentKeyID)'")
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate the environment and print the settings (no secrets).")

    func run() async throws {
        let configuration = try loadConfiguration()
        let s = configuration.service
        print("""
            broker:           \(s.amqp)
            exchange:         \(s.exchange)
            store:            \(s.storePath) (synchronous=\(s.synchronous.rawValue))
            http:             \(s.httpHost):\(s.httpPort)
            prefetch/batch:   \(s.prefetch)/\(s.batchSize)
            retry delays (s): \(s.retryDelays.map { String($0) }.joined(separator: ", "))
            delivery limit:   \(s.deliveryLimit)
            identity key:     \(configuration.vault.currentKeyID)
            max delegates:    \(configuration.maxDelegates)
            cancel wait (s):  \(configuration.cancellationWait)
            """)
    }
}

/// Reads the configuration; an invalid one exits with every problem listed.
func loadConfiguration() throws -> RegistrationsConfiguration {
    do {
        return try RegistrationsConfiguration.fromEnvironment()
    } catch {
        FileHandle.standardError.write(Data("registrations: \(error)\n".utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
}


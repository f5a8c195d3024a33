// The registrations service. `registrations` (or `registrations serve`) runs it; the other
// subcommands work on its store. Configuration comes from the environment (README.md).
import ArgumentParser
import Foundation
import Logging
import Messages
import RegistrationsCore
import ServiceCommand
import ServiceRuntime

@main
struct Registrations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registrations",
        abstract: "Validates, deduplicates and places delegation registrations.",
        subcommands: [
            Serve<RegistrationsExecutable>.self, Export.self, RotateKeys.self, Tokens<RegistrationsExecutable>.self,
            DocumentKeysCommand<RegistrationsExecutable>.self, DataKeysCommand.self,
            CheckConfig<RegistrationsExecutable>.self,
        ],
        defaultSubcommand: Serve<RegistrationsExecutable>.self)
}

/// The registrations service as an executable: `serve` and `check-config` come from
/// ServiceCommand.
enum RegistrationsExecutable: ServiceExecutable {
    static let name = "registrations"

    static func configuration(from environment: [String: String]) throws -> RegistrationsConfiguration {
        try RegistrationsConfiguration.fromEnvironment(environment)
    }

    static func service(_ configuration: RegistrationsConfiguration) -> ServiceConfiguration { configuration.service }

    static func documentKeys(_ configuration: RegistrationsConfiguration) -> DocumentKeys? { configuration.sealing.keys }

    static func openStore(_ configuration: RegistrationsConfiguration) throws -> ServiceStore {
        try ServiceStore(
            path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: RegistrationStore.migrate)
    }

    static func serve(_ configuration: RegistrationsConfiguration, logger: Logger) async throws {
        try await RegistrationsService.makeHost(configuration, logger: logger).run()
    }

    static func settings(_ configuration: RegistrationsConfiguration) -> [(String, String)] {
        [
            ("identity key", configuration.vault.currentKeyID), ("max delegates", "\(configuration.maxDelegates)"),
            ("cancel wait (s)", "\(configuration.cancellationWait)"), ("data key file", configuration.keyStorePath),
        ]
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write an event's registrations as CSV (no identity documents).")

    @Option(name: .long, help: "The event id.") var event: String
    @Option(name: .long, help: "Output file (default: standard output).") var out: String?

    func run() async throws {
        let configuration = try RegistrationsExecutable.loadConfiguration()
        let store = try RegistrationsExecutable.openStore(configuration)
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
        let configuration = try RegistrationsExecutable.loadConfiguration()
        let vault = configuration.vault
        let store = try RegistrationsExecutable.openStore(configuration)
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

struct DataKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-keys", abstract: "Each registration's data key (REGISTRATIONS_KEY_STORE_PATH).",
        subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Merge other key files into this instance's (re-sharding: every new shard takes the old shards' keys; \
                an erasure in any file wins). Run it while the instance is stopped.
                """)

        @Argument(help: "Key files of other instances (<store>.keys).") var files: [String]

        func run() async throws {
            let configuration = try RegistrationsExecutable.loadConfiguration()
            let keys = try DataKeyStore(path: configuration.keyStorePath)
            for file in files {
                let changed = try keys.importKeys(from: file)
                print("\(file): \(changed) key(s) added or erased in \(configuration.keyStorePath)")
            }
        }
    }
}

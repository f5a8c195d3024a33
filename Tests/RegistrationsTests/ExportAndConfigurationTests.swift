import Crypto
import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import RegistrationsCore

@Suite struct ExportAndConfigurationTests {
    // MARK: CSV of a store

    /// Splits RFC 4180 text into rows (quoted fields may hold commas, quotes and line breaks;
    /// a row ends only at CRLF).
    static func rows(_ csv: String) -> [[String]] {
        let scalars = Array(csv.unicodeScalars)
        var rows: [[String]] = []
        var row: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let next = index + 1 < scalars.count ? scalars[index + 1] : nil
            if quoted {
                if scalar == "\"" && next == "\"" {
                    field.append("\"")
                    index += 1
                } else if scalar == "\"" {
                    quoted = false
                } else {
                    field.append(scalar)
                }
            } else if scalar == "\"" {
                quoted = true
            } else if scalar == "," {
                row.append(String(field))
                field = String.UnicodeScalarView()
            } else if scalar == "\r" && next == "\n" {
                row.append(String(field))
                rows.append(row)
                (row, field) = ([], String.UnicodeScalarView())
                index += 1
            } else {
                field.append(scalar)
            }
            index += 1
        }
        if !row.isEmpty || !field.isEmpty { rows.append(row + [String(field)]) }
        return rows
    }

    static func record(
        _ id: String, eventID: String = "danang-2026-01", status: RegistrationRecord.Status, waitlist: Int64? = nil, createdHour: Int,
        delegation: Delegation
    ) -> RegistrationRecord {
        RegistrationRecord(
            registrationID: id, eventID: eventID, reference: "ref-\(id)", revision: 2, status: status, delegation: delegation,
            waitlistSequence: waitlist,
            correlationID: "corr-\(id)", createdAt: Samples.danang(day: 3, createdHour), updatedAt: Samples.danang(day: 4, createdHour))
    }

    @Test func csvOfAStoreListsTheEventsRegistrationsWithWaitlistPositionsAndNoIdentityDocuments() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("registrations-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ServiceStore(
            path: directory.appendingPathComponent("registrations.sqlite").path, migrations: RegistrationStore.migrate)

        var vietnamese =
            Samples.submission(reference: "vn", name: "Công ty TNHH Logistics Đà Nẵng, chi nhánh \"Sơn Trà\"").delegation
        vietnamese.organisation.localName = nil
        vietnamese.organisation.country = "VN"
        vietnamese.leadContact.name = "Nguyễn Thị Lan"
        vietnamese.leadContact.language = .vietnamese
        let chinese = Samples.submission(reference: "cn", delegates: 3, name: "Shenzhen Logistics Co.").delegation
        let second = Samples.submission(reference: "cn2", name: "Guangxi Trade Group").delegation
        let formula = Samples.submission(reference: "eq", name: "=HYPERLINK(\"http://evil.example\")").delegation
        let records = [
            Self.record("reg-1", status: .accepted, createdHour: 9, delegation: vietnamese),
            Self.record("reg-2", status: .waitlisted, waitlist: 9, createdHour: 10, delegation: chinese),
            Self.record("reg-3", status: .waitlisted, waitlist: 4, createdHour: 11, delegation: second),
            Self.record("reg-4", status: .cancelled, createdHour: 12, delegation: formula),
            Self.record("reg-9", eventID: "hanoi-2026-03", status: .accepted, createdHour: 8, delegation: second),
        ]
        let documentNumbers = records.flatMap { $0.delegation.delegates.compactMap(\.identityDocument?.number) }
        #expect(!documentNumbers.isEmpty)
        let vault = IdentityVault.ephemeral()

        try await store.database.write { db in
            try RegistrationStore.save(EventProgramme(Samples.programme()), in: db)
            for record in records {
                try RegistrationStore.save(record, in: db)
                let sealed = try vault.seal(record.delegation.delegates.map(\.identityDocument), registrationID: record.registrationID)
                try RegistrationStore.setIdentity(registrationID: record.registrationID, sealed, in: db)
            }
        }
        let csv = try await store.database.read { db in try RegistrationsExport.csv(eventID: "danang-2026-01", in: db) }

        #expect(csv.hasPrefix(RegistrationsExport.header.joined(separator: ",") + "\r\n"))
        #expect(csv.hasSuffix("\r\n"))
        let rows = Self.rows(csv)
        #expect(rows.first == RegistrationsExport.header)
        #expect(rows.allSatisfy { $0.count == RegistrationsExport.header.count })
        let table = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(RegistrationsExport.header, $0)) }
        #expect(table.map { $0["registration_id"] } == ["reg-1", "reg-2", "reg-3", "reg-4"])
        #expect(table.map { $0["status"] } == ["accepted", "waitlisted", "waitlisted", "cancelled"])
        // reg-3 joined the waiting list first (sequence 4 < 9), so it is next.
        #expect(table.map { $0["waitlist_position"] } == ["", "2", "1", ""])

        let first = try #require(table.first)
        #expect(first["organisation"] == "Công ty TNHH Logistics Đà Nẵng, chi nhánh \"Sơn Trà\"")
        #expect(first["country"] == "VN")
        #expect(first["lead_contact"] == "Nguyễn Thị Lan")
        #expect(first["lead_language"] == "vi")
        #expect(first["reference"] == "ref-reg-1")
        #expect(first["revision"] == "2")
        #expect(first["role"] == "visiting")
        #expect(first["delegates"] == "2")
        #expect(first["interpreters_needed"] == "1")
        #expect(first["preferred_visits"] == "lien-chieu-port")
        #expect(first["updated_at"] == MessageCoding.format(Samples.danang(day: 4, 9)))
        #expect(table[1]["local_name"] == "深圳物流有限公司")
        #expect(table[1]["delegates"] == "3")
        #expect(table[3]["organisation"] == "'=HYPERLINK(\"http://evil.example\")")

        for number in documentNumbers {
            #expect(!csv.contains(number), "identity document number \(number) is in the export")
        }
        #expect(!csv.localizedCaseInsensitiveContains("passport"))
        #expect(!csv.contains("1980-05-01"))
        #expect(!csv.contains("hanoi") && !csv.contains("reg-9"))
    }

    @Test func csvOfAnEventWithoutRegistrationsIsTheHeaderAlone() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("registrations-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ServiceStore(
            path: directory.appendingPathComponent("registrations.sqlite").path, migrations: RegistrationStore.migrate)
        let csv = try await store.database.read { db in try RegistrationsExport.csv(eventID: "danang-2026-01", in: db) }
        #expect(csv == RegistrationsExport.header.joined(separator: ",") + "\r\n")
    }

    // MARK: Configuration

    static let key2026 = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    static let key2025 = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()

    @Test func goodEnvironmentGivesItsSettings() throws {
        let configuration = try RegistrationsConfiguration.fromEnvironment([
            "REGISTRATIONS_STORE_PATH": "/var/lib/delegation/registrations.sqlite",
            "REGISTRATIONS_HTTP_PORT": "9181",
            "REGISTRATIONS_RETRY_DELAYS": "2,10,60",
            "REGISTRATIONS_NAME": "registrations-b",
            "REGISTRATIONS_IDENTITY_KEYS": "k2026:\(Self.key2026),k2025:\(Self.key2025)",
            "REGISTRATIONS_MAX_DELEGATES": "80",
            "AMQP_URL": "amqp://registrations:s3cret@broker.internal:5673/delegation",
            "LOG_LEVEL": "debug",
        ])
        #expect(configuration.service.storePath == "/var/lib/delegation/registrations.sqlite")
        #expect(configuration.service.httpPort == 9181)
        #expect(configuration.service.retryDelays == [2, 10, 60])
        #expect(configuration.service.serviceName == "registrations-b")
        #expect(configuration.service.names.inbox == "registrations-b.inbox")
        #expect(configuration.service.amqp.connectionName == "registrations-b")
        #expect(configuration.service.amqp.host == "broker.internal")
        #expect(configuration.service.amqp.port == 5673)
        #expect(configuration.service.amqp.user == "registrations")
        #expect(configuration.service.amqp.virtualHost == "delegation")
        #expect(configuration.service.logLevel == .debug)
        #expect(configuration.vault.currentKeyID == "k2026")
        #expect(configuration.maxDelegates == 80)
    }

    @Test func onlyTheIdentityKeysAreRequired() throws {
        let configuration = try RegistrationsConfiguration.fromEnvironment(["REGISTRATIONS_IDENTITY_KEYS": "k1:\(Self.key2026)"])
        #expect(configuration.service.serviceName == "registrations")
        #expect(configuration.service.storePath == "./registrations.sqlite")
        #expect(configuration.service.httpPort == RegistrationsConfiguration.defaultHTTPPort)
        #expect(configuration.service.retryDelays == [1, 5, 30, 120])
        #expect(configuration.service.logLevel == .info)
        #expect(configuration.vault.currentKeyID == "k1")
        #expect(configuration.maxDelegates == 50)
    }

    @Test func everyBadSettingIsListedInOneError() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try RegistrationsConfiguration.fromEnvironment([
                "REGISTRATIONS_HTTP_PORT": "abc",
                "REGISTRATIONS_RETRY_DELAYS": "1,-2",
                "LOG_LEVEL": "loud",
                "AMQP_URL": "http://x",
                "REGISTRATIONS_MAX_DELEGATES": "0",
            ])
        }
        let expected = [
            "REGISTRATIONS_HTTP_PORT", "REGISTRATIONS_RETRY_DELAYS", "LOG_LEVEL", "AMQP_URL", "REGISTRATIONS_IDENTITY_KEYS",
            "REGISTRATIONS_MAX_DELEGATES",
        ]
        #expect(error.problems.count == expected.count, "\(error)")
        for variable in expected {
            #expect(error.problems.filter { $0.contains(variable) }.count == 1, "\(variable) is not listed once in \(error)")
        }
        #expect(error.problems.contains { $0.contains("'abc'") })
        #expect(error.problems.contains { $0.contains("'1,-2'") })
        #expect(error.problems.contains { $0.contains("'loud'") })
        #expect(error.description.contains("6 problems"))
    }

    @Test func badIdentityKeysAreListedWithTheOtherProblemsWithoutEchoingTheKey() throws {
        let short = Data(repeating: 42, count: 16).base64EncodedString()
        let error = try #require(throws: ConfigurationError.self) {
            try RegistrationsConfiguration.fromEnvironment([
                "REGISTRATIONS_IDENTITY_KEYS": "k2026:\(short)",
                "REGISTRATIONS_HTTP_PORT": "70000",
                "AMQP_URL": "amqp://registrations:s3cret@broker.internal:notaport/",
            ])
        }
        #expect(error.problems.count == 3, "\(error)")
        #expect(error.problems.contains { $0.contains("REGISTRATIONS_IDENTITY_KEYS") && $0.contains("'k2026'") && $0.contains("32 bytes") })
        #expect(error.problems.contains { $0.contains("REGISTRATIONS_HTTP_PORT='70000'") })
        #expect(error.problems.contains { $0.contains("AMQP_URL") && $0.contains("notaport") })
        #expect(!error.description.contains(short))
        #expect(!error.description.contains("s3cret"))
    }

    @Test func secretsComeFromFilesAndSystemdCredentialsAsWellAsTheEnvironment() throws {
        let secrets = try TemporaryFolder("secrets")
        defer { withExtendedLifetime(secrets) {} }
        let folder = secrets.url
        let credentials = folder.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        let keyFile = folder.appendingPathComponent("identity-keys")
        try Data("k2026:\(Self.key2026)\n".utf8).write(to: keyFile)  // a final line break, as editors write
        try Data("amqp://registrations:s3cret@broker.internal:5672/delegation".utf8).write(
            to: credentials.appendingPathComponent("AMQP_URL"))

        // NAME_FILE, and a file named NAME in systemd's $CREDENTIALS_DIRECTORY.
        let configuration = try RegistrationsConfiguration.fromEnvironment([
            "REGISTRATIONS_IDENTITY_KEYS_FILE": keyFile.path, "CREDENTIALS_DIRECTORY": credentials.path,
        ])
        #expect(configuration.vault.currentKeyID == "k2026")
        #expect(configuration.service.amqp.password == "s3cret" && configuration.service.amqp.host == "broker.internal")

        // Given twice, or a file that cannot be read: a problem naming the setting, never a value.
        let error = try #require(throws: ConfigurationError.self) {
            try RegistrationsConfiguration.fromEnvironment([
                "REGISTRATIONS_IDENTITY_KEYS": "k1:\(Self.key2026)", "REGISTRATIONS_IDENTITY_KEYS_FILE": keyFile.path,
                "CREDENTIALS_DIRECTORY": credentials.path, "AMQP_URL": "amqp://guest:guest@127.0.0.1/",
                "REGISTRATIONS_STORE_PATH_FILE": folder.appendingPathComponent("missing").path,
            ])
        }
        #expect(error.problems.count == 3, "\(error)")
        #expect(error.problems.contains { $0.contains("REGISTRATIONS_IDENTITY_KEYS and REGISTRATIONS_IDENTITY_KEYS_FILE are both set") })
        #expect(error.problems.contains { $0.contains("AMQP_URL is set and is also a credential") })
        #expect(error.problems.contains { $0.contains("REGISTRATIONS_STORE_PATH_FILE: cannot read") })
        #expect(!error.description.contains(Self.key2026) && !error.description.contains("s3cret"))
    }
}

import Foundation
import GRDB
import Messages

/// What a service knows of a registration's data key (`DataKey`, contract 1.3).
public enum DataKeyState: Sendable, Equatable {
    case key(DataKey)
    /// The registration was erased: its sealed fields read as erased.
    case erased
    /// No `registration.data-key` has come yet.
    case unknown
}

/// A service that reads messages whose personal fields are sealed (`CarriesPersonalData`): its
/// routes of those types get them opened. By default the keys are the store's `data_keys` table,
/// which `registration.data-key` and erasure write (`DataKeys`).
public protocol OpensPersonalData: Sendable {
    func dataKey(_ registrationID: String, in db: Database) throws -> DataKeyState
}

extension OpensPersonalData {
    public func dataKey(_ registrationID: String, in db: Database) throws -> DataKeyState {
        try DataKeys.state(registrationID, in: db)
    }

    /// `payload` with its sealed fields opened. A key not received yet is worth waiting for
    /// (transient: the message comes back after the retry delay); a part that does not open
    /// with the key never will (permanent).
    public func opened<Payload: CarriesPersonalData>(_ payload: Payload, in db: Database) throws -> Payload {
        guard payload.sealedPersonalData != nil, let id = payload.dataKeyID else { return payload }
        let key: DataKey?
        switch try dataKey(id, in: db) {
        case .key(let found): key = found
        case .erased: key = nil
        case .unknown:
            throw HandlerFailure.transient("no data key for registration \(id) yet (registration.data-key has not arrived)")
        }
        do {
            return try payload.opened(with: key)
        } catch {
            throw HandlerFailure.permanent("the personal data of registration \(id) \(error)")
        }
    }
}

/// The data keys a consuming service holds, one row per registration in its store; a row without
/// a key is a registration erased (so that a replayed message reads as erased instead of waiting
/// for a key that will never come).
public enum DataKeys {
    static func registerMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-8") { db in
            try db.execute(
                sql: """
                    CREATE TABLE data_keys (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        key BLOB
                    )
                    """)
        }
    }

    public static func state(_ registrationID: String, in db: Database) throws -> DataKeyState {
        guard let row = try Row.fetchOne(db, sql: "SELECT key FROM data_keys WHERE registration_id = ?", arguments: [registrationID]) else {
            return .unknown
        }
        guard let bytes = row[0] as Data?, let key = DataKey(bytes: bytes) else { return .erased }
        return .key(key)
    }

    /// Keeps the key of `registration.data-key`; one without a key, or for a registration erased
    /// here already, leaves none.
    public static func save(_ message: RegistrationDataKey, in db: Database) throws {
        guard let text = message.key else {
            return try forget(registrationID: message.registrationID, eventID: message.eventID, in: db)
        }
        guard let key = DataKey(base64: text) else {
            throw HandlerFailure.permanent("the data key of registration \(message.registrationID) is not 32 bytes of base64")
        }
        try db.execute(
            sql: """
                INSERT INTO data_keys (registration_id, event_id, key) VALUES (?, ?, ?)
                ON CONFLICT (registration_id) DO UPDATE SET key = excluded.key WHERE data_keys.key IS NOT NULL
                """, arguments: [message.registrationID, message.eventID, key.bytes])
    }

    /// Erasure: the key is gone for good (a key sent again later is not kept).
    public static func forget(registrationID: String, eventID: String, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO data_keys (registration_id, event_id, key) VALUES (?, ?, NULL)
                ON CONFLICT (registration_id) DO UPDATE SET key = NULL
                """, arguments: [registrationID, eventID])
    }
}

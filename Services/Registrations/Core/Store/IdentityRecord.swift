import Foundation
import GRDB
import ServiceRuntime

/// A registration's identity documents, sealed (table `registration_identities`): the key they
/// are sealed under and the ciphertext. Removed with the need for them (a cancellation).
struct IdentityRecord: StoreRecord {
    static let databaseTableName = "registration_identities"

    var registrationID: String
    var keyID: String
    var ciphertext: Data

    enum CodingKeys: String, CodingKey {
        case registrationID = "registration_id", keyID = "key_id", ciphertext
    }
}

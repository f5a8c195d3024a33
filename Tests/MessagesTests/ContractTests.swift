import Foundation
import TestSupport
import Testing

@testable import Messages

/// The published contracts in `docs/contracts` (an example and a JSON Schema per message type)
/// against the Swift types: examples decode and round-trip, examples and Swift output satisfy
/// the schemas, and the schemas neither miss a field nor require one the decoder does not.
@Suite("Message contracts")
struct ContractTests {
    // MARK: Examples

    @Test("every example decodes as its type", arguments: MessageType.allCases)
    func exampleDecodes(_ messageType: MessageType) throws {
        let payload = try decodePayload(messageType, from: Contracts.example(messageType))
        #expect(type(of: payload).messageType == messageType)
    }

    @Test("every example survives decode, encode, decode unchanged", arguments: MessageType.allCases)
    func exampleRoundTrips(_ messageType: MessageType) throws {
        let first = try decodePayload(messageType, from: Contracts.example(messageType))
        let encoded = try MessageCoding.encode(first)
        let second = try decodePayload(messageType, from: encoded)
        #expect(isEqual(first, second))
        #expect(try MessageCoding.encode(second) == encoded, "encoding is not deterministic")
    }

    @Test("every example, and what Swift writes back, satisfies the schema", arguments: MessageType.allCases)
    func exampleAndReencodingMatchSchema(_ messageType: MessageType) async throws {
        let reencoded = try MessageCoding.encode(decodePayload(messageType, from: Contracts.example(messageType)))
        try await withTemporaryFile(reencoded) { reencodedFile in
            let errors = try await SchemaValidator.errors(
                schema: Contracts.schemaURL(messageType), instances: [Contracts.exampleURL(messageType).path, reencodedFile])
            #expect(errors.isEmpty, "\(errors.joined(separator: "\n"))")
        }
    }

    // MARK: Drift between the Swift types and the schemas

    @Test("a fully populated value satisfies the schema (no field missing from the schema)", arguments: MessageType.allCases)
    func fullValueMatchesSchema(_ messageType: MessageType) async throws {
        let value = Fixtures.full(messageType)
        #expect(type(of: value).messageType == messageType)
        let gaps = Population(of: value).unset
        #expect(gaps.isEmpty, "Fixtures.full leaves these unset, so the schema is not checked for them: \(gaps)")
        let errors = try await validate(MessageCoding.encode(value), against: messageType)
        #expect(errors.isEmpty, "\(errors.joined(separator: "\n"))")
    }

    @Test("the schema's required lists name only keys a minimal value writes", arguments: MessageType.allCases)
    func minimalValueHasEveryRequiredKey(_ messageType: MessageType) async throws {
        let value = Fixtures.minimal(messageType)
        #expect(type(of: value).messageType == messageType)
        let set = Population(of: value).setOptionals
        #expect(set.isEmpty, "Fixtures.minimal sets optionals: \(set)")
        let encoded = try MessageCoding.encode(value)
        var absent: [String] = []
        SchemaWalk(schema: try Contracts.schema(messageType)).visitObjects(in: try JSONValue(decoding: encoded)) { object in
            absent += object.required.filter { object.members[$0] == nil }.map { object.path($0) }
        }
        #expect(absent.isEmpty, "required by the schema but not written by a minimal \(messageType.payloadType): \(absent)")
        let errors = try await validate(encoded, against: messageType)
        #expect(errors.isEmpty, "\(errors.joined(separator: "\n"))")
    }

    /// Removes each key of a fully populated value in turn: a key the schema requires must make
    /// the decoder fail with that key's path, any other key must be optional to the decoder.
    @Test("each schema's required list is exactly what the decoder requires", arguments: MessageType.allCases)
    func requiredMatchesDecoder(_ messageType: MessageType) throws {
        let full = try JSONValue(decoding: MessageCoding.encode(Fixtures.full(messageType)))
        var unknownToType: [String] = []
        var removals: [(path: String, required: Bool, body: JSONValue)] = []
        SchemaWalk(schema: try Contracts.schema(messageType)).visitObjects(in: full) { object in
            unknownToType += object.properties.keys.filter { object.members[$0] == nil }.map { object.path($0) }
            for key in object.members.keys.sorted() {
                var without = object.members
                without[key] = nil
                removals.append((object.path(key), object.required.contains(key), object.replacing(.object(without))))
            }
        }
        #expect(unknownToType.isEmpty, "in the schema but not written by a fully populated \(messageType.payloadType): \(unknownToType)")
        #expect(removals.count >= 3)
        for removal in removals {
            let body = try removal.body.encoded()
            if removal.required {
                do {
                    _ = try decodePayload(messageType, from: body)
                    Issue.record("the schema requires \(removal.path), but \(messageType.payloadType) decodes without it")
                } catch {
                    #expect(error.path == removal.path && error.reason == "is required", "without \(removal.path): \(error)")
                }
            } else {
                do {
                    _ = try decodePayload(messageType, from: body)
                } catch {
                    Issue.record("the schema does not require \(removal.path), but \(messageType.payloadType) does: \(error)")
                }
            }
        }
    }

    @Test("schemas are self-contained and document every property", arguments: MessageType.allCases)
    func schemaIsWellFormed(_ messageType: MessageType) throws {
        let schema = try Contracts.schema(messageType)
        #expect(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["$id"] == .string("https://delegation.example/contracts/\(messageType.rawValue).schema.json"))
        #expect(schema["title"]?.string?.hasPrefix(messageType.rawValue) == true)
        #expect(schema["description"]?.string?.isEmpty == false)
        let definitions = schema["$defs"]?.object ?? [:]
        var problems: [String] = []
        var referenced: Set<String> = []
        for (name, definition) in definitions where definition["title"]?.string == nil || definition["description"]?.string == nil {
            problems.append("$defs/\(name) has no title or description")
        }
        func check(_ node: JSONValue, at location: String) {
            switch node {
            case .object(let members):
                if let reference = members["$ref"]?.string {
                    let name = reference.replacingOccurrences(of: "#/$defs/", with: "")
                    referenced.insert(name)
                    if !reference.hasPrefix("#/$defs/") || definitions[name] == nil {
                        problems.append("\(location): $ref \(reference) is not in this file")
                    }
                }
                if let properties = members["properties"]?.object {
                    if members["additionalProperties"] != .bool(false) { problems.append("\(location): additionalProperties is not false") }
                    if members["type"] != "object" { problems.append("\(location): has properties but is not of type object") }
                    for (name, property) in properties where property["description"]?.string?.isEmpty != false {
                        problems.append("\(location)/properties/\(name) has no description")
                    }
                    for name in members["required"]?.array?.compactMap(\.string) ?? [] where properties[name] == nil {
                        problems.append("\(location): requires \(name), which is not a property")
                    }
                }
                for (key, value) in members { check(value, at: "\(location)/\(key)") }
            case .array(let elements):
                for (index, element) in elements.enumerated() { check(element, at: "\(location)/\(index)") }
            default:
                break
            }
        }
        check(schema, at: "#")
        for unused in Set(definitions.keys).subtracting(referenced) { problems.append("$defs/\(unused) is never used") }
        #expect(problems.isEmpty, "\(problems.sorted().joined(separator: "\n"))")
    }

    @Test("schema enums are the Swift enums' raw values", arguments: MessageType.allCases)
    func schemaEnumsMatchSwift(_ messageType: MessageType) throws {
        let definitions = try Contracts.schema(messageType)["$defs"]?.object ?? [:]
        for (name, definition) in definitions {
            guard let values = definition["enum"]?.array?.compactMap(\.string) else { continue }
            guard let swiftEnum = SwiftEnum.all[name] else {
                Issue.record("$defs/\(name) is an enum that SwiftEnum.all does not map to a Swift type")
                continue
            }
            for value in values { #expect(swiftEnum.decodes(value), "\(name): '\(value)' does not decode") }
            #expect(!swiftEnum.decodes("not-a-case"))
            if let cases = swiftEnum.allRawValues {
                #expect(Set(values) == Set(cases), "\(name): the schema has \(values.sorted()), Swift has \(cases.sorted())")
            }
        }
    }

    @Test("the contracts README links every example and schema")
    func readmeLinksEveryContract() throws {
        let readme = try String(contentsOf: Contracts.directory.appendingPathComponent("README.md"), encoding: .utf8)
        for messageType in MessageType.allCases {
            #expect(readme.contains("(\(messageType.rawValue).example.json)"), "no link to \(messageType.rawValue).example.json")
            #expect(readme.contains("(\(messageType.rawValue).schema.json)"), "no link to \(messageType.rawValue).schema.json")
        }
    }

    // MARK: Decoding behaviour the contract promises

    @Test("unknown fields are ignored, at the top level and nested")
    func unknownFieldsAreIgnored() throws {
        let data = try Contracts.example(.registrationSubmitted)
        var document = try JSONValue(decoding: data)
        document["unexpected"] = 1
        document["organisation"]?["unexpected"] = 1
        document["delegates"]?[0]["identityDocument"]?["unexpected"] = .object(["nested": "value"])
        let original = try JSONValue(decoding: data)
        #expect(document != original)
        let plain = try MessageCoding.decode(RegistrationSubmitted.self, from: data)
        let extended = try MessageCoding.decode(RegistrationSubmitted.self, from: document.encoded())
        #expect(extended == plain)
    }

    @Test("null reads as absent for optional and defaulted fields")
    func nullMeansAbsent() throws {
        var document = try JSONValue(decoding: Contracts.example(.registrationSubmitted))
        document["submittedAt"] = .null
        document["revision"] = .null
        document["interests"] = .null
        document["delegates"]?[0]["title"] = .null
        document["delegates"]?[0]["needsInterpreter"] = .null
        let decoded = try MessageCoding.decode(RegistrationSubmitted.self, from: document.encoded())
        #expect(decoded.submittedAt == nil)
        #expect(decoded.revision == 1)
        #expect(decoded.interests == Interests())
        #expect(decoded.delegates[0].title == nil)
        #expect(decoded.delegates[0].needsInterpreter == false)
    }

    @Test("schema-version headers of major version 1 (or none) are accepted", arguments: [nil, "1", "1.0", "1.7", "1.8"] as [String?])
    func acceptedSchemaVersion(_ header: String?) {
        #expect(SchemaVersion.problem(with: header) == nil)
    }

    @Test("other schema-version headers get a reason that names them", arguments: ["2.0", "0.9", "abc"])
    func rejectedSchemaVersion(_ header: String) throws {
        let reason = try #require(SchemaVersion.problem(with: header))
        #expect(reason.contains(header))
        #expect(reason.contains("schema-version"))
    }

    @Test("a wrong enum value deep in the body is reported with its path")
    func wrongLanguageNamesTheField() throws {
        var document = try JSONValue(decoding: Contracts.example(.registrationSubmitted))
        document["delegates"]?[1]["language"] = "fr"
        let body = try document.encoded()
        let error = try #require(throws: MessageDecodingError.self) { try MessageCoding.decode(RegistrationSubmitted.self, from: body) }
        #expect(error.path == "delegates[1].language")
        #expect(error.reason.contains("fr"))
        #expect(error.description.hasPrefix("delegates[1].language "))
    }

    @Test("a missing required field is reported as required")
    func missingEventIDIsRequired() throws {
        var document = try JSONValue(decoding: Contracts.example(.registrationSubmitted))
        document["eventID"] = nil
        let body = try document.encoded()
        let error = try #require(throws: MessageDecodingError.self) { try MessageCoding.decode(RegistrationSubmitted.self, from: body) }
        #expect(error.path == "eventID")
        #expect(error.reason.contains("required"))
    }

    @Test("a body that is not JSON says so")
    func nonJSONBody() throws {
        let body = Data("eventID=danang-china-2026-01&reference=nic-form-2026-0042".utf8)
        let error = try #require(throws: MessageDecodingError.self) { try MessageCoding.decode(RegistrationSubmitted.self, from: body) }
        #expect(error.path == "")
        #expect(error.reason.contains("not valid JSON"))
    }

    // MARK: Helpers

    private func validate(_ json: Data, against messageType: MessageType) async throws -> [String] {
        try await withTemporaryFile(json) { file in
            try await SchemaValidator.errors(schema: Contracts.schemaURL(messageType), instances: [file])
        }
    }
}

/// Where the contracts live.
enum Contracts {
    static let directory = URL(fileURLWithPath: TestBroker.root).appendingPathComponent("docs/contracts")

    static func exampleURL(_ type: MessageType) -> URL { directory.appendingPathComponent("\(type.rawValue).example.json") }
    static func schemaURL(_ type: MessageType) -> URL { directory.appendingPathComponent("\(type.rawValue).schema.json") }

    static func example(_ type: MessageType) throws -> Data { try Data(contentsOf: exampleURL(type)) }
    static func schema(_ type: MessageType) throws -> JSONValue { try JSONValue(decoding: Data(contentsOf: schemaURL(type))) }
}

/// Decodes `data` as the payload type of `type` (opens the existential `any MessagePayload.Type`).
func decodePayload(_ type: MessageType, from data: Data) throws(MessageDecodingError) -> any MessagePayload {
    func decode<Payload: MessagePayload>(_: Payload.Type) throws(MessageDecodingError) -> any MessagePayload {
        try MessageCoding.decode(Payload.self, from: data)
    }
    return try decode(type.payloadType)
}

func isEqual(_ lhs: any MessagePayload, _ rhs: any MessagePayload) -> Bool {
    func compare<Payload: MessagePayload>(_ lhs: Payload) -> Bool { (rhs as? Payload) == lhs }
    return compare(lhs)
}

func withTemporaryFile<T>(_ contents: Data, _ body: (String) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString).json")
    try contents.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

/// Validates JSON files against a schema with Python's `jsonschema` (Draft 2020-12, formats checked).
enum SchemaValidator {
    /// Exit status: 0 valid, 1 an instance has errors (one line each), 2 the schema is invalid,
    /// 3 no `jsonschema` module.
    static let script = #"""
        import datetime, json, re, sys
        try:
            from jsonschema import Draft202012Validator, FormatChecker
            from jsonschema.exceptions import SchemaError
        except ImportError:
            print("this python3 has no jsonschema: pip install jsonschema (or apt-get install python3-jsonschema)")
            sys.exit(3)
        checker = FormatChecker()
        if "date-time" not in checker.checkers:  # jsonschema checks it only when rfc3339-validator is installed
            RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
            @checker.checks("date-time", raises=ValueError)
            def is_date_time(value):
                if not isinstance(value, str):
                    return True
                if not RFC3339.match(value):
                    return False
                datetime.datetime.fromisoformat(re.sub("Z$", "+00:00", value.upper()))
                return True
        with open(sys.argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            print(f"{sys.argv[1]} is not a valid Draft 2020-12 schema: {error.message}")
            sys.exit(2)
        validator = Draft202012Validator(schema, format_checker=checker)
        failed = False
        for path in sys.argv[2:]:
            with open(path, encoding="utf-8") as f:
                instance = json.load(f)
            for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
                where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
                print(f"{path}: {where}: {error.message}")
                failed = True
        sys.exit(1 if failed else 0)
        """#

    struct Interpreter: Sendable {
        var executable: String
        var arguments: [String]
    }

    struct Unavailable: Error, CustomStringConvertible {
        var attempts: [String]
        var description: String {
            "no python3 with the jsonschema package (pip install jsonschema, or apt-get install python3-jsonschema): "
                + "\(attempts.joined(separator: "; "))"
        }
    }

    /// The first python3 that has `jsonschema`: the one on PATH, else Debian's.
    static let interpreter = Task<Interpreter, any Error> {
        var attempts: [String] = []
        for candidate in [
            Interpreter(executable: "/usr/bin/env", arguments: ["python3"]), Interpreter(executable: "/usr/bin/python3", arguments: []),
        ] {
            do {
                _ = try await TestBroker.run(candidate.executable, candidate.arguments + ["-c", "import jsonschema"])
                return candidate
            } catch {
                attempts.append("\(([candidate.executable] + candidate.arguments).joined(separator: " ")): \(error)")
            }
        }
        throw Unavailable(attempts: attempts)
    }

    /// Every error in `instances` (file paths), one line each with its JSON path; empty if all are valid.
    static func errors(schema: URL, instances: [String]) async throws -> [String] {
        let python = try await interpreter.value
        do {
            _ = try await TestBroker.run(python.executable, python.arguments + ["-c", script, schema.path] + instances)
            return []
        } catch let failure as TestBroker.CommandFailed where failure.status == 1 {
            let lines = failure.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            return lines.isEmpty ? ["validation failed without output"] : lines
        }
    }
}

/// Walks an instance together with its schema (following `#/$defs/…` references) and calls
/// back for every object the schema describes with `properties`.
struct SchemaWalk {
    let schema: JSONValue

    struct Object {
        /// Path of the object in the message, as `MessageDecodingError` writes it (`delegates[0]`).
        var location: String
        var members: [String: JSONValue]
        var properties: [String: JSONValue]
        var required: [String]
        /// The whole message with this object replaced.
        var replacing: (JSONValue) -> JSONValue

        func path(_ key: String) -> String { location.isEmpty ? key : "\(location).\(key)" }
    }

    func visitObjects(in instance: JSONValue, _ visit: (Object) -> Void) {
        walk(instance, schema, location: "", replacing: { $0 }, visit)
    }

    private func resolve(_ node: JSONValue) -> JSONValue {
        guard let reference = node["$ref"]?.string, reference.hasPrefix("#/$defs/") else { return node }
        return schema["$defs"]?[String(reference.dropFirst("#/$defs/".count))] ?? .null
    }

    private func walk(
        _ instance: JSONValue, _ node: JSONValue, location: String, replacing: @escaping (JSONValue) -> JSONValue, _ visit: (Object) -> Void
    ) {
        let node = resolve(node)
        switch instance {
        case .object(let members):
            guard let properties = node["properties"]?.object else { return }
            let object = Object(
                location: location, members: members, properties: properties,
                required: node["required"]?.array?.compactMap(\.string) ?? [], replacing: replacing
            )
            visit(object)
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                guard let property = properties[key] else { continue }
                walk(
                    value, property, location: object.path(key),
                    replacing: { new in
                        var changed = members
                        changed[key] = new
                        return replacing(.object(changed))
                    }, visit)
            }
        case .array(let elements):
            guard let items = node["items"] else { return }
            for (index, element) in elements.enumerated() {
                walk(
                    element, items, location: "\(location)[\(index)]",
                    replacing: { new in
                        var changed = elements
                        changed[index] = new
                        return replacing(.array(changed))
                    }, visit)
            }
        default:
            return
        }
    }
}

/// Which optionals a value leaves nil and sets, and which of its collections are empty (by reflection).
struct Population {
    var unset: [String] = []
    var setOptionals: [String] = []

    init(of value: Any) { inspect(value, path: "") }

    private mutating func inspect(_ value: Any, path: String) {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first?.value {
                setOptionals.append(path)
                inspect(wrapped, path: path)
            } else {
                unset.append("\(path) (nil)")
            }
        case .collection, .set, .dictionary:
            if mirror.children.isEmpty { unset.append("\(path) (empty)") }
            for (index, child) in mirror.children.enumerated() { inspect(child.value, path: "\(path)[\(index)]") }
        case .struct, .class:
            for child in mirror.children {
                let label = child.label ?? "?"
                inspect(child.value, path: path.isEmpty ? label : "\(path).\(label)")
            }
        default:
            break
        }
    }
}

/// A Swift enum of the message types, as the enum tests see it.
struct SwiftEnum: Sendable {
    var decodes: @Sendable (String) -> Bool
    /// Every raw value, for enums that are `CaseIterable`.
    var allRawValues: [String]?

    init<E: Decodable & Sendable & RawRepresentable>(_: E.Type) where E.RawValue == String {
        decodes = Self.decoder(E.self)
        allRawValues = nil
    }

    init<E: Decodable & Sendable & RawRepresentable & CaseIterable>(_: E.Type) where E.RawValue == String {
        decodes = Self.decoder(E.self)
        allRawValues = E.allCases.map(\.rawValue)
    }

    private static func decoder<E: Decodable & Sendable>(_: E.Type) -> @Sendable (String) -> Bool {
        { value in (try? JSONDecoder().decode(E.self, from: Data("\"\(value)\"".utf8))) != nil }
    }

    /// Schema `$defs` name → Swift enum.
    static let all: [String: SwiftEnum] = [
        "Language": SwiftEnum(Language.self),
        "DelegationRole": SwiftEnum(DelegationRole.self),
        "IdentityDocumentKind": SwiftEnum(IdentityDocument.Kind.self),
        "ItineraryItemKind": SwiftEnum(ItineraryItem.Kind.self),
        "UnmetPreferenceReason": SwiftEnum(UnmetPreference.Reason.self),
        "ItineraryChangeKind": SwiftEnum(ItineraryChange.Kind.self),
        "NotificationKind": SwiftEnum(NotificationKind.self),
    ]
}

/// Any JSON value, for editing bodies and reading schemas.
enum JSONValue: Codable, Hashable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(decoding data: Data) throws { self = try JSONDecoder().decode(JSONValue.self, from: data) }
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .integer(value) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }

    /// A member of an object (nil for other values); setting nil removes it.
    subscript(key: String) -> JSONValue? {
        get { object?[key] }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// An element of an array (`.null` when out of range or not an array).
    subscript(index: Int) -> JSONValue {
        get { array.flatMap { $0.indices.contains(index) ? $0[index] : nil } ?? .null }
        set {
            guard case .array(var elements) = self, elements.indices.contains(index) else { return }
            elements[index] = newValue
            self = .array(elements)
        }
    }
}

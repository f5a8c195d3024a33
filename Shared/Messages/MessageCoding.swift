import Foundation

/// JSON as every message body is written: ISO-8601 times (`2026-01-13T14:00:00+07:00` and
/// `…Z` both read; written in UTC, with milliseconds when there are any).
public enum MessageCoding {
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "'\(text)' is not an ISO-8601 date-time with a time zone (e.g. 2026-01-13T14:00:00+07:00)")
            }
            return date
        }
        return decoder
    }

    /// One encoder and one decoder for all (they keep no state between calls, and are safe to
    /// share between threads): making one per value cost a few allocations each time.
    public static let encoder = makeEncoder()
    public static let decoder = makeDecoder()

    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try encoder.encode(value)
    }

    /// `value` as JSON text, as stores keep it in a column.
    public static func encodeText<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// A value from JSON text (a store's column, written by `encodeText`).
    public static func decode<T: Decodable>(_ type: T.Type, fromText text: String) throws(MessageDecodingError) -> T {
        try decodeTrusted(type, from: Data(text.utf8))
    }

    /// Decodes a body; the error says which field is wrong and how. A body that repeats a key
    /// in one object is refused: parsers disagree on which value counts.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(MessageDecodingError) -> T {
        if let path = DuplicateKeys.first(in: data) {
            throw MessageDecodingError(
                path: path, reason: "is given twice in one object; which value was meant is ambiguous, so the body is refused",
                code: "duplicate_key")
        }
        return try decodeTrusted(type, from: data)
    }

    private static func decodeTrusted<T: Decodable>(_ type: T.Type, from data: Data) throws(MessageDecodingError) -> T {
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw MessageDecodingError(error)
        } catch {
            throw MessageDecodingError(path: "", reason: "\(error)", code: "invalid_json")
        }
    }

    /// `2026-01-13T07:00:00Z`, or `…07:00:00.250Z` with milliseconds.
    public static func format(_ date: Date) -> String {
        RFC3339.format(date, milliseconds: RFC3339.hasFraction(date))
    }

    /// `2026-01-13T07:00:00.000Z`: always with milliseconds, so that text order is time order
    /// (for database columns that are compared or sorted).
    public static func formatSortable(_ date: Date) -> String {
        RFC3339.format(date, milliseconds: true)
    }

    /// Reads an RFC 3339 date-time; one without an offset (`Z` or `±hh:mm`) is not a time at all,
    /// since it could be in any zone.
    public static func parse(_ text: String) -> Date? {
        RFC3339.parse(text)
    }
}

/// A body that does not decode as its type: which field (`delegates[1].language`) and why.
public struct MessageDecodingError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    /// A stable code, as validation issues have: `required`, `invalid_type`, `invalid_value`,
    /// `invalid_json`, `duplicate_key`.
    public var code: String

    public init(path: String, reason: String, code: String = "invalid_value") {
        self.path = path
        self.reason = reason
        self.code = code
    }

    init(_ error: DecodingError) {
        func render(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            path = render(context.codingPath + [key])
            reason = "is required"
            code = "required"
        case .typeMismatch(let type, let context):
            path = render(context.codingPath)
            reason = "has the wrong type (expected \(Self.name(of: type)))"
            code = "invalid_type"
        case .valueNotFound(let type, let context):
            path = render(context.codingPath)
            reason = "must not be null (expected \(Self.name(of: type)))"
            code = "required"
        case .dataCorrupted(let context):
            path = render(context.codingPath)
            reason = context.codingPath.isEmpty ? "is not valid JSON" : context.debugDescription
            code = context.codingPath.isEmpty ? "invalid_json" : "invalid_value"
        @unknown default:
            path = ""
            reason = "\(error)"
            code = "invalid_value"
        }
    }

    /// `a string`, `a number`, … for the JSON type a Swift type is written as.
    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type, is Int64.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is [Any].Type: return "an array"
        case is [String: Any].Type: return "an object"
        default: return "\(type)"
        }
    }

    public var description: String { path.isEmpty ? "body \(reason)" : "\(path) \(reason)" }
}

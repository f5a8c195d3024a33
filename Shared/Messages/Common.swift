import Foundation

/// The three languages people in a delegation speak here.
public enum Language: String, Sendable, Codable, CaseIterable, Hashable {
    case vietnamese = "vi"
    case chineseSimplified = "zh-Hans"
    case english = "en"

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let code = try container.decode(String.self)
        guard let language = Language(rawValue: code) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "'\(code)' is not a supported language (\(Language.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = language
    }
}

/// Text in several languages, keyed by language code (`vi`, `zh-Hans`, `en`).
public struct LocalizedText: Sendable, Codable, Hashable {
    public var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }
    public init(en: String, vi: String? = nil, zhHans: String? = nil) {
        var values = ["en": en]
        values["vi"] = vi
        values["zh-Hans"] = zhHans
        self.values = values
    }

    /// The text in `language`, else English, else any.
    public func text(in language: Language) -> String {
        values[language.rawValue] ?? values["en"] ?? values.values.sorted().first ?? ""
    }

    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }
}

/// A point on the map (WGS 84).
public struct Coordinates: Sendable, Codable, Hashable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    /// The great-circle distance between two points, in kilometres.
    public static func haversineKm(_ a: Coordinates, _ b: Coordinates) -> Double {
        let radius = 6371.0
        let (lat1, lat2) = (a.latitude * .pi / 180, b.latitude * .pi / 180)
        let dLat = lat2 - lat1, dLon = (b.longitude - a.longitude) * .pi / 180
        let h = sin(dLat / 2) * sin(dLat / 2) + cos(lat1) * cos(lat2) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * radius * asin(min(1, sqrt(h)))
    }
}

/// A span of time.
public struct TimeWindow: Sendable, Codable, Hashable {
    public var start: Date
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }
}

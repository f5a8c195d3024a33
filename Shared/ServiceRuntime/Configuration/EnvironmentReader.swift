import Foundation

/// Reads settings from the environment, collecting every problem instead of stopping at the
/// first, so that a misconfigured service says everything that is wrong in one error.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]
    public private(set) var problems: [String] = []

    public init(_ values: [String: String]) { self.values = values }

    public mutating func string(_ key: String, default value: String) -> String {
        guard let text = values[key], !text.isEmpty else { return value }
        return text
    }

    public mutating func optionalString(_ key: String) -> String? {
        guard let text = values[key], !text.isEmpty else { return nil }
        return text
    }

    public mutating func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = values[key], !text.isEmpty else { return value }
        guard let number = Int(text), range.contains(number) else {
            problems.append("\(key)='\(text)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return value
        }
        return number
    }

    public mutating func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) -> Double {
        guard let text = values[key], !text.isEmpty else { return value }
        guard let number = Double(text), range.contains(number) else {
            problems.append("\(key)='\(text)' must be a number of seconds from \(range.lowerBound) to \(range.upperBound)")
            return value
        }
        return number
    }

    /// A comma-separated list of durations in seconds, e.g. `1,5,30`.
    public mutating func secondsList(_ key: String, default value: [Double]) -> [Double] {
        guard let text = values[key], !text.isEmpty else { return value }
        let parts = text.split(separator: ",").map { Double(String($0).trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) > 0 }) else {
            problems.append("\(key)='\(text)' must be a comma-separated list of positive seconds, e.g. 1,5,30")
            return value
        }
        return parts.compactMap { $0 }
    }

    public mutating func boolean(_ key: String, default value: Bool) -> Bool {
        guard let text = values[key]?.lowercased(), !text.isEmpty else { return value }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            problems.append("\(key)='\(text)' must be true or false")
            return value
        }
    }

    public mutating func choice<T: RawRepresentable>(_ key: String, default value: T, from choices: [T]) -> T where T.RawValue == String {
        guard let text = values[key], !text.isEmpty else { return value }
        guard let choice = T(rawValue: text.lowercased()), choices.contains(where: { $0.rawValue == choice.rawValue }) else {
            problems.append("\(key)='\(text)' must be one of \(choices.map(\.rawValue).joined(separator: ", "))")
            return value
        }
        return choice
    }

    /// Records a problem found by the caller's own checks.
    public mutating func problem(_ text: String) { problems.append(text) }

    /// The identity-document keys in `key` (`id:base64[,id:base64…]`, current first), required:
    /// nil, with the problem noted, when missing or invalid.
    public mutating func identityVault(_ key: String) -> IdentityVault? {
        guard let spec = optionalString(key) else {
            problem("\(key) is required: the AES-256 key(s) sealing identity documents, e.g. k1:$(openssl rand -base64 32)")
            return nil
        }
        do {
            return try IdentityVault(spec: spec)
        } catch {
            problem("\(key): \(error)")
            return nil
        }
    }

    /// Throws one error listing every problem, if there were any.
    public func validate() throws(ConfigurationError) {
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
    }
}

/// Every invalid setting, one per line.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String {
        "invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

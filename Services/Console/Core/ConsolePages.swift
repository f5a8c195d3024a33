import Foundation
import Messages
import Mustache

/// The pages' templates and their words in each language, loaded once at start from the assets
/// folder (`templates/*.mustache`, `strings/<language>.json`). A template that does not parse,
/// or a language missing a word English has, stops the console at start.
public struct ConsolePages: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case invalidTemplate(String, String)
        case strings(String, String)
        case noTemplate(String)

        public var description: String {
            switch self {
            case .invalidTemplate(let file, let reason): return "template \(file) is not valid Mustache: \(reason)"
            case .strings(let file, let reason): return "\(file): \(reason)"
            case .noTemplate(let name): return "no template \(name).mustache"
            }
        }
    }

    private let library: MustacheLibrary
    /// Language → key → text.
    public let strings: [Language: [String: String]]
    /// The same words as nested objects (`nav.overview` → `nav` → `overview`), as the
    /// templates name them (`{{t.nav.overview}}`).
    private let nested: [Language: NestedWords]
    public let assets: String

    public init(assets: String) throws {
        self.assets = assets
        var library = MustacheLibrary()
        let templates = URL(fileURLWithPath: assets).appendingPathComponent("templates")
        for file in try FileManager.default.contentsOfDirectory(atPath: templates.path).sorted() where file.hasSuffix(".mustache") {
            let source = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            do {
                try library.register(source, named: String(file.dropLast(".mustache".count)))
            } catch {
                throw Failure.invalidTemplate(file, "\(error)")
            }
        }
        self.library = library
        var strings: [Language: [String: String]] = [:]
        for language in Language.allCases {
            let file = URL(fileURLWithPath: assets).appendingPathComponent("strings/\(language.rawValue).json")
            do {
                strings[language] = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: file))
            } catch {
                throw Failure.strings(file.lastPathComponent, "not a JSON object of strings (\(error))")
            }
        }
        let english = Set(strings[.english]?.keys ?? [:].keys)
        for (language, words) in strings {
            let missing = english.subtracting(words.keys)
            guard missing.isEmpty else {
                throw Failure.strings("\(language.rawValue).json", "missing \(missing.sorted().joined(separator: ", "))")
            }
        }
        self.strings = strings
        nested = strings.mapValues(NestedWords.init)
    }

    /// `template` rendered with `context`, to which the language's words are added as `t`.
    public func render(_ template: String, language: Language, context: [String: Any]) throws -> String {
        var context = context
        context["t"] = nested[language]?.tree ?? [:]
        context["lang"] = language.rawValue
        context["languages"] = Language.allCases.map {
            ["code": $0.rawValue, "name": Self.names[$0] ?? $0.rawValue, "current": $0 == language]
        }
        guard let html = library.render(context, withTemplate: template) else { throw Failure.noTemplate(template) }
        return html
    }

    /// A word in `language` (the key itself if it has none).
    public func word(_ key: String, _ language: Language) -> String { strings[language]?[key] ?? key }

    static let names: [Language: String] = [.vietnamese: "Tiếng Việt", .chineseSimplified: "中文", .english: "English"]
}

/// Dotted keys as a tree of dictionaries, for Mustache's dotted names. A key that is also the
/// prefix of another (`status` and `status.accepted`) keeps only the longer ones.
struct NestedWords: @unchecked Sendable {
    let tree: [String: Any]

    init(_ words: [String: String]) {
        var root: [String: Any] = [:]
        for (key, text) in words {
            Self.insert(text, at: key.split(separator: ".").map(String.init)[...], into: &root)
        }
        tree = root
    }

    private static func insert(_ text: String, at path: ArraySlice<String>, into node: inout [String: Any]) {
        guard let head = path.first else { return }
        if path.count == 1 {
            if node[head] == nil { node[head] = text }
            return
        }
        var child = node[head] as? [String: Any] ?? [:]
        insert(text, at: path.dropFirst(), into: &child)
        node[head] = child
    }
}

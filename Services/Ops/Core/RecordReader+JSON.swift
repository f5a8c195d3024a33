import Foundation
import Messages
import RegistrationsCore

// MARK: - JSON

extension RecordReader {
    /// The records of a `.json` file: its one value, or each element of its top-level array.
    static func jsonCandidates<Value: MessagePayload>(_ type: Value.Type, in source: SourceFile) -> ([Candidate<Value>], [InputProblem]) {
        let bytes = source.bytes
        var problems: [InputProblem] = []
        func problem(at offset: Int, _ message: String) {
            problems.append(InputProblem(file: source.name, line: source.line(at: offset), message: "invalid JSON: \(message)"))
        }
        var index = JSONSyntax.skippingWhitespace(bytes, from: source.contentStart, to: bytes.count)
        guard index < bytes.count else { return ([], []) }
        guard bytes[index] == .openBracket else {
            let range = index..<JSONSyntax.trimmingWhitespace(bytes, index..<bytes.count).upperBound
            return (decode(type, range, in: source, problems: &problems).map { [$0] } ?? [], problems)
        }
        // The elements' boundaries, found by depth and strings alone so that a mistake inside
        // one element hides none of the others; each element is then checked strictly.
        let arrayLine = source.line(at: index)
        var candidates: [Candidate<Value>] = []
        var pendingComma: Int?
        index += 1
        while true {
            index = JSONSyntax.skippingWhitespace(bytes, from: index, to: bytes.count)
            guard index < bytes.count else {
                problem(at: bytes.count, "the array that starts on line \(arrayLine) is not closed: ']' is missing at the end of the file")
                break
            }
            if bytes[index] == .closeBracket {
                if let pendingComma { problem(at: pendingComma, "a ',' before ']': remove the trailing comma") }
                index = JSONSyntax.skippingWhitespace(bytes, from: index + 1, to: bytes.count)
                if index < bytes.count { problem(at: index, "text after the end of the array: a file holds one value or one array") }
                break
            }
            if bytes[index] == .comma {
                problem(at: index, "expected an element before ',' (two commas in a row, or a comma after '[')")
                pendingComma = index
                index += 1
                continue
            }
            let start = index
            index = JSONSyntax.endOfElement(bytes, from: start)
            let range = JSONSyntax.trimmingWhitespace(bytes, start..<index)
            if let candidate = decode(type, range, in: source, problems: &problems) { candidates.append(candidate) }
            guard index < bytes.count else {
                problem(at: bytes.count, "the array that starts on line \(arrayLine) is not closed: ']' is missing at the end of the file")
                break
            }
            if bytes[index] == .comma {
                pendingComma = index
                index += 1
            } else {
                pendingComma = nil
            }
        }
        return (candidates, problems)
    }

    /// The records of an `.ndjson`/`.jsonl` file: one per non-blank line.
    static func ndjsonCandidates<Value: MessagePayload>(_ type: Value.Type, in source: SourceFile) -> ([Candidate<Value>], [InputProblem]) {
        var candidates: [Candidate<Value>] = []
        var problems: [InputProblem] = []
        for (number, start) in source.lineStarts.enumerated() {
            let end = number + 1 < source.lineStarts.count ? source.lineStarts[number + 1] : source.bytes.count
            let range = JSONSyntax.trimmingWhitespace(source.bytes, max(start, source.contentStart)..<end)
            guard !range.isEmpty else { continue }
            if let candidate = decode(type, range, in: source, problems: &problems) { candidates.append(candidate) }
        }
        return (candidates, problems)
    }

    /// Checks the syntax of one JSON value and decodes it; a problem (with the line of the
    /// mistake, or of the record's start for a field that does not decode) if either fails.
    static func decode<Value: MessagePayload>(
        _ type: Value.Type, _ range: Range<Int>, in source: SourceFile, problems: inout [InputProblem]
    ) -> Candidate<Value>? {
        let line = source.line(at: range.lowerBound)
        if let failure = JSONSyntax.check(source.bytes, range) {
            problems.append(
                InputProblem(file: source.name, line: source.line(at: failure.offset), message: "invalid JSON: \(failure.message)"))
            return nil
        }
        guard source.bytes[range.lowerBound] == .openBrace else {
            let found = JSONSyntax.kind(of: source.bytes[range.lowerBound])
            problems.append(
                InputProblem(
                    file: source.name, line: line,
                    message: "expected a JSON object (one \(Value.messageType.rawValue) payload), found \(found)"))
            return nil
        }
        do {
            let value = try MessageCoding.decode(Value.self, from: Data(source.bytes[range]))
            return Candidate(file: source.name, line: line, value: value)
        } catch {
            problems.append(InputProblem(file: source.name, line: line, path: error.path.isEmpty ? nil : error.path, message: error.reason))
            return nil
        }
    }
}

/// A strict JSON syntax check (RFC 8259) that says where the first mistake is, and the loose
/// scan that finds where an array element ends.
struct JSONSyntax {
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    static let maximumDepth = 256

    let bytes: [UInt8]
    let end: Int
    var index: Int

    init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.end = range.upperBound
        self.index = range.lowerBound
    }

    /// nil if `range` holds exactly one JSON value (with whitespace around it).
    static func check(_ bytes: [UInt8], _ range: Range<Int>) -> Failure? {
        var checker = JSONSyntax(bytes: bytes, range: range)
        do throws(Failure) {
            checker.skipWhitespace()
            try checker.value(depth: 0)
            checker.skipWhitespace()
            if checker.index < checker.end {
                throw checker.failure("\(checker.found) after the end of the value (is a ',' missing?)")
            }
            return nil
        } catch {
            return error
        }
    }

    // MARK: Loose scanning

    /// The offset of the `,` or `]` that ends the array element starting at `start` (or the end
    /// of the file). Tracks only nesting and strings; a string is taken to end at a line break,
    /// since a raw line break cannot be inside one, so that an unclosed string spoils one line.
    static func endOfElement(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        var depth = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == .backslash, index + 1 < bytes.count, bytes[index + 1] != .lineFeed {
                    index += 2
                    continue
                }
                if byte == .quote || byte == .lineFeed { inString = false }
                index += 1
                continue
            }
            switch byte {
            case .quote: inString = true
            case .openBrace, .openBracket: depth += 1
            case .closeBrace, .closeBracket:
                if depth > 0 {
                    depth -= 1
                } else if byte == .closeBracket {
                    return index
                }
            case .comma where depth == 0: return index
            default: break
            }
            index += 1
        }
        return index
    }

    static func skippingWhitespace(_ bytes: [UInt8], from start: Int, to end: Int) -> Int {
        var index = start
        while index < end, bytes[index].isJSONWhitespace { index += 1 }
        return index
    }

    static func trimmingWhitespace(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        let lower = skippingWhitespace(bytes, from: range.lowerBound, to: range.upperBound)
        var upper = range.upperBound
        while upper > lower, bytes[upper - 1].isJSONWhitespace { upper -= 1 }
        return lower..<upper
    }

    /// What kind of value starts with `byte`, for a message.
    static func kind(of byte: UInt8) -> String {
        switch byte {
        case .openBracket: return "an array"
        case .quote: return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }

    // MARK: Strict checking

    var peek: UInt8? { index < end ? bytes[index] : nil }

    var found: String {
        guard let byte = peek else { return "the end of the text" }
        switch byte {
        case .lineFeed, .carriageReturn: return "a line break"
        case 0x20..<0x7F: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x80...: return "a non-ASCII character"
        default: return "the control character \(byte)"
        }
    }

    func failure(_ message: String, at offset: Int? = nil) -> Failure {
        Failure(offset: offset ?? index, message: message)
    }

    mutating func skipWhitespace() {
        index = Self.skippingWhitespace(bytes, from: index, to: end)
    }

    mutating func value(depth: Int) throws(Failure) {
        guard let byte = peek else { throw failure("expected a value, found \(found)") }
        switch byte {
        case .openBrace: try object(depth: depth + 1)
        case .openBracket: try array(depth: depth + 1)
        case .quote: try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            let word = self.word()
            if word.isEmpty { throw failure("expected a value, found \(found)") }
            throw failure("'\(word)' is not a JSON value (text needs double quotes; the literals are true, false and null)")
        }
    }

    mutating func object(depth: Int) throws(Failure) {
        guard depth <= Self.maximumDepth else { throw failure("nested more than \(Self.maximumDepth) levels deep") }
        index += 1
        skipWhitespace()
        if peek == .closeBrace {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek == .quote else {
                if peek == .closeBrace { throw failure("a ',' before '}': remove the trailing comma") }
                throw failure("expected a member name in double quotes, found \(found)")
            }
            try string()
            skipWhitespace()
            guard peek == .colon else { throw failure("expected ':' after the member name, found \(found)") }
            index += 1
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            switch peek {
            case .comma: index += 1
            case .closeBrace:
                index += 1
                return
            default: throw failure("expected ',' or '}' after an object member, found \(found)")
            }
        }
    }

    mutating func array(depth: Int) throws(Failure) {
        guard depth <= Self.maximumDepth else { throw failure("nested more than \(Self.maximumDepth) levels deep") }
        index += 1
        skipWhitespace()
        if peek == .closeBracket {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            if peek == .closeBracket { throw failure("a ',' before ']': remove the trailing comma") }
            try value(depth: depth)
            skipWhitespace()
            switch peek {
            case .comma: index += 1
            case .closeBracket:
                index += 1
                return
            default: throw failure("expected ',' or ']' after an array element, found \(found)")
            }
        }
    }

    mutating func string() throws(Failure) {
        let opening = index
        index += 1
        while let byte = peek {
            switch byte {
            case .quote:
                index += 1
                return
            case .backslash:
                guard index + 1 < end else { break }
                let escaped = bytes[index + 1]
                if escaped == UInt8(ascii: "u") {
                    let digits = (index + 2)..<(index + 6)
                    guard digits.upperBound <= end, digits.allSatisfy({ bytes[$0].isHexDigit }) else {
                        throw failure("'\\u' must be followed by four hexadecimal digits")
                    }
                    index += 6
                } else if Array("\"\\/bfnrt".utf8).contains(escaped) {
                    index += 2
                } else {
                    throw failure("'\\' starts an escape (\\\", \\\\, \\n, \\t, \\u00e9 …); write a backslash as '\\\\'")
                }
                continue
            case .lineFeed, .carriageReturn:
                throw failure("the string that starts here is not closed on its line (a '\"' is missing)", at: opening)
            case 0..<0x20:
                throw failure("a control character inside a string: write it as an escape (\\t, \\u0001 …)")
            default:
                break
            }
            index += 1
        }
        throw failure("the string that starts here is not closed (a '\"' is missing)", at: opening)
    }

    mutating func number() throws(Failure) {
        let start = index
        func digits() -> Int {
            let first = index
            while let byte = peek, byte.isDigit { index += 1 }
            return index - first
        }
        if peek == UInt8(ascii: "-") { index += 1 }
        var valid = true
        if peek == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            valid = false
        }
        if valid, peek == UInt8(ascii: ".") {
            index += 1
            valid = digits() > 0
        }
        if valid, peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            valid = digits() > 0
        }
        // A number runs up to a delimiter; anything else glued to it makes it invalid (`01`, `1.`, `2x`).
        while let byte = peek, !byte.isJSONWhitespace, ![.comma, .closeBrace, .closeBracket, .colon].contains(byte) {
            valid = false
            index += 1
        }
        if !valid {
            throw failure("'\(String(decoding: bytes[start..<index], as: UTF8.self))' is not a JSON number", at: start)
        }
    }

    mutating func literal(_ expected: String) throws(Failure) {
        let start = index
        let word = self.word()
        guard word == expected else {
            index = start
            throw failure("'\(word)' is not a JSON value (text needs double quotes; the literals are true, false and null)")
        }
    }

    /// The letters, digits and `_` from `index` on (consumed).
    mutating func word() -> String {
        let start = index
        while let byte = peek,
            byte.isDigit || byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
        {
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}

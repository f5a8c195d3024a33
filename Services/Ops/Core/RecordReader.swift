import Foundation
import Messages
import RegistrationsCore

/// One message read from an input file, with where it starts.
public struct InputRecord<Value: Sendable>: Sendable {
    public let file: String
    /// 1-based line where the record starts (for CSV: the first row of the delegation).
    public let line: Int
    public let value: Value

    public init(file: String, line: Int, value: Value) {
        self.file = file
        self.line = line
        self.value = value
    }
}

/// One thing wrong with the input: where (file, line, field) and what, for a person to fix.
///
/// `path` is the JSON path of the field (`delegates[1].email`) for JSON input and the column
/// name (`delegate_email`) for CSV; nil when the problem is not about one field.
public struct InputProblem: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let path: String?
    public let message: String

    public init(file: String, line: Int?, path: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// `file:line: path: message`, leaving out what is not known.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let path, !path.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// Reads the messages the ops tool publishes from files, and checks every one before anything
/// is sent.
///
/// The format follows the file name: `.json` (one object, or an array of objects), `.ndjson` or
/// `.jsonl` (one object per line; blank lines are ignored), `.csv` (registrations only; one row
/// per delegate, see `docs/contracts/registrations.csv.md`). Every problem in every file is
/// reported, with its line: JSON syntax, fields that do not decode, the registrations service's
/// own rules (`RegistrationValidator`, without a programme), and the same registration
/// (eventID, reference, revision) or programme (eventID, version) given twice.
///
/// `records` holds the records that have no problem of their own, in input order; a record
/// that duplicates another stays in it (the duplicate is a problem). Publish only when
/// `problems` is empty. Nothing is logged: problem messages may quote personal data.
public enum RecordReader {
    /// `registration.submitted` payloads from `.json`, `.ndjson`/`.jsonl` and `.csv` files,
    /// checked with the registrations service's rules.
    public static func registrations(from files: [String]) -> (records: [InputRecord<RegistrationSubmitted>], problems: [InputProblem]) {
        let validator = RegistrationValidator()
        var reading = Reading<RegistrationSubmitted>()
        for file in files {
            reading.read(file) { source, format in
                switch format {
                case .json: return jsonCandidates(RegistrationSubmitted.self, in: source)
                case .ndjson: return ndjsonCandidates(RegistrationSubmitted.self, in: source)
                case .csv: return RegistrationSheet.candidates(in: source)
                }
            } check: { candidate in
                validator.issues(in: candidate.value, programme: nil).compactMap { issue in
                    let (line, path) = candidate.locate(issue.path)
                    // The CSV layer has already said what is wrong with this cell.
                    if candidate.problems.contains(where: { $0.line == line && $0.path == path }) { return nil }
                    return InputProblem(file: candidate.file, line: line, path: path, message: candidate.explain(issue.message))
                }
            } key: { value in
                (
                    "\(value.eventID)\u{0}\(value.reference)\u{0}\(value.revision)",
                    "registration (eventID \(value.eventID), reference \(value.reference), revision \(value.revision))"
                )
            }
        }
        return (reading.records, reading.problems)
    }

    /// `programme.published` payloads from `.json` and `.ndjson`/`.jsonl` files.
    public static func programmes(from files: [String]) -> (records: [InputRecord<ProgrammePublished>], problems: [InputProblem]) {
        var reading = Reading<ProgrammePublished>()
        for file in files {
            reading.read(file) { source, format in
                switch format {
                case .json: return jsonCandidates(ProgrammePublished.self, in: source)
                case .ndjson: return ndjsonCandidates(ProgrammePublished.self, in: source)
                case .csv:
                    return ([], [InputProblem(file: source.name, line: nil, message: "programmes are read from .json, .ndjson or .jsonl files, not CSV")])
                }
            } check: { _ in
                []
            } key: { value in
                ("\(value.eventID)\u{0}\(value.version)", "programme (eventID \(value.eventID), version \(value.version))")
            }
        }
        return (reading.records, reading.problems)
    }
}

// MARK: - Files

extension RecordReader {
    fileprivate enum Format {
        case json, ndjson, csv

        init?(path: String) {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "json": self = .json
            case "ndjson", "jsonl": self = .ndjson
            case "csv": self = .csv
            default: return nil
            }
        }
    }

    /// A file's bytes and where its lines start.
    fileprivate struct SourceFile {
        let name: String
        let bytes: [UInt8]
        /// Offset of the first byte of each line; lines end with LF (a CR before it is part of
        /// the line's end).
        let lineStarts: [Int]

        init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
            var starts = [0]
            for (offset, byte) in bytes.enumerated() where byte == .lineFeed {
                starts.append(offset + 1)
            }
            lineStarts = starts
        }

        /// Where the content starts: after a UTF-8 byte order mark, if there is one.
        var contentStart: Int { bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0 }

        /// The 1-based line of the byte at `offset` (the last line for the end of the file).
        func line(at offset: Int) -> Int {
            var low = 0
            var high = lineStarts.count
            while high - low > 1 {
                let middle = (low + high) / 2
                if lineStarts[middle] <= offset { low = middle } else { high = middle }
            }
            return low + 1
        }

        /// Reads a file; a problem if it is missing, a directory, unreadable or not UTF-8.
        struct Unreadable: Error {
            var problem: InputProblem
        }

        static func load(_ path: String) throws(Unreadable) -> SourceFile {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw Unreadable(problem: InputProblem(file: path, line: nil, message: "no such file"))
            }
            guard !isDirectory.boolValue else {
                throw Unreadable(problem: InputProblem(file: path, line: nil, message: "is a directory, not a file"))
            }
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                let reason = FileManager.default.isReadableFile(atPath: path) ? error.localizedDescription : "permission denied"
                throw Unreadable(problem: InputProblem(file: path, line: nil, message: "cannot be read: \(reason)"))
            }
            let source = SourceFile(name: path, bytes: [UInt8](data))
            if let offset = source.firstInvalidUTF8() {
                throw Unreadable(problem: InputProblem(file: path, line: source.line(at: offset), message: "is not UTF-8 text: save the file as UTF-8"))
            }
            return source
        }

        private func firstInvalidUTF8() -> Int? {
            guard String(bytes: bytes, encoding: .utf8) == nil else { return nil }
            var iterator = bytes.makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            var offset = 0
            while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid(let encoded): offset += encoded.count
                case .emptyInput: return nil
                case .error: return offset
                }
            }
        }
    }

    /// A decoded record before the checks, with the problems found while reading it.
    fileprivate struct Candidate<Value> {
        var file: String
        var line: Int
        var value: Value
        var problems: [InputProblem] = []
        /// For CSV input: the line of each delegate's row, so that the validator's JSON paths
        /// point at rows and columns.
        var delegateLines: [Int]?

        /// The line and path to report for a problem at `jsonPath` of this record.
        func locate(_ jsonPath: String) -> (line: Int, path: String) {
            guard let delegateLines else { return (line, jsonPath) }
            return RegistrationSheet.locate(jsonPath, delegateLines: delegateLines, firstLine: line)
        }

        /// A validator message as it reads for this record: for CSV input, a delegate named by
        /// index (`… given for delegates[0]`) is named by its row instead.
        func explain(_ message: String) -> String {
            guard let delegateLines else { return message }
            return RegistrationSheet.namingRows(in: message, delegateLines: delegateLines)
        }
    }

    /// What has been read so far over all files.
    fileprivate struct Reading<Value: MessagePayload> {
        var records: [InputRecord<Value>] = []
        var problems: [InputProblem] = []
        /// Where each record key was first seen.
        private var seen: [String: (file: String, line: Int)] = [:]

        mutating func read(
            _ file: String,
            candidates: (SourceFile, Format) -> ([Candidate<Value>], [InputProblem]),
            check: (Candidate<Value>) -> [InputProblem],
            key: (Value) -> (key: String, description: String)
        ) {
            let source: SourceFile
            do {
                source = try SourceFile.load(file)
            } catch {
                problems.append(error.problem)
                return
            }
            guard let format = Format(path: file) else {
                problems.append(InputProblem(file: file, line: nil, message: "unknown format: the file name must end in .json, .ndjson, .jsonl or .csv"))
                return
            }
            let (found, readingProblems) = candidates(source, format)
            var fileProblems = readingProblems
            for candidate in found {
                let own = candidate.problems + check(candidate)
                fileProblems += own
                let (key, description) = key(candidate.value)
                if let first = seen[key] {
                    let place = first.file == file ? "line \(first.line)" : "\(first.file):\(first.line)"
                    fileProblems.append(InputProblem(file: file, line: candidate.line, message: "the same \(description) is also at \(place)"))
                } else {
                    seen[key] = (file, candidate.line)
                }
                if own.isEmpty {
                    records.append(InputRecord(file: file, line: candidate.line, value: candidate.value))
                }
            }
            if found.isEmpty && fileProblems.isEmpty {
                fileProblems.append(InputProblem(file: file, line: nil, message: "contains no records"))
            }
            // In line order (problems without a line first), keeping the order within a line.
            problems += fileProblems.enumerated()
                .sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
                .map(\.element)
        }
    }
}

// MARK: - JSON

extension RecordReader {
    /// The records of a `.json` file: its one value, or each element of its top-level array.
    fileprivate static func jsonCandidates<Value: MessagePayload>(_ type: Value.Type, in source: SourceFile) -> ([Candidate<Value>], [InputProblem]) {
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
    fileprivate static func ndjsonCandidates<Value: MessagePayload>(_ type: Value.Type, in source: SourceFile) -> ([Candidate<Value>], [InputProblem]) {
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
    private static func decode<Value: MessagePayload>(
        _ type: Value.Type, _ range: Range<Int>, in source: SourceFile, problems: inout [InputProblem]
    ) -> Candidate<Value>? {
        let line = source.line(at: range.lowerBound)
        if let failure = JSONSyntax.check(source.bytes, range) {
            problems.append(InputProblem(file: source.name, line: source.line(at: failure.offset), message: "invalid JSON: \(failure.message)"))
            return nil
        }
        guard source.bytes[range.lowerBound] == .openBrace else {
            let found = JSONSyntax.kind(of: source.bytes[range.lowerBound])
            problems.append(InputProblem(file: source.name, line: line, message: "expected a JSON object (one \(Value.messageType.rawValue) payload), found \(found)"))
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
private struct JSONSyntax {
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    static let maximumDepth = 256

    private let bytes: [UInt8]
    private let end: Int
    private var index: Int

    private init(bytes: [UInt8], range: Range<Int>) {
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

    private var peek: UInt8? { index < end ? bytes[index] : nil }

    private var found: String {
        guard let byte = peek else { return "the end of the text" }
        switch byte {
        case .lineFeed, .carriageReturn: return "a line break"
        case 0x20..<0x7F: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x80...: return "a non-ASCII character"
        default: return "the control character \(byte)"
        }
    }

    private func failure(_ message: String, at offset: Int? = nil) -> Failure {
        Failure(offset: offset ?? index, message: message)
    }

    private mutating func skipWhitespace() {
        index = Self.skippingWhitespace(bytes, from: index, to: end)
    }

    private mutating func value(depth: Int) throws(Failure) {
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

    private mutating func object(depth: Int) throws(Failure) {
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

    private mutating func array(depth: Int) throws(Failure) {
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

    private mutating func string() throws(Failure) {
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

    private mutating func number() throws(Failure) {
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

    private mutating func literal(_ expected: String) throws(Failure) {
        let start = index
        let word = self.word()
        guard word == expected else {
            index = start
            throw failure("'\(word)' is not a JSON value (text needs double quotes; the literals are true, false and null)")
        }
    }

    /// The letters, digits and `_` from `index` on (consumed).
    private mutating func word() -> String {
        let start = index
        while let byte = peek, byte.isDigit || byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) {
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}

// MARK: - CSV registrations

extension RecordReader {
    /// Registrations in a CSV sheet: one row per delegate, the registration's columns repeated
    /// on each row, rows grouped into delegations by `event_id` + `reference`.
    fileprivate struct RegistrationSheet {
        private let file: String
        private var problems: [InputProblem] = []

        private init(file: String) { self.file = file }

        /// One data row: its line and its cells by column (trimmed; absent columns are empty).
        private struct Row {
            var line: Int
            var cells: [RegistrationColumn: String]

            subscript(_ column: RegistrationColumn) -> String { cells[column] ?? "" }
        }

        static func candidates(in source: SourceFile) -> ([Candidate<RegistrationSubmitted>], [InputProblem]) {
            var sheet = RegistrationSheet(file: source.name)
            let candidates = sheet.read(CSV(parsing: String(decoding: source.bytes, as: UTF8.self)))
            return (candidates, sheet.problems)
        }

        private mutating func problem(_ line: Int?, _ column: RegistrationColumn?, _ message: String) {
            problems.append(InputProblem(file: file, line: line, path: column?.rawValue, message: message))
        }

        private mutating func read(_ csv: CSV) -> [Candidate<RegistrationSubmitted>] {
            for error in csv.errors {
                problems.append(InputProblem(file: file, line: error.line, message: "invalid CSV: \(error.message)"))
            }
            let records = csv.records.filter { record in record.fields.contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }
            guard let header = records.first else {
                if csv.errors.isEmpty { problem(nil, nil, "contains no header row (see docs/contracts/registrations.csv.md)") }
                return []
            }
            if let firstError = csv.errors.first, firstError.line < header.line {
                problem(firstError.line, nil, "the header row cannot be read, so no row is read")
                return []
            }
            guard let columns = readHeader(header) else { return [] }

            var rows: [Row] = []
            for record in records.dropFirst() {
                guard record.fields.count == columns.count else {
                    problem(record.line, nil, "has \(record.fields.count) fields but the header (line \(header.line)) has \(columns.count)")
                    continue
                }
                var cells: [RegistrationColumn: String] = [:]
                for (position, field) in record.fields.enumerated() {
                    let value = Self.clean(field)
                    if let column = columns[position] {
                        cells[column] = value
                    } else if !value.isEmpty, header.fields[position].trimmingCharacters(in: .whitespaces).isEmpty {
                        problem(record.line, nil, "a value in column \(position + 1), which has no name in the header")
                    }
                }
                rows.append(Row(line: record.line, cells: cells))
            }

            var order: [String] = []
            var groups: [String: [Row]] = [:]
            for row in rows {
                let key = "\(row[.eventID])\u{0}\(row[.reference])"
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(row)
            }
            let present = Set(columns.compactMap { $0 })
            return order.compactMap { groups[$0] }.map { delegation($0, present: present) }
        }

        /// The column of each field position (nil: ignored); nil if rows cannot be read.
        private mutating func readHeader(_ header: CSV.Record) -> [RegistrationColumn?]? {
            var columns: [RegistrationColumn?] = []
            var unknown: [String] = []
            var seen: Set<RegistrationColumn> = []
            for name in header.fields {
                let key = name.trimmingCharacters(in: .whitespaces).lowercased()
                guard let column = RegistrationColumn(rawValue: key) else {
                    if !key.isEmpty { unknown.append(name.trimmingCharacters(in: .whitespaces)) }
                    columns.append(nil)
                    continue
                }
                if seen.contains(column) {
                    problem(header.line, column, "the column appears twice in the header")
                    columns.append(nil)
                } else {
                    seen.insert(column)
                    columns.append(column)
                }
            }
            if !unknown.isEmpty {
                let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                problem(header.line, nil, "unknown column\(unknown.count == 1 ? "" : "s") \(names); the columns are: \(RegistrationColumn.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let missing = RegistrationColumn.allCases.filter { $0.isRequired && !seen.contains($0) }
            if !missing.isEmpty {
                problem(header.line, nil, "missing required column\(missing.count == 1 ? "" : "s"): \(missing.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return columns
        }

        /// Trimmed; a leading `'` that keeps a spreadsheet from reading `+84…` or `=…` as a
        /// formula is dropped.
        private static func clean(_ field: String) -> String {
            let value = field.trimmingCharacters(in: .whitespacesAndNewlines)
            if value.hasPrefix("'"), let second = value.dropFirst().first, "=+-@".contains(second) {
                return String(value.dropFirst())
            }
            return value
        }

        // MARK: Building a delegation

        private mutating func delegation(_ rows: [Row], present: Set<RegistrationColumn>) -> Candidate<RegistrationSubmitted> {
            let start = problems.count
            let first = rows[0]
            for row in rows.dropFirst() {
                for column in RegistrationColumn.allCases where !column.isPerDelegate && present.contains(column) {
                    let here = Self.comparable(row[column], column)
                    let there = Self.comparable(first[column], column)
                    if here != there {
                        problem(
                            row.line, column,
                            "\(Self.quoted(row[column])) here but \(Self.quoted(first[column])) on line \(first.line); the registration columns must be the same on every row of a delegation"
                        )
                    }
                }
            }
            let organisation = Organisation(
                name: required(.organisation, first), localName: optional(.localName, first), country: required(.country, first),
                sectors: list(.sectors, first), website: optional(.website, first)
            )
            let leadContact = Contact(
                name: required(.leadContact, first), title: optional(.leadTitle, first), email: required(.leadEmail, first),
                phone: optional(.leadPhone, first), language: language(.leadLanguage, first)
            )
            let delegation = Delegation(
                organisation: organisation, role: role(first), leadContact: leadContact, delegates: rows.map { delegate($0) },
                interests: Interests(sectors: list(.interestSectors, first), topics: list(.interestTopics, first)),
                preferredVisits: list(.preferredVisits, first)
            )
            let submission = RegistrationSubmitted(
                eventID: required(.eventID, first), reference: required(.reference, first), revision: revision(first), delegation: delegation,
                consent: Consent(dataProcessing: boolean(.consent, first, required: true), givenAt: dateTime(.consentGivenAt, first)),
                submittedAt: dateTime(.submittedAt, first)
            )
            // The delegation's own problems travel with it (the validator's are checked against them).
            let own = Array(problems[start...])
            problems.removeSubrange(start...)
            return Candidate(file: file, line: first.line, value: submission, problems: own, delegateLines: rows.map(\.line))
        }

        private mutating func delegate(_ row: Row) -> Delegate {
            Delegate(
                name: required(.delegateName, row), title: optional(.delegateTitle, row), email: optional(.delegateEmail, row),
                phone: optional(.delegatePhone, row), language: language(.delegateLanguage, row),
                needsInterpreter: boolean(.needsInterpreter, row, required: false), accessibilityNeeds: optional(.accessibilityNeeds, row),
                identityDocument: identityDocument(row)
            )
        }

        /// nil when every document column is empty; otherwise all but the date of birth are needed.
        private mutating func identityDocument(_ row: Row) -> IdentityDocument? {
            let columns: [RegistrationColumn] = [.documentKind, .documentNumber, .documentIssuingCountry, .documentFullName, .documentDateOfBirth, .documentExpiresOn]
            guard columns.contains(where: { !row[$0].isEmpty }) else { return nil }
            func needed(_ column: RegistrationColumn) -> String {
                if row[column].isEmpty { problem(row.line, column, "is required when a document is given (document_date_of_birth is the only optional document column)") }
                return row[column]
            }
            var kind = IdentityDocument.Kind.passport
            let kindText = needed(.documentKind)
            if !kindText.isEmpty {
                if let parsed = IdentityDocument.Kind(rawValue: kindText.lowercased()) {
                    kind = parsed
                } else {
                    problem(row.line, .documentKind, "\(Self.quoted(kindText)) is not a document kind: write \(Self.choices(IdentityDocument.Kind.allCases.map(\.rawValue)))")
                }
            }
            return IdentityDocument(
                kind: kind, number: needed(.documentNumber), issuingCountry: needed(.documentIssuingCountry), fullName: needed(.documentFullName),
                dateOfBirth: optional(.documentDateOfBirth, row), expiresOn: needed(.documentExpiresOn)
            )
        }

        // MARK: Cells

        private mutating func required(_ column: RegistrationColumn, _ row: Row) -> String {
            if row[column].isEmpty { problem(row.line, column, "is required") }
            return row[column]
        }

        private func optional(_ column: RegistrationColumn, _ row: Row) -> String? {
            row[column].isEmpty ? nil : row[column]
        }

        private func list(_ column: RegistrationColumn, _ row: Row) -> [String] {
            Self.items(row[column])
        }

        private mutating func language(_ column: RegistrationColumn, _ row: Row) -> Language {
            let text = required(column, row)
            if let language = Language.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) { return language }
            if !text.isEmpty {
                problem(row.line, column, "\(Self.quoted(text)) is not a language: write \(Self.choices(Language.allCases.map(\.rawValue)))")
            }
            return .english
        }

        private mutating func role(_ row: Row) -> DelegationRole {
            let text = required(.role, row)
            if let role = DelegationRole(rawValue: text.lowercased()) { return role }
            if !text.isEmpty {
                problem(row.line, .role, "\(Self.quoted(text)) is not a role: write \(Self.choices(DelegationRole.allCases.map(\.rawValue)))")
            }
            return .visiting
        }

        /// `yes`/`no`/`true`/`false` in any case. An unreadable value reads as true for consent
        /// (so the validator does not add `consent_required` to the problem already reported)
        /// and as false otherwise.
        private mutating func boolean(_ column: RegistrationColumn, _ row: Row, required: Bool) -> Bool {
            let text = row[column]
            switch text.lowercased() {
            case "yes", "true": return true
            case "no", "false": return false
            case "":
                if required { problem(row.line, column, "is required: write yes or no") }
            default:
                problem(row.line, column, "\(Self.quoted(text)) is not yes, no, true or false")
            }
            return required
        }

        private mutating func revision(_ row: Row) -> Int {
            let text = row[.revision]
            if text.isEmpty { return 1 }
            if let revision = Int(text) { return revision }
            problem(row.line, .revision, "\(Self.quoted(text)) is not a whole number (1 for a new registration, 2 for its first amendment, …)")
            return 1
        }

        private mutating func dateTime(_ column: RegistrationColumn, _ row: Row) -> Date? {
            let text = row[column]
            if text.isEmpty { return nil }
            if let date = MessageCoding.parse(text) { return date }
            problem(row.line, column, "\(Self.quoted(text)) is not an ISO-8601 date-time with a time zone, e.g. 2026-01-05T10:12:00+07:00")
            return nil
        }

        private static func items(_ text: String) -> [String] {
            text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        /// A cell as compared across a delegation's rows: lists by their items, yes/no by meaning.
        private static func comparable(_ text: String, _ column: RegistrationColumn) -> String {
            if column.isList { return items(text).joined(separator: ";") }
            if column == .consent { return ["yes", "true"].contains(text.lowercased()) ? "yes" : ["no", "false"].contains(text.lowercased()) ? "no" : text }
            return text
        }

        private static func quoted(_ text: String) -> String { text.isEmpty ? "(empty)" : "'\(text)'" }

        private static func choices(_ values: [String]) -> String {
            guard let last = values.last else { return "" }
            return values.dropLast().joined(separator: ", ") + " or " + last
        }

        // MARK: Validator paths

        /// The row and column of a JSON path from `RegistrationValidator`: `delegates[2].email`
        /// is the third delegate's row, column `delegate_email`; `organisation.sectors[1]` is
        /// the delegation's first row, column `sectors`. Paths without a column stay as they are.
        static func locate(_ jsonPath: String, delegateLines: [Int], firstLine: Int) -> (line: Int, path: String) {
            let prefix = "delegates["
            if jsonPath.hasPrefix(prefix), let close = jsonPath.firstIndex(of: "]"),
                let index = Int(jsonPath[jsonPath.index(jsonPath.startIndex, offsetBy: prefix.count)..<close]), delegateLines.indices.contains(index)
            {
                let field = jsonPath[jsonPath.index(after: close)...].drop { $0 == "." }
                let column = RegistrationColumn.allCases.first { $0.isPerDelegate && $0.jsonPath == withoutIndex(String(field)) }
                return (delegateLines[index], column?.rawValue ?? jsonPath)
            }
            let column = RegistrationColumn.allCases.first { !$0.isPerDelegate && $0.jsonPath == withoutIndex(jsonPath) }
            return (firstLine, column?.rawValue ?? jsonPath)
        }

        /// `delegates[0]` (not followed by a field) → `the delegate on line 2`.
        static func namingRows(in message: String, delegateLines: [Int]) -> String {
            var text = message
            for (index, line) in delegateLines.enumerated().reversed() {
                let name = "delegates[\(index)]"
                var searchStart = text.startIndex
                while let found = text.range(of: name, range: searchStart..<text.endIndex) {
                    if found.upperBound < text.endIndex, text[found.upperBound] == "." {
                        searchStart = found.upperBound
                        continue
                    }
                    let replacement = "the delegate on line \(line)"
                    text.replaceSubrange(found, with: replacement)
                    searchStart = text.index(found.lowerBound, offsetBy: replacement.count)
                }
            }
            return text
        }

        /// `organisation.sectors[1]` → `organisation.sectors`.
        private static func withoutIndex(_ path: String) -> String {
            guard path.hasSuffix("]"), let open = path.lastIndex(of: "[") else { return path }
            return String(path[..<open])
        }
    }

    /// The columns of a registrations CSV (documented in `docs/contracts/registrations.csv.md`).
    fileprivate enum RegistrationColumn: String, CaseIterable {
        case eventID = "event_id"
        case reference
        case revision
        case organisation
        case localName = "local_name"
        case country
        case sectors
        case website
        case role
        case leadContact = "lead_contact"
        case leadTitle = "lead_title"
        case leadEmail = "lead_email"
        case leadPhone = "lead_phone"
        case leadLanguage = "lead_language"
        case interestSectors = "interest_sectors"
        case interestTopics = "interest_topics"
        case preferredVisits = "preferred_visits"
        case consent
        case consentGivenAt = "consent_given_at"
        case submittedAt = "submitted_at"
        case delegateName = "delegate_name"
        case delegateTitle = "delegate_title"
        case delegateEmail = "delegate_email"
        case delegatePhone = "delegate_phone"
        case delegateLanguage = "delegate_language"
        case needsInterpreter = "needs_interpreter"
        case accessibilityNeeds = "accessibility_needs"
        case documentKind = "document_kind"
        case documentNumber = "document_number"
        case documentIssuingCountry = "document_issuing_country"
        case documentFullName = "document_full_name"
        case documentDateOfBirth = "document_date_of_birth"
        case documentExpiresOn = "document_expires_on"

        /// The header must have it (a cell may still be empty where the field is optional).
        var isRequired: Bool {
            switch self {
            case .eventID, .reference, .organisation, .country, .role, .leadContact, .leadEmail, .leadLanguage, .consent, .delegateName, .delegateLanguage:
                return true
            default:
                return false
            }
        }

        /// Differs from row to row; the others describe the registration and repeat.
        var isPerDelegate: Bool {
            switch self {
            case .delegateName, .delegateTitle, .delegateEmail, .delegatePhone, .delegateLanguage, .needsInterpreter, .accessibilityNeeds,
                .documentKind, .documentNumber, .documentIssuingCountry, .documentFullName, .documentDateOfBirth, .documentExpiresOn:
                return true
            default:
                return false
            }
        }

        var isList: Bool { [.sectors, .interestSectors, .interestTopics, .preferredVisits].contains(self) }

        /// The field in `registration.submitted`; for per-delegate columns, within `delegates[i]`.
        var jsonPath: String {
            switch self {
            case .eventID: return "eventID"
            case .reference: return "reference"
            case .revision: return "revision"
            case .organisation: return "organisation.name"
            case .localName: return "organisation.localName"
            case .country: return "organisation.country"
            case .sectors: return "organisation.sectors"
            case .website: return "organisation.website"
            case .role: return "role"
            case .leadContact: return "leadContact.name"
            case .leadTitle: return "leadContact.title"
            case .leadEmail: return "leadContact.email"
            case .leadPhone: return "leadContact.phone"
            case .leadLanguage: return "leadContact.language"
            case .interestSectors: return "interests.sectors"
            case .interestTopics: return "interests.topics"
            case .preferredVisits: return "preferredVisits"
            case .consent: return "consent.dataProcessing"
            case .consentGivenAt: return "consent.givenAt"
            case .submittedAt: return "submittedAt"
            case .delegateName: return "name"
            case .delegateTitle: return "title"
            case .delegateEmail: return "email"
            case .delegatePhone: return "phone"
            case .delegateLanguage: return "language"
            case .needsInterpreter: return "needsInterpreter"
            case .accessibilityNeeds: return "accessibilityNeeds"
            case .documentKind: return "identityDocument.kind"
            case .documentNumber: return "identityDocument.number"
            case .documentIssuingCountry: return "identityDocument.issuingCountry"
            case .documentFullName: return "identityDocument.fullName"
            case .documentDateOfBirth: return "identityDocument.dateOfBirth"
            case .documentExpiresOn: return "identityDocument.expiresOn"
            }
        }
    }
}

extension UInt8 {
    fileprivate static let lineFeed = UInt8(ascii: "\n")
    fileprivate static let carriageReturn = UInt8(ascii: "\r")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let openBrace = UInt8(ascii: "{")
    fileprivate static let closeBrace = UInt8(ascii: "}")
    fileprivate static let openBracket = UInt8(ascii: "[")
    fileprivate static let closeBracket = UInt8(ascii: "]")

    fileprivate var isJSONWhitespace: Bool { self == 0x20 || self == 0x09 || self == .lineFeed || self == .carriageReturn }
    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isHexDigit: Bool { isDigit || (self | 0x20 >= UInt8(ascii: "a") && self | 0x20 <= UInt8(ascii: "f")) }
}

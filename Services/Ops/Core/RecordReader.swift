import Crypto
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
                    return (
                        [],
                        [
                            InputProblem(
                                file: source.name, line: nil, message: "programmes are read from .json, .ndjson or .jsonl files, not CSV")
                        ]
                    )
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
    enum Format {
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
    struct SourceFile {
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
                throw Unreadable(
                    problem: InputProblem(file: path, line: source.line(at: offset), message: "is not UTF-8 text: save the file as UTF-8"))
            }
            return source
        }

        func firstInvalidUTF8() -> Int? {
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
    struct Candidate<Value> {
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
    struct Reading<Value: MessagePayload> {
        var records: [InputRecord<Value>] = []
        var problems: [InputProblem] = []
        /// Where each record key was first seen.
        var seen: [String: (file: String, line: Int)] = [:]

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
                problems.append(
                    InputProblem(file: file, line: nil, message: "unknown format: the file name must end in .json, .ndjson, .jsonl or .csv")
                )
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
                    fileProblems.append(
                        InputProblem(file: file, line: candidate.line, message: "the same \(description) is also at \(place)"))
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

/// The bytes the JSON scanner and the CSV parser look for.
extension UInt8 {
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    var isJSONWhitespace: Bool { self == 0x20 || self == 0x09 || self == .lineFeed || self == .carriageReturn }
    var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    var isHexDigit: Bool { isDigit || (self | 0x20 >= UInt8(ascii: "a") && self | 0x20 <= UInt8(ascii: "f")) }
}

extension RecordReader {
    /// The registrations as one batch per event (contract 1.8: each with its place and the
    /// count, so that itineraries plans an event's as soon as the last is in), unless the input
    /// gives batches itself. An event's lone registration is no batch: it waits for quiet like
    /// any other, so that registrations published one command each (a loop over files) are still
    /// planned together. The batch's id is derived from the registrations, so publishing the same
    /// file again sends the same messages.
    public static func batched(_ records: [InputRecord<RegistrationSubmitted>]) throws -> [InputRecord<RegistrationSubmitted>] {
        guard !records.contains(where: { $0.value.batch != nil }) else { return records }
        var hasher = SHA256()
        for record in records { hasher.update(data: try MessageCoding.encode(record.value)) }
        let id = "ops-" + hasher.finalize().hexString.prefix(24)
        let counts = Dictionary(records.map { ($0.value.eventID, 1) }, uniquingKeysWith: +)
        var placed: [String: Int] = [:]
        return records.map { record in
            var submission = record.value
            let event = submission.eventID
            guard counts[event, default: 0] > 1 else { return record }
            submission.batch = BatchPosition(
                id: counts.count == 1 ? id : "\(id)-\(event)", index: placed[event, default: 0], count: counts[event, default: 1])
            placed[event, default: 0] += 1
            return InputRecord(file: record.file, line: record.line, value: submission)
        }
    }

    /// The registrations with every plain identity document sealed to `key` (HPKE; the
    /// registrations service's public key, `registrations document-keys public`) for its
    /// registration's reference: what `publish registrations --document-key` sends.
    public static func sealingDocuments(_ records: [InputRecord<RegistrationSubmitted>], to key: DocumentKeys.PublicKey) throws
        -> [InputRecord<RegistrationSubmitted>]
    {
        try records.map { record in
            var submission = record.value
            for index in submission.delegates.indices {
                guard let document = submission.delegates[index].identityDocument else { continue }
                submission.delegates[index].sealedIdentityDocument = try SealedDocument.seal(
                    document, to: key, reference: submission.reference)
                submission.delegates[index].identityDocument = nil
            }
            return InputRecord(file: record.file, line: record.line, value: submission)
        }
    }
}

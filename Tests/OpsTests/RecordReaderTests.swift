import Foundation
import Messages
import OpsCore
import Testing

@Suite struct RecordReaderTests {
    // MARK: Committed files

    @Test func committedContractExampleReadsWithoutProblems() throws {
        let file = Repository.path("docs/contracts/registration.submitted.example.json")
        let (records, problems) = RecordReader.registrations(from: [file])
        #expect(problems == [])
        let record = try #require(records.first)
        #expect(records.count == 1)
        #expect(record.file == file)
        #expect(record.line == 1)
        #expect(record.value.reference == "nic-form-2026-0042")
        #expect(record.value.delegates.count == 3)
    }

    @Test func seedRegistrationsReadAsThirtyEightRecordsAtTheLinesTheirObjectsStart() throws {
        let file = Repository.path("deploy/sample-data/registrations.json")
        let (records, problems) = RecordReader.registrations(from: [file])
        #expect(problems == [])
        #expect(records.count == 38)
        #expect(records.map(\.value.reference) == (1...38).map { String(format: "nic-form-%04d", $0) })
        #expect(records.filter { $0.value.role == .host }.count == 6)
        // The file is indented by two: every element of the array opens with a line "  {".
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let openings = lines.indices.filter { lines[$0] == "  {" }.map { $0 + 1 }
        #expect(records.map(\.line) == openings)
    }

    @Test func seedProgrammeReadsAsOneProgramme() throws {
        let (records, problems) = RecordReader.programmes(from: [Repository.path("deploy/sample-data/programme.json")])
        #expect(problems == [])
        let programme = try #require(records.first?.value)
        #expect(records.count == 1)
        #expect(records.first?.line == 1)
        #expect(programme.eventID == "danang-china-2026-01")
        #expect(programme.venues.map(\.id).contains("lien-chieu-port"))
    }

    @Test func exampleCSVReadsAsTheSameRegistrationsAsTheirJSON() throws {
        let scratch = try Scratch()
        let (fromJSON, jsonProblems) = RecordReader.registrations(from: [try scratch.file("example.json", Self.exampleCSVAsJSON)])
        #expect(jsonProblems == [])
        #expect(fromJSON.count == 3)

        let (fromCSV, csvProblems) = RecordReader.registrations(from: [Repository.path("deploy/sample-data/registrations.example.csv")])
        #expect(csvProblems == [])
        #expect(fromCSV.map(\.line) == [2, 5, 6])
        #expect(fromCSV.map(\.value) == fromJSON.map(\.value))
        #expect(fromCSV.map(\.value.role) == [.visiting, .visiting, .host])
        #expect(fromCSV.last?.value.organisation.country == "VN")

        // The example names the seed programme's event and only its site visits.
        let programme = try #require(
            RecordReader.programmes(from: [Repository.path("deploy/sample-data/programme.json")]).records.first?.value)
        let siteVisits = Set(programme.venues.filter(\.isSiteVisit).map(\.id))
        for record in fromCSV {
            #expect(record.value.eventID == programme.eventID)
            #expect(Set(record.value.preferredVisits).isSubset(of: siteVisits))
        }
    }

    /// `publish registrations --document-key`: every document of the CSV sealed to the
    /// registrations service's key for its own reference; nothing else changes.
    @Test func documentsAreSealedToTheRegistrationsKeyBeforePublishing() throws {
        let (records, problems) = RecordReader.registrations(from: [Repository.path("deploy/sample-data/registrations.example.csv")])
        #expect(problems == [])
        let (keys, _) = DocumentKeys.generate(id: "r2026")
        let sealed = try RecordReader.sealingDocuments(records, to: try #require(keys.current))
        #expect(sealed.map(\.line) == records.map(\.line))
        var documents = 0
        for (before, after) in zip(records, sealed) {
            for (plain, delegate) in zip(before.value.delegates, after.value.delegates) {
                #expect(delegate.identityDocument == nil)
                #expect(delegate.name == plain.name && delegate.email == plain.email)
                guard let document = plain.identityDocument else {
                    #expect(delegate.sealedIdentityDocument == nil)
                    continue
                }
                documents += 1
                let opened = try #require(delegate.sealedIdentityDocument).open(with: keys, reference: after.value.reference)
                #expect(opened == document)
            }
        }
        #expect(documents > 0, "the example carries documents to seal")
    }

    /// `publish registrations`: the records of one command are one batch per event, each with its place;
    /// the batch's id comes from the records, so the same file gives the same messages (and
    /// ids) again; another file another id; records with batches of their own are left alone.
    @Test func theRecordsOfOnePublishAreOneBatchWhoseIdComesFromThem() throws {
        let file = Repository.path("deploy/sample-data/registrations.example.csv")
        let records = RecordReader.registrations(from: [file]).records
        #expect(records.count > 1)
        let batched = try RecordReader.batched(records)
        let batches = batched.compactMap(\.value.batch)
        #expect(batches.count == records.count && Set(batches.map(\.id)).count == 1)
        #expect(batches.map(\.index) == Array(0..<records.count) && batches.allSatisfy { $0.count == records.count })
        #expect(batches.last?.isLast == true && batches.dropLast().allSatisfy { !$0.isLast })
        #expect(zip(records, batched).allSatisfy { $0.line == $1.line && $0.value.reference == $1.value.reference })
        let again = try RecordReader.batched(RecordReader.registrations(from: [file]).records)
        #expect(try again.map { try MessageCoding.encode($0.value) } == batched.map { try MessageCoding.encode($0.value) })
        #expect(try RecordReader.batched(Array(records.dropLast())).first?.value.batch?.id != batches.first?.id)
        #expect(try RecordReader.batched(batched).map(\.value.batch) == batches, "given batches stay as given")

        // Two events in one file: a batch each, so each event's last ends its own.
        let mixed = try RecordReader.batched(
            (0..<6).map { index in
                let record = records[index % records.count]
                var submission = record.value
                submission.reference += "-\(index)"
                if index % 2 == 1 { submission.eventID = "another-event" }
                return InputRecord(file: record.file, line: record.line, value: submission)
            })
        for event in Set(mixed.map(\.value.eventID)) {
            let places = mixed.filter { $0.value.eventID == event }.compactMap(\.value.batch)
            #expect(Set(places.map(\.id)).count == 1 && places.map(\.index) == Array(0..<places.count), "\(event)")
            #expect(places.allSatisfy { $0.count == places.count } && places.last?.isLast == true, "\(event)")
        }
        #expect(Set(mixed.compactMap(\.value.batch?.id)).count == 2)
        #expect(try RecordReader.batched([records[0]]).first?.value.batch == nil, "a lone registration waits for quiet")
    }

    // MARK: JSON

    @Test func jsonArrayReportsEveryBadElementAtTheLineItStartsWithItsPath() throws {
        var elements: [String] = []
        for index in 1...5 {
            var object = try Self.exampleObject(reference: "array-\(index)")
            switch index {
            case 2:
                var organisation = try #require(object["organisation"] as? [String: Any])
                organisation["country"] = nil
                object["organisation"] = organisation
            case 4:
                var delegates = try #require(object["delegates"] as? [[String: Any]])
                delegates[1]["language"] = "fr"
                object["delegates"] = delegates
            case 5:
                var lead = try #require(object["leadContact"] as? [String: Any])
                lead["email"] = "li.wei(at)hailian-logistics.example"
                object["leadContact"] = lead
            default:
                break
            }
            elements.append(try Self.prettyJSON(object))
        }
        // "[" is line 1; each element starts on the line after the previous one ends.
        var startLines: [Int] = []
        var line = 2
        for element in elements {
            startLines.append(line)
            line += element.split(separator: "\n", omittingEmptySubsequences: false).count
        }
        let scratch = try Scratch()
        let file = try scratch.file("array.json", "[\n" + elements.joined(separator: ",\n") + "\n]\n")

        let (records, problems) = RecordReader.registrations(from: [file])
        #expect(records.map(\.line) == [startLines[0], startLines[2]])
        #expect(problems.map(\.line) == [startLines[1], startLines[3], startLines[4]])
        #expect(problems.map(\.path) == ["organisation.country", "delegates[1].language", "leadContact.email"])
        #expect(problems.allSatisfy { $0.file == file })
        #expect(problems.first?.message == "is required")
        #expect(problems.last?.message.contains("not an e-mail address") == true)
    }

    @Test func jsonSyntaxErrorIsReportedAtItsLineAndTheOtherElementsStillRead() throws {
        let good = try Self.compactJSON(Self.exampleObject(reference: "syntax-1"))
        let other = try Self.compactJSON(Self.exampleObject(reference: "syntax-3"))
        let text = """
            [
              \(good),
              {
                "eventID": "danang-china-2026-01",
                "reference": "syntax-2"
                "revision": 1
              },
              \(other)
            ]
            """
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("syntax.json", text)])
        #expect(records.map(\.value.reference) == ["syntax-1", "syntax-3"])
        #expect(records.map(\.line) == [2, 8])
        #expect(problems.count == 1)
        #expect(problems.first?.line == 6)
        #expect(problems.first?.message.contains("expected ',' or '}'") == true)
    }

    @Test func unclosedStringTrailingCommaAndUnclosedArrayAreReportedWhereTheyAre() throws {
        let good = try Self.compactJSON(Self.exampleObject(reference: "loose-1"))
        let other = try Self.compactJSON(Self.exampleObject(reference: "loose-2"))
        let scratch = try Scratch()

        let unclosedString = try scratch.file("string.json", "[\n  \(good),\n  {\"reference\": \"unclosed\n  },\n  \(other)\n]\n")
        let (records, problems) = RecordReader.registrations(from: [unclosedString])
        #expect(records.map(\.line) == [2, 5], "an unclosed string spoils its own line only")
        #expect(problems.map(\.line) == [3])
        #expect(problems.first?.message == "invalid JSON: the string that starts here is not closed on its line (a '\"' is missing)")

        let trailingComma = try scratch.file("comma.json", "[\n  \(good),\n]\n")
        let (commaRecords, commaProblems) = RecordReader.registrations(from: [trailingComma])
        #expect(commaRecords.map(\.line) == [2])
        #expect(commaProblems.map(\.line) == [2])
        #expect(commaProblems.first?.message.contains("trailing comma") == true)

        let unclosedArray = try scratch.file("array.json", "[\n  \(good)\n")
        let (arrayRecords, arrayProblems) = RecordReader.registrations(from: [unclosedArray])
        #expect(arrayRecords.map(\.line) == [2])
        #expect(arrayProblems.map(\.line) == [3])
        #expect(arrayProblems.first?.message.contains("the array that starts on line 1 is not closed") == true)
    }

    @Test func ndjsonMalformedLineIsReportedAndTheOtherLinesStillRead() throws {
        let lines = [
            try Self.compactJSON(Self.exampleObject(reference: "nd-1")),
            "",
            "{\"eventID\": \"danang-china-2026-01\", \"reference\": ",
            "   ",
            try Self.compactJSON(Self.exampleObject(reference: "nd-2")),
        ]
        let scratch = try Scratch()
        let file = try scratch.file("batch.ndjson", lines.joined(separator: "\r\n") + "\r\n")
        let (records, problems) = RecordReader.registrations(from: [file])
        #expect(records.map(\.line) == [1, 5])
        #expect(records.map(\.value.reference) == ["nd-1", "nd-2"])
        #expect(problems.count == 1)
        #expect(problems.first?.line == 3)
        #expect(problems.first?.description.hasPrefix("\(file):3: invalid JSON: ") == true)
    }

    @Test func jsonlElementThatIsNotAnObjectIsReported() throws {
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("list.jsonl", "[1, 2]\n")])
        #expect(records.isEmpty)
        #expect(problems.map(\.line) == [1])
        #expect(problems.first?.message.contains("expected a JSON object") == true)
    }

    // MARK: Files

    @Test func missingFileIsOneProblemAndTheOtherFilesAreStillRead() {
        let missing = "/nonexistent/registrations.json"
        let example = Repository.path("docs/contracts/registration.submitted.example.json")
        let (records, problems) = RecordReader.registrations(from: [missing, example])
        #expect(records.count == 1)
        #expect(problems == [InputProblem(file: missing, line: nil, message: "no such file")])
        #expect(problems.first?.description == "/nonexistent/registrations.json: no such file")
    }

    @Test func directoryUnknownExtensionEmptyFileAndCSVProgrammeAreProblems() throws {
        let scratch = try Scratch()
        let empty = try scratch.file("empty.ndjson", "\n\n")
        let unknown = try scratch.file("registrations.txt", "{}")
        let (_, problems) = RecordReader.registrations(from: [scratch.directory.path, empty, unknown])
        #expect(
            problems.map(\.message) == [
                "is a directory, not a file", "contains no records",
                "unknown format: the file name must end in .json, .ndjson, .jsonl or .csv",
            ])
        let (_, programmeProblems) = RecordReader.programmes(from: [try scratch.file("programme.csv", "event_id\n")])
        #expect(programmeProblems.map(\.message) == ["programmes are read from .json, .ndjson or .jsonl files, not CSV"])
    }

    @Test func invalidUTF8IsReportedWithItsLine() throws {
        let scratch = try Scratch()
        let url = scratch.directory.appendingPathComponent("latin1.csv")
        try Data("event_id\nNguy".utf8 + [0xEA, 0x6E] + Data("\n".utf8)).write(to: url)
        let (_, problems) = RecordReader.registrations(from: [url.path])
        #expect(problems.map(\.line) == [2])
        #expect(problems.first?.message.contains("UTF-8") == true)
    }

    @Test func duplicatesAcrossAndWithinFilesNameBothLines() throws {
        let scratch = try Scratch()
        let example = Repository.path("docs/contracts/registration.submitted.example.json")
        let line = try Self.compactJSON(Self.exampleObject(reference: "nic-form-2026-0042"))
        let amended = try Self.compactJSON(Self.exampleObject(reference: "nic-form-2026-0042", revision: 2))
        let batch = try scratch.file("batch.ndjson", [amended, line, amended].joined(separator: "\n"))

        let (records, problems) = RecordReader.registrations(from: [example, batch])
        #expect(records.count == 4, "a duplicate is a problem, not an invalid record")
        #expect(problems.count == 2)
        #expect(problems.map(\.file) == [batch, batch])
        #expect(problems.map(\.line) == [2, 3])
        #expect(problems.first?.message.contains("revision 1) is also at \(example):1") == true)
        #expect(problems.last?.message.contains("revision 2) is also at line 1") == true)
    }

    @Test func duplicateProgrammeVersionsAreReported() throws {
        let programme = Repository.path("deploy/sample-data/programme.json")
        let (records, problems) = RecordReader.programmes(from: [programme, programme])
        #expect(records.count == 2)
        #expect(problems.map(\.line) == [1])
        #expect(problems.first?.message.contains("is also at line 1") == true)
    }

    // MARK: CSV

    @Test func csvQuotedCommasNewlinesAndQuotesWithBOMAndCRLF() throws {
        let text =
            "\u{FEFF}"
            + [
                Self.csvHeader,
                Self.csvRow(reference: "q-1", delegate: "Li Wei", extra: ["delegate_title": "\"Head of \"\"Smart\"\" Logistics, Asia\""]),
                Self.csvRow(reference: "q-1", delegate: "Wang Fang", extra: ["accessibility_needs": "\"wheelchair,\r\nstep-free access\""]),
                Self.csvRow(reference: "q-2", delegate: "Chen Jie"),
            ].joined(separator: "\r\n") + "\r\n"
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("quoted.csv", text)])
        #expect(problems == [])
        #expect(records.map(\.line) == [2, 5])
        let delegates = try #require(records.first?.value.delegates)
        #expect(delegates.map(\.name) == ["Li Wei", "Wang Fang"])
        #expect(delegates[0].title == "Head of \"Smart\" Logistics, Asia")
        #expect(delegates[1].accessibilityNeeds == "wheelchair,\r\nstep-free access")
        #expect(records.first?.value.eventID == "danang-china-2026-01", "the BOM is not part of the first column's name")
    }

    @Test func csvMissingRequiredColumnsAreListedOnTheHeaderLine() throws {
        let columns = Self.csvColumns.filter { $0 != "delegate_language" && $0 != "consent" }
        let header = columns.joined(separator: ",")
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [
            try scratch.file("missing.csv", header + "\n" + columns.map { _ in "x" }.joined(separator: ",") + "\n")
        ])
        #expect(records.isEmpty)
        #expect(problems.count == 1)
        #expect(problems.first?.line == 1)
        #expect(problems.first?.message == "missing required columns: consent, delegate_language")
    }

    @Test func csvUnknownColumnIsReportedOnTheHeaderLine() throws {
        let text = [Self.csvHeader + ",Favourite colour", Self.csvRow(reference: "u-1", delegate: "Li Wei") + ",blue"].joined(
            separator: "\n")
        let scratch = try Scratch()
        let (_, problems) = RecordReader.registrations(from: [try scratch.file("unknown.csv", text)])
        #expect(problems.count == 1)
        #expect(problems.first?.line == 1)
        #expect(problems.first?.message.hasPrefix("unknown column 'Favourite colour'; the columns are: event_id, reference,") == true)
    }

    @Test func csvRegistrationColumnsThatDisagreeAcrossADelegationNameBothLines() throws {
        let text = [
            Self.csvHeader,
            Self.csvRow(reference: "d-1", delegate: "Li Wei"),
            Self.csvRow(reference: "d-2", delegate: "Zhao Lei"),
            Self.csvRow(
                reference: "d-1", delegate: "Wang Fang", extra: ["organisation": "Hailian Logistics", "sectors": "logistics ; e-commerce"]),
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("disagree.csv", text)])
        #expect(records.map(\.value.reference) == ["d-2"])
        #expect(problems.count == 1, "lists compare by their items: 'logistics ; e-commerce' agrees")
        #expect(problems.first?.line == 4)
        #expect(problems.first?.path == "organisation")
        #expect(problems.first?.message.contains("on line 2") == true)
        #expect(problems.first?.message.contains("'Hailian Logistics' here but 'Shenzhen Hailian Logistics Co., Ltd.'") == true)
    }

    @Test func csvBadBooleanIsReportedWithItsRowAndColumn() throws {
        let text = [
            Self.csvHeader,
            Self.csvRow(reference: "b-1", delegate: "Li Wei"),
            Self.csvRow(reference: "b-1", delegate: "Wang Fang", extra: ["needs_interpreter": "maybe"]),
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let file = try scratch.file("boolean.csv", text)
        let (records, problems) = RecordReader.registrations(from: [file])
        #expect(records.isEmpty)
        #expect(problems.map(\.description) == ["\(file):3: needs_interpreter: 'maybe' is not yes, no, true or false"])
    }

    @Test func csvChannelsAndOpenIDsReachTheMessageAndABadChannelNameIsReported() throws {
        let header = Self.csvHeader + ",lead_channels,lead_wechat_openid,delegate_channels,delegate_wechat_openid"
        let text = [
            header,
            Self.csvRow(reference: "c-1", delegate: "Li Wei") + ",wechat;SMS;email,oLiWei01,wechat,oLiWei01",
            Self.csvRow(reference: "c-1", delegate: "Wang Fang") + ",wechat;SMS;email,oLiWei01,,",
            Self.csvRow(reference: "c-2", delegate: "Zhao Lei") + ",fax machine,,,",
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let file = try scratch.file("channels.csv", text)
        let (records, problems) = RecordReader.registrations(from: [file])
        let delegation = try #require(records.first { $0.value.reference == "c-1" }?.value.delegation)
        #expect(delegation.leadContact.channels == [.wechat, .sms, .email] && delegation.leadContact.wechatOpenID == "oLiWei01")
        #expect(delegation.delegates.map(\.channels) == [[.wechat], nil])
        #expect(delegation.delegates.map(\.wechatOpenID) == ["oLiWei01", nil])
        #expect(
            problems.map(\.description) == [
                "\(file):4: lead_channels: 'fax machine' is not a channel name: lowercase letters, digits and -, e.g. wechat;sms;email"
            ])
    }

    static let badLead = ["lead_email": "nobody", "sectors": "logistics;;" + String(repeating: "x", count: 51)]

    @Test func csvValidatorIssuesPointAtTheDelegatesRowAndColumn() throws {
        let text = [
            Self.csvHeader,
            Self.csvRow(reference: "e-1", delegate: "Li Wei"),
            Self.csvRow(reference: "e-1", delegate: "Wang Fang", extra: ["delegate_email": "wang.fang(at)hailian.example.cn"]),
            Self.csvRow(reference: "e-2", delegate: "Zhao Lei", extra: Self.badLead),
            Self.csvRow(reference: "e-2", delegate: "Zhao Lei", extra: Self.badLead),
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("email.csv", text)])
        #expect(records.isEmpty)
        #expect(problems.map(\.line) == [3, 4, 4, 5])
        #expect(problems.map(\.path) == ["delegate_email", "sectors", "lead_email", "delegate_email"])
        #expect(problems.first?.message == "delegates[1].email is not an e-mail address")
        #expect(problems.last?.message == "the same e-mail address is given for the delegate on line 4")
    }

    @Test func csvCellsThatCannotBeReadAreEachReported() throws {
        let text = [
            Self.csvHeader + ",document_kind,document_number,submitted_at",
            Self.csvRow(reference: "c-1", delegate: "Li Wei", extra: ["role": "guest", "delegate_language": "fr"])
                + ",visa,E1234567,yesterday",
            Self.csvRow(reference: "c-2", delegate: "") + ",,,",
            "danang-china-2026-01,c-3,too few",
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("cells.csv", text)])
        #expect(records.isEmpty)
        let found = problems.map { "\($0.line ?? 0) \($0.path ?? "-")" }
        #expect(
            found == [
                "2 role", "2 delegate_language", "2 document_kind", "2 document_issuing_country", "2 document_full_name",
                "2 document_expires_on",
                "2 submitted_at", "3 delegate_name", "4 -",
            ])
        #expect(problems.last?.message == "has 3 fields but the header (line 1) has 19")
    }

    @Test func csvSyntaxErrorsAreReportedAndTheOtherRowsStillRead() throws {
        let text = [
            Self.csvHeader,
            Self.csvRow(reference: "s-1", delegate: "Li \"Wei\""),
            Self.csvRow(reference: "s-2", delegate: "Wang Fang"),
            Self.csvRow(reference: "s-3", delegate: "Chen Jie"),
            Self.csvRow(reference: "s-4", delegate: "\"Zhao Lei"),
        ].joined(separator: "\n")
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("syntax.csv", text)])
        #expect(records.map(\.value.reference) == ["s-2", "s-3"])
        #expect(problems.map(\.line) == [2, 5])
        #expect(problems.allSatisfy { $0.message.hasPrefix("invalid CSV: ") })
    }

    @Test func csvWithOnlyAHeaderHasNoRecords() throws {
        let scratch = try Scratch()
        let (records, problems) = RecordReader.registrations(from: [try scratch.file("header.csv", Self.csvHeader + "\n,,,,,,,,,,,,\n")])
        #expect(records.isEmpty)
        #expect(problems.map(\.message) == ["contains no records"])
    }

    @Test func problemDescriptionLeavesOutWhatIsUnknown() {
        #expect(
            InputProblem(file: "a.json", line: 3, path: "delegates[1].email", message: "bad").description
                == "a.json:3: delegates[1].email: bad")
        #expect(InputProblem(file: "a.json", line: 3, message: "bad").description == "a.json:3: bad")
        #expect(InputProblem(file: "a.json", line: nil, message: "bad").description == "a.json: bad")
    }

    // MARK: The CSV parser

    @Suite struct CSVParsing {
        @Test func quotedFieldsEscapesAndLineNumbers() {
            let csv = CSV(parsing: "\u{FEFF}a,\"b, c\",\"d \"\"e\"\"\"\r\n\"multi\nline\",,x\r\rlast")
            #expect(csv.errors == [])
            #expect(
                csv.records == [
                    CSV.Record(line: 1, fields: ["a", "b, c", "d \"e\""]),
                    CSV.Record(line: 2, fields: ["multi\nline", "", "x"]),
                    CSV.Record(line: 4, fields: [""]),
                    CSV.Record(line: 5, fields: ["last"]),
                ])
        }

        @Test func aFinalLineBreakMakesNoEmptyRecord() {
            #expect(CSV(parsing: "a,b\n").records == [CSV.Record(line: 1, fields: ["a", "b"])])
            #expect(CSV(parsing: "a,b\r\n").records == [CSV.Record(line: 1, fields: ["a", "b"])])
            #expect(CSV(parsing: "").records == [])
            #expect(CSV(parsing: "a,\n").records == [CSV.Record(line: 1, fields: ["a", ""])])
        }

        @Test func malformedRecordsAreLeftOutWithTheLineOfTheMistake() {
            let csv = CSV(parsing: "ok,1\nbad\"quote,2\n\"closed\"junk,3\nok,4\n\"never closed,5\nstill inside\n")
            #expect(csv.records == [CSV.Record(line: 1, fields: ["ok", "1"]), CSV.Record(line: 4, fields: ["ok", "4"])])
            #expect(csv.errors.map(\.line) == [2, 3, 5])
        }
    }

    // MARK: Helpers

    /// The columns the CSV tests use: the required ones and a few optional ones.
    static let csvColumns = [
        "event_id", "reference", "organisation", "country", "sectors", "role", "lead_contact", "lead_email", "lead_language", "consent",
        "delegate_name", "delegate_title", "delegate_email", "delegate_language", "needs_interpreter", "accessibility_needs",
    ]

    static var csvHeader: String { csvColumns.joined(separator: ",") }

    /// A row of `csvHeader` (fields already CSV-quoted where `extra` needs it).
    static func csvRow(reference: String, delegate: String, extra: [String: String] = [:]) -> String {
        let email =
            delegate.lowercased().replacingOccurrences(of: " ", with: ".").filter { $0.isLetter || $0 == "." } + "@hailian.example.cn"
        var values: [String: String] = [
            "event_id": "danang-china-2026-01", "reference": reference, "organisation": "\"Shenzhen Hailian Logistics Co., Ltd.\"",
            "country": "CN", "sectors": "logistics;e-commerce", "role": "visiting", "lead_contact": "Li Wei",
            "lead_email": "li.wei@hailian.example.cn",
            "lead_language": "zh-Hans", "consent": "yes", "delegate_name": delegate, "delegate_title": "",
            "delegate_email": delegate.isEmpty ? "" : email, "delegate_language": "zh-Hans", "needs_interpreter": "no",
            "accessibility_needs": "",
        ]
        values.merge(extra) { $1 }
        return csvColumns.map { values[$0] ?? "" }.joined(separator: ",")
    }

    /// The committed contract example as a JSON object, with another reference and revision.
    static func exampleObject(reference: String, revision: Int = 1) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Repository.path("docs/contracts/registration.submitted.example.json")))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["reference"] = reference
        object["revision"] = revision
        return object
    }

    static func prettyJSON(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    static func compactJSON(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// `deploy/sample-data/registrations.example.csv`, written as JSON by hand.
    static let exampleCSVAsJSON = """
        [
          {
            "eventID": "danang-china-2026-01",
            "reference": "csv-example-0001",
            "revision": 1,
            "organisation": {
              "name": "Guangzhou Baiyun Smart Logistics Co., Ltd.",
              "localName": "广州白云智慧物流有限公司",
              "country": "CN",
              "sectors": ["logistics", "e-commerce"],
              "website": "https://www.baiyun-logistics.example.cn"
            },
            "role": "visiting",
            "leadContact": {
              "name": "Zhou Min",
              "title": "General Manager",
              "email": "min.zhou@baiyun-logistics.example.cn",
              "phone": "+86 138 0000 1001",
              "language": "zh-Hans"
            },
            "delegates": [
              {
                "name": "Zhou Min",
                "title": "General Manager",
                "email": "min.zhou@baiyun-logistics.example.cn",
                "phone": "+86 138 0000 1001",
                "language": "zh-Hans",
                "needsInterpreter": true,
                "identityDocument": {
                  "kind": "passport", "number": "E12345671", "issuingCountry": "CN", "fullName": "ZHOU MIN",
                  "dateOfBirth": "1975-04-12", "expiresOn": "2031-05-31"
                }
              },
              {
                "name": "Liang Xiaoli",
                "title": "Business Development Manager, Southeast Asia",
                "email": "xiaoli.liang@baiyun-logistics.example.cn",
                "language": "en",
                "needsInterpreter": false,
                "identityDocument": {
                  "kind": "passport", "number": "E12345672", "issuingCountry": "CN", "fullName": "LIANG XIAOLI",
                  "dateOfBirth": "1988-09-03", "expiresOn": "2033-02-14"
                }
              },
              {
                "name": "Huang Jun",
                "title": "Operations Director",
                "language": "zh-Hans",
                "needsInterpreter": true,
                "accessibilityNeeds": "wheelchair, needs step-free access on site visits",
                "identityDocument": {
                  "kind": "passport", "number": "E12345673", "issuingCountry": "CN", "fullName": "HUANG JUN",
                  "expiresOn": "2029-11-30"
                }
              }
            ],
            "interests": {
              "sectors": ["logistics", "e-commerce"],
              "topics": ["vietnam-china-logistics", "supply-chain", "free-trade-zone"]
            },
            "preferredVisits": ["lien-chieu-port", "hightech-park-ftz", "enosta-space"],
            "consent": { "dataProcessing": true, "givenAt": "2026-01-04T09:30:00+07:00" },
            "submittedAt": "2026-01-04T09:41:12+07:00"
          },
          {
            "eventID": "danang-china-2026-01",
            "reference": "csv-example-0002",
            "revision": 2,
            "organisation": {
              "name": "Hangzhou Xixi Digital Marketing Co., Ltd.",
              "localName": "杭州西溪数字营销有限公司",
              "country": "CN",
              "sectors": ["digital-marketing", "ai"],
              "website": "https://www.xixi-digital.example.cn"
            },
            "role": "visiting",
            "leadContact": {
              "name": "Sun Yue",
              "title": "Chief Executive Officer",
              "email": "yue.sun@xixi-digital.example.cn",
              "phone": "+86 139 0000 2002",
              "language": "en"
            },
            "delegates": [
              {
                "name": "Sun Yue",
                "title": "Chief Executive Officer",
                "email": "yue.sun@xixi-digital.example.cn",
                "phone": "+86 139 0000 2002",
                "language": "en"
              }
            ],
            "interests": { "sectors": ["digital-marketing", "ai"], "topics": ["ai-marketing", "startups"] },
            "preferredVisits": ["dsac", "enosta-space"],
            "consent": { "dataProcessing": true, "givenAt": "2026-01-05T14:00:00+07:00" },
            "submittedAt": "2026-01-06T08:05:00+07:00"
          },
          {
            "eventID": "danang-china-2026-01",
            "reference": "csv-example-0003",
            "organisation": {
              "name": "Tien Sa Logistics JSC",
              "localName": "Công ty Cổ phần Logistics Tiên Sa",
              "country": "VN",
              "sectors": ["logistics"],
              "website": "https://www.tiensa-logistics.example.vn"
            },
            "role": "host",
            "leadContact": {
              "name": "Nguyễn Thị Lan",
              "title": "Giám đốc kinh doanh",
              "email": "lan.nguyen@tiensa-logistics.example.vn",
              "phone": "+84 905 000 301",
              "language": "vi"
            },
            "delegates": [
              {
                "name": "Nguyễn Thị Lan",
                "title": "Giám đốc kinh doanh",
                "email": "lan.nguyen@tiensa-logistics.example.vn",
                "phone": "+84 905 000 301",
                "language": "vi"
              },
              {
                "name": "Trần Văn Minh",
                "title": "Trưởng phòng khai thác",
                "email": "minh.tran@tiensa-logistics.example.vn",
                "language": "vi"
              }
            ],
            "interests": {
              "sectors": ["logistics", "e-commerce", "manufacturing"],
              "topics": ["vietnam-china-logistics", "cross-border-e-commerce"]
            },
            "consent": { "dataProcessing": true, "givenAt": "2026-01-06T10:00:00+07:00" },
            "submittedAt": "2026-01-06T10:20:45+07:00"
          }
        ]
        """
}

extension RecordReaderTests {
    /// Files of the repository, found from this source file.
    enum Repository {
        static let root: URL = {
            var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            while directory.path != "/", !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                directory.deleteLastPathComponent()
            }
            return directory
        }()

        static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    }

    /// A temporary directory for one test's input files, removed when the test ends.
    final class Scratch {
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "record-reader-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        /// Writes `contents` (UTF-8) to `name` and returns its path.
        func file(_ name: String, _ contents: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            try Data(contents.utf8).write(to: url)
            return url.path
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }
}

import Foundation
import Testing

@testable import Messages

/// The two readers every body goes through before its fields: repeated keys and date-times.
@Suite struct BodyReadingTests {
    @Test func aRepeatedKeyIsFoundWithItsPathWhereverItIs() {
        #expect(DuplicateKeys.first(in: Data(#"{"a": 1, "b": {"c": [1, {"d": 1, "d": 2}]}}"#.utf8)) == "b.c[1].d")
        #expect(DuplicateKeys.first(in: Data(#"{"a": 1, "\u0061": 2}"#.utf8)) == "a", "keys compare unescaped")
        #expect(DuplicateKeys.first(in: Data(#"[{"x": 1}, {"x": 2}]"#.utf8)) == nil, "the same key in two objects is fine")
        #expect(DuplicateKeys.first(in: Data(#"{"say": "\"a\": 1, \"a\": 2"}"#.utf8)) == nil, "keys inside strings are text")
        #expect(DuplicateKeys.first(in: Data("{\"a\": 1,".utf8)) == nil, "not JSON: the decoder says so")
        #expect(DuplicateKeys.first(in: Data(#"{"名": 1, "名": 2}"#.utf8)) == "名")
    }

    @Test func aBodyNestedWithoutEndIsRefusedNotFollowedDown() throws {
        // A megabyte of `[` (and of `{"a":`) once recursed once per level before the decoder
        // saw it: the stack ran out and the service crashed on every redelivery.
        for opener in ["[", #"{"a":"#] {
            let body = Data(String(repeating: opener, count: 1_000_000 / opener.count).utf8)
            #expect(DuplicateKeys.first(in: body) == nil)
            #expect(throws: MessageDecodingError.self) { try MessageCoding.decode(RegistrationSubmitted.self, from: body) }
        }
        // Within the limit a repeated key is still found, however deep.
        let deep =
            String(repeating: "[", count: DuplicateKeys.maxDepth - 1) + #"{"a": 1, "a": 2}"#
            + String(repeating: "]", count: DuplicateKeys.maxDepth - 1)
        #expect(DuplicateKeys.first(in: Data(deep.utf8))?.hasSuffix("[0].a") == true)
    }

    @Test func dateTimesNeedAnOffsetAndAreReadToTheMillisecond() throws {
        let reference = Date(timeIntervalSince1970: 1_768_287_600)  // 2026-01-13T07:00:00Z
        #expect(MessageCoding.parse("2026-01-13T14:00:00+07:00") == reference)
        #expect(MessageCoding.parse("2026-01-13T07:00:00Z") == reference)
        #expect(MessageCoding.parse("2026-01-13t07:00:00z") == reference)
        #expect(MessageCoding.parse("2026-01-13T06:00:00-01:00") == reference)
        #expect(MessageCoding.parse("2026-01-13T07:00:00.25Z") == reference.addingTimeInterval(0.25))
        let fraction = try #require(MessageCoding.parse("2026-01-13T07:00:00.123456Z"))
        #expect(abs(fraction.timeIntervalSince(reference) - 0.123) < 0.000_001)
        for invalid in [
            "2026-01-13T14:00:00", "2026-01-13 07:00:00Z", "2026-02-30T07:00:00Z", "2026-01-13T24:00:00Z", "2026-01-13T07:00Z",
            "2026-01-13T07:00:00+0700", "2026-01-13T07:00:00.Z", "2026-1-13T07:00:00Z", "",
        ] {
            #expect(MessageCoding.parse(invalid) == nil, "\(invalid)")
        }
    }

    @Test func dateTimesAreWrittenInUTCAndSortableTextSortsAsTime() throws {
        let reference = Date(timeIntervalSince1970: 1_768_287_600)
        #expect(MessageCoding.format(reference) == "2026-01-13T07:00:00Z")
        #expect(MessageCoding.format(reference.addingTimeInterval(0.25)) == "2026-01-13T07:00:00.250Z")
        #expect(MessageCoding.formatSortable(reference) == "2026-01-13T07:00:00.000Z")
        #expect(MessageCoding.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(MessageCoding.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        // Every day from 1900 to 2100 round-trips, and the text of a later time sorts later.
        var previous = ""
        for day in stride(from: -25_567, to: 47_482, by: 1) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 3_723.5)
            let text = MessageCoding.formatSortable(date)
            #expect(MessageCoding.parse(text) == date)
            #expect(text > previous)
            previous = text
        }
    }
}

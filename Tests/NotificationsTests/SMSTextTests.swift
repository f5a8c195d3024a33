import Foundation
import Testing

@testable import NotificationsCore

/// SMS encoding and segments (issue 16): GSM-7 while every character is in its alphabet, UCS-2
/// otherwise (Vietnamese, Chinese); 160/153 septets or 70/67 units a segment; never a character
/// cut in two.
@Suite struct SMSTextTests {
    @Test func plainEnglishIsGSM7AndSplitsAt153OnceLongerThan160() {
        #expect(SMSText("").segments.isEmpty)
        let fits = String(repeating: "a", count: 160)
        #expect(SMSText(fits).encoding == .gsm7 && SMSText(fits).segments == [fits])
        let long = SMSText(String(repeating: "a", count: 161))
        #expect(long.segments.map(\.count) == [153, 8])
        // Extension characters take two septets: 80 of them fill one message, 81 need two.
        #expect(SMSText(String(repeating: "€", count: 80)).segments.count == 1)
        let euros = SMSText(String(repeating: "€", count: 81))
        #expect(euros.encoding == .gsm7 && euros.segments.map(\.count) == [76, 5], "76 × 2 = 152 septets: the 77th would not fit")
    }

    @Test func vietnameseAndChineseAreUCS2In70Or67UnitSegments() {
        let vietnamese = "Xe bus-1 đã khởi hành lúc 07:30 mà thiếu 2 thành viên của đoàn. Xin gọi Ban Tổ chức."
        let message = SMSText(vietnamese)
        #expect(message.encoding == .ucs2)
        #expect(message.segments.count == 2 && message.segments.allSatisfy { $0.utf16.count <= 67 })
        #expect(message.segments.joined() == vietnamese)
        let chinese = String(repeating: "岘港创新中心欢迎您", count: 7)  // 63 units: one message
        #expect(SMSText(chinese).segments == [chinese])
        let longer = SMSText(chinese + "谢谢您参加本次活动")
        #expect(longer.segments.map { $0.utf16.count } == [67, 5])
        // "é" is in the GSM alphabet; "ệ" is not.
        #expect(SMSText("Café").encoding == .gsm7 && SMSText("Việt").encoding == .ucs2)
    }

    @Test func aCharacterOfTwoUnitsIsNeverCutInTwo() {
        let text = String(repeating: "a", count: 66) + "😀" + "bbbbb"  // 73 units: the emoji is a surrogate pair
        let message = SMSText(text)
        #expect(message.encoding == .ucs2)
        #expect(message.segments == [String(repeating: "a", count: 66), "😀bbbbb"])
    }
}

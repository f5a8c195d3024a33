import Foundation

/// An SMS's text as the network carries it: in the GSM 03.38 alphabet (7 bits a character,
/// two for those of its extension table) when every character is in it, else in UCS-2 (16 bits a
/// code unit: Vietnamese with its diacritics, Chinese); split into the segments a concatenated
/// message needs (160 septets or 70 units alone; 153 or 67 each once split, the rest of each
/// segment holds the header that joins them), never inside a character.
public struct SMSText: Sendable, Equatable {
    public enum Encoding: String, Sendable { case gsm7 = "GSM-7", ucs2 = "UCS-2" }

    public let text: String
    public let encoding: Encoding
    public let segments: [String]

    public init(_ text: String) {
        self.text = text
        let gsm = text.unicodeScalars.allSatisfy { Self.basic.contains($0) || Self.extended.contains($0) }
        encoding = gsm ? .gsm7 : .ucs2
        let cost: (Character) -> Int =
            gsm
            ? { character in character.unicodeScalars.reduce(0) { $0 + (Self.extended.contains($1) ? 2 : 1) } }
            : { character in character.utf16.count }
        let (single, part) = gsm ? (160, 153) : (70, 67)
        let total = text.reduce(0) { $0 + cost($1) }
        guard total > single else {
            segments = text.isEmpty ? [] : [text]
            return
        }
        var segments: [String] = []
        var current = ""
        var used = 0
        for character in text {
            let size = cost(character)
            if used + size > part, !current.isEmpty {
                segments.append(current)
                current = ""
                used = 0
            }
            current.append(character)
            used += size
        }
        if !current.isEmpty { segments.append(current) }
        self.segments = segments
    }

    /// The GSM 03.38 default alphabet (without the escape to the extension table).
    static let basic = Set(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)
    /// Its extension table: two septets each (the escape and the character).
    static let extended = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}

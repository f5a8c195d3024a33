import Foundation

/// RFC 3339 date-times, read and written without Foundation's format styles: strict (an offset is
/// required), fast (stores read and write one per row), and free of ICU time-zone objects, whose
/// creation under concurrency crashed Foundation here.
public enum RFC3339 {
    /// Reads `2026-01-13T14:00:00+07:00`, `…T07:00:00Z`, `…T07:00:00.250Z` (`t` and `z` too);
    /// fractions are kept to the millisecond. Nil for anything else, including a time without an
    /// offset, which could be in any zone, and a day that does not exist.
    static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2), expect("Tt"),
            let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2)
        else { return nil }
        var milliseconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var places = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                if places < 3 { milliseconds = milliseconds * 10 + Int(bytes[index] - 0x30) }
                places += 1
                index += 1
            }
            guard places > 0 else { return nil }
            for _ in places..<max(places, 3) { milliseconds *= 10 }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = digits(2), expect(":"), let minutes = digits(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }

    /// `2026-01-13T07:00:00Z` in UTC, to the nearest millisecond; with `.250` milliseconds when
    /// `milliseconds` is true.
    static func format(_ date: Date, milliseconds: Bool) -> String {
        let total = (date.timeIntervalSince1970 * 1000).rounded()
        let wholeMilliseconds = total.isFinite ? Int64(max(min(total, 253_402_300_799_999), -62_135_596_800_000)) : 0
        let (secondsSinceEpoch, millisecond) = floorDivision(wholeMilliseconds, 1000)
        let (days, secondOfDay) = floorDivision(secondsSinceEpoch, 86_400)
        let (year, month, day) = civilFromDays(Int(days))
        let second = Int(secondOfDay)
        var text =
            pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(second / 3600, 2) + ":" + pad(second / 60 % 60, 2) + ":"
            + pad(second % 60, 2)
        if milliseconds { text += "." + pad(Int(millisecond), 3) }
        return text + "Z"
    }

    /// Whether `date` has a part of a second (to the millisecond).
    static func hasFraction(_ date: Date) -> Bool {
        let total = (date.timeIntervalSince1970 * 1000).rounded()
        return total.isFinite && Int64(total) % 1000 != 0
    }

    /// `value` in decimal, zero-padded to `width` digits.
    public static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day since 1970-01-01.
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension TimeZone {
    /// The day (counted from 1970-01-01) and the second of that day this zone's clocks show at
    /// `date`: UTC moved by the zone's offset at that instant, without a `Calendar` (slow to make
    /// and to ask, where times are worked out per item of every itinerary).
    public func wallClock(at date: Date) -> (day: Int, second: Int) {
        let local = Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(secondsFromGMT(for: date))
        let (day, second) = RFC3339.floorDivision(local, 86_400)
        return (Int(day), Int(second))
    }
}

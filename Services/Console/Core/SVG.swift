import Foundation

/// What the console's pictures share: a time axis with an hour grid, the `<svg>` element, numbers
/// and text as SVG takes them.
enum SVG {
    /// Times along x: whole hours around `from`…`to`, between `left` and `width` − 10.
    struct TimeScale {
        let from: TimeInterval
        let to: TimeInterval
        let left: Double
        let right: Double

        init(from: Date, to: Date, left: Double, width: Double) {
            let hour: TimeInterval = 3600
            self.from = floor(from.timeIntervalSince1970 / hour) * hour
            self.to = max(self.from + hour, ceil(to.timeIntervalSince1970 / hour) * hour)
            self.left = left
            right = width - 10
        }

        func x(_ date: Date) -> Double { left + (date.timeIntervalSince1970 - from) / (to - from) * (right - left) }
        func width(_ start: Date, _ end: Date) -> Double { max(2, x(end) - x(start)) }
        func contains(_ date: Date) -> Bool { (from...to).contains(date.timeIntervalSince1970) }

        /// A line and a label (`clock`) at each hour, from `top` to `bottom`.
        func grid(top: Double, bottom: Double, clock: (Date) -> String) -> String {
            var svg = ""
            var tick = from
            while tick <= to {
                let position = x(Date(timeIntervalSince1970: tick))
                svg += """
                    <line class="grid" x1="\(number(position))" y1="\(number(top))" x2="\(number(position))" y2="\(number(bottom))"/>\
                    <text class="hour" x="\(number(position))" y="16">\(clock(Date(timeIntervalSince1970: tick)))</text>
                    """
                tick += 3600
            }
            return svg
        }
    }

    static func open(class name: String, width: Double, height: Double, label: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" class="\(name)" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" \
        aria-label="\(escape(label))">
        """
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// At most `characters` of `text`, an ellipsis marking a cut.
    static func fit(_ text: String, _ characters: Int) -> String {
        text.count > characters ? String(text.prefix(max(1, characters - 1))) + "…" : text
    }
}

/// Text for HTML or SVG: `&`, `<`, `>`, `"` and `'` as entities.
func escape(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.append(character)
        }
    }
    return result
}

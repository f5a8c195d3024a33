import CQRencode
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A QR code (ISO/IEC 18004) of a text, made by the system libqrencode, and drawn as a PNG
/// image (for e-mail, which rarely shows SVG) or as SVG (for pages).
public struct QRCode: Sendable, Equatable {
    /// How much of the code may be damaged and still read: about 7, 15, 25 or 30 %.
    public enum Correction: Sendable {
        case low, medium, quartile, high

        var level: QRecLevel {
            switch self {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        }
    }

    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// The text does not fit a QR code at this correction level.
        case tooLong(bytes: Int)
        /// The library failed otherwise (its errno).
        case failed(Int32)

        public var description: String {
            switch self {
            case .tooLong(let bytes): "\(bytes) bytes do not fit a QR code"
            case .failed(let code): "libqrencode failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// Modules per side (21 for version 1, 4 more per version).
    public let size: Int
    /// Row by row, top to bottom: true for a dark module.
    public let modules: [Bool]

    /// Encodes `text` (UTF-8, 8-bit mode: any text, byte for byte).
    public init(_ text: String, correction: Correction = .medium) throws(Problem) {
        let bytes = Array(text.utf8)
        errno = 0
        let made = bytes.withUnsafeBufferPointer { buffer in
            QRcode_encodeData(Int32(buffer.count), buffer.baseAddress, 0, correction.level)
        }
        guard let code = made else { throw errno == ERANGE ? .tooLong(bytes: bytes.count) : .failed(errno) }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        size = width
        modules = (0..<(width * width)).map { code.pointee.data[$0] & 1 == 1 }
    }

    public func isDark(x: Int, y: Int) -> Bool { modules[y * size + x] }

    // MARK: SVG

    /// The code as an SVG element of `scale` units per module inside a quiet zone of `margin`
    /// modules (the standard asks for 4), dark runs of each row as one path.
    public func svg(scale: Int = 4, margin: Int = 4) -> String {
        let side = (size + 2 * margin) * scale
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x: x, y: y) else {
                    x += 1
                    continue
                }
                var run = 1
                while x + run < size, isDark(x: x + run, y: y) { run += 1 }
                path += "M\((x + margin) * scale) \((y + margin) * scale)h\(run * scale)v\(scale)h-\(run * scale)z"
                x += run
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(side)" height="\(side)" \
            shape-rendering="crispEdges"><rect width="\(side)" height="\(side)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }

    // MARK: PNG

    /// The code as a 1-bit greyscale PNG of `scale` pixels per module inside a quiet zone of
    /// `margin` modules. Its pixels are stored, not compressed (a pass is a few kilobytes).
    public func png(scale: Int = 4, margin: Int = 4) -> Data {
        let side = (size + 2 * margin) * scale
        let rowBytes = (side + 7) / 8
        var pixels = [UInt8]()
        pixels.reserveCapacity(side * (rowBytes + 1))
        for row in 0..<side {
            pixels.append(0)  // filter: none
            var line = [UInt8](repeating: 0xFF, count: rowBytes)  // white
            let y = row / scale - margin
            if y >= 0, y < size {
                for column in 0..<side {
                    let x = column / scale - margin
                    if x >= 0, x < size, isDark(x: x, y: y) { line[column / 8] &= ~(0x80 >> UInt8(column % 8)) }
                }
            }
            pixels += line
        }
        var header = Data()
        header.appendBigEndian(UInt32(side))
        header.appendBigEndian(UInt32(side))
        header += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, filter method 0, no interlace
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", Self.zlibStored(pixels))
        png.appendChunk("IEND", Data())
        return png
    }

    /// `bytes` as a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, type 0).
    static func zlibStored(_ bytes: [UInt8]) -> Data {
        var out = Data([0x78, 0x01])
        var offset = 0
        repeat {
            let count = min(65_535, bytes.count - offset)
            let last = offset + count == bytes.count
            out.append(last ? 1 : 0)
            out.append(UInt8(count & 0xFF))
            out.append(UInt8(count >> 8))
            out.append(UInt8(~count & 0xFF))
            out.append(UInt8((~count >> 8) & 0xFF))
            out += bytes[offset..<(offset + count)]
            offset += count
        } while offset < bytes.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        out.appendBigEndian(b << 16 | a)
        return out
    }

    /// CRC-32 (ISO 3309, as PNG chunks use it).
    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }
}

extension Data {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }

    fileprivate mutating func appendChunk(_ type: String, _ body: Data) {
        appendBigEndian(UInt32(body.count))
        let typed = Data(type.utf8) + body
        append(typed)
        appendBigEndian(QRCode.crc32(typed))
    }
}

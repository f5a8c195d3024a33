import CZlib
import Foundation

/// A body's `content_encoding`: none (or `identity`), `gzip` or `deflate` (zlib-wrapped as HTTP
/// means it, or raw). Anything else is refused with a reason that names it.
public enum ContentEncoding {
    /// The most a compressed body may grow to: a small message that inflates to gigabytes is
    /// refused, not read.
    public static let maximumDecodedSize = 8 << 20

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The body as JSON bytes, decompressed if `encoding` says it is compressed.
    public static func decode(_ body: Data, encoding: String?, limit: Int = maximumDecodedSize) throws(Failure) -> Data {
        let name = encoding?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch name {
        case "", "identity":
            return body
        case "gzip", "x-gzip", "deflate":
            // 15 + 32: a gzip or zlib header, detected. Some senders write raw deflate for
            // `deflate`; that is tried when there is no header.
            for windowBits: Int32 in name == "deflate" ? [15 + 32, -15] : [15 + 32] {
                switch inflate(body, windowBits: windowBits, limit: limit) {
                case .inflated(let data): return data
                case .tooLarge:
                    throw Failure(description: "the \(name) body inflates to more than \(limit) bytes; bodies are refused above that")
                case .notThisFormat: continue
                }
            }
            throw Failure(description: "the body is not valid \(name) data (content_encoding '\(encoding ?? "")')")
        default:
            throw Failure(
                description: "content encoding '\(encoding ?? "")' is not supported: send the JSON as is, or with gzip or deflate")
        }
    }

    private enum Inflated {
        case inflated(Data)
        case tooLarge
        case notThisFormat
    }

    private static func inflate(_ body: Data, windowBits: Int32, limit: Int) -> Inflated {
        var stream = z_stream()
        guard czlib_inflate_init2(&stream, windowBits) == Z_OK else { return .notThisFormat }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = [UInt8](body)
        return input.withUnsafeMutableBufferPointer { source -> Inflated in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while true {
                var status: Int32 = Z_OK
                let produced = chunk.withUnsafeMutableBufferPointer { target -> Int in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return target.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { return .tooLarge }
                switch status {
                case Z_STREAM_END: return .inflated(output)
                case Z_OK: continue
                default: return .notThisFormat  // corrupt, or truncated (Z_BUF_ERROR with no input left)
                }
            }
        }
    }
}

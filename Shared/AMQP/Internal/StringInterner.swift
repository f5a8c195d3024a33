internal import CRabbitMQ

/// Reuses the Swift string for bytes seen recently. Routing keys, exchange names, consumer tags
/// and content types repeat on every delivery; decoding them anew costs an allocation each.
/// Strings of up to 15 UTF-8 bytes are stored inline by Swift and are decoded directly.
struct StringInterner {
    private var entries: [(bytes: [UInt8], string: String)] = []
    private var next = 0
    private let capacity = 32

    mutating func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 15, let base = bytes.bytes else { return CDecode.string(bytes) }
        let raw = UnsafeRawBufferPointer(start: base, count: bytes.len)
        for entry in entries where entry.bytes.count == raw.count && entry.bytes.elementsEqual(raw) {
            return entry.string
        }
        let string = String(decoding: raw, as: UTF8.self)
        if entries.count < capacity {
            entries.append((Array(raw), string))
        } else {
            entries[next] = (Array(raw), string)
            next = (next + 1) % capacity
        }
        return string
    }
}

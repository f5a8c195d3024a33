internal import CRabbitMQ

import struct Foundation.Date

/// Scratch memory for the C structures one librabbitmq call takes (tables, properties,
/// strings). Backed by a librabbitmq pool; `reset()` after the call frees it all at once.
///
/// Used only on the owning connection's thread.
final class CArena {
    private var pool = amqp_pool_t()

    init() { init_amqp_pool(&pool, 16 * 1024) }
    deinit { empty_amqp_pool(&pool) }

    /// Frees everything handed out since the last reset (keeps the blocks for reuse).
    func reset() { recycle_amqp_pool(&pool) }

    func bytes(_ text: String) throws -> amqp_bytes_t {
        var text = text
        return try text.withUTF8 { try bytes(UnsafeRawBufferPointer($0)) }
    }

    func bytes(_ buffer: UnsafeRawBufferPointer) throws -> amqp_bytes_t {
        guard buffer.count > 0 else { return amqp_bytes_t(len: 0, bytes: nil) }
        guard let memory = amqp_pool_alloc(&pool, buffer.count) else { throw Self.noMemory }
        memory.copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
        return amqp_bytes_t(len: buffer.count, bytes: memory)
    }

    /// A NUL-terminated copy, for the few calls that take C strings.
    func cString(_ text: String) throws -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8CString)
        guard let memory = amqp_pool_alloc(&pool, utf8.count) else { throw Self.noMemory }
        utf8.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return UnsafePointer(memory.assumingMemoryBound(to: CChar.self))
    }

    func table(_ table: AMQPTable) throws -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = try allocate(amqp_table_entry_t.self, count: table.count)
        for (index, (key, value)) in table.entries.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[index] = amqp_table_entry_t(key: try bytes(key), value: try fieldValue(value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func fieldValue(_ value: AMQPFieldValue) throws -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .bool(let v):
            field.kind = kind(AMQP_FIELD_KIND_BOOLEAN)
            field.value.boolean = v ? 1 : 0
        case .int8(let v):
            field.kind = kind(AMQP_FIELD_KIND_I8)
            field.value.i8 = v
        case .uint8(let v):
            field.kind = kind(AMQP_FIELD_KIND_U8)
            field.value.u8 = v
        case .int16(let v):
            field.kind = kind(AMQP_FIELD_KIND_I16)
            field.value.i16 = v
        case .uint16(let v):
            field.kind = kind(AMQP_FIELD_KIND_U16)
            field.value.u16 = v
        case .int32(let v):
            field.kind = kind(AMQP_FIELD_KIND_I32)
            field.value.i32 = v
        case .uint32(let v):
            field.kind = kind(AMQP_FIELD_KIND_U32)
            field.value.u32 = v
        case .int64(let v):
            field.kind = kind(AMQP_FIELD_KIND_I64)
            field.value.i64 = v
        case .float(let v):
            field.kind = kind(AMQP_FIELD_KIND_F32)
            field.value.f32 = v
        case .double(let v):
            field.kind = kind(AMQP_FIELD_KIND_F64)
            field.value.f64 = v
        case .decimal(let scale, let v):
            field.kind = kind(AMQP_FIELD_KIND_DECIMAL)
            field.value.decimal = amqp_decimal_t(decimals: scale, value: v)
        case .string(let s):
            field.kind = kind(AMQP_FIELD_KIND_UTF8)
            field.value.bytes = try bytes(s)
        case .bytes(let b):
            field.kind = kind(AMQP_FIELD_KIND_BYTES)
            field.value.bytes = try b.withUnsafeBytes { try bytes($0) }
        case .timestamp(let date):
            field.kind = kind(AMQP_FIELD_KIND_TIMESTAMP)
            field.value.u64 = date.amqpSeconds
        case .array(let values):
            field.kind = kind(AMQP_FIELD_KIND_ARRAY)
            let elements = try allocate(amqp_field_value_t.self, count: max(values.count, 1))
            for (index, element) in values.enumerated() {
                elements[index] = try fieldValue(element)
            }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: values.isEmpty ? nil : elements)
        case .table(let nested):
            field.kind = kind(AMQP_FIELD_KIND_TABLE)
            field.value.table = try table(nested)
        case .void:
            field.kind = kind(AMQP_FIELD_KIND_VOID)
        }
        return field
    }

    private func allocate<T>(_ type: T.Type, count: Int) throws -> UnsafeMutablePointer<T> {
        guard let memory = amqp_pool_alloc(&pool, MemoryLayout<T>.stride * count) else { throw Self.noMemory }
        return memory.bindMemory(to: T.self, capacity: count)
    }

    private func kind(_ k: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: k.rawValue) }

    private static let noMemory = AMQPError.library(
        operation: "allocating AMQP arguments", status: AMQP_STATUS_NO_MEMORY.rawValue, message: "out of memory")
}

/// Copies C values that librabbitmq decoded into Swift values (the C memory is reused later).
enum CDecode {
    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }

    static func byteArray(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }

    static func table(_ table: amqp_table_t) -> AMQPTable {
        guard table.num_entries > 0, let entries = table.entries else { return [:] }
        var result: [String: AMQPFieldValue] = [:]
        result.reserveCapacity(Int(table.num_entries))
        for index in 0..<Int(table.num_entries) {
            result[string(entries[index].key)] = fieldValue(entries[index].value)
        }
        return AMQPTable(result)
    }

    static func fieldValue(_ field: amqp_field_value_t) -> AMQPFieldValue {
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: return .bool(field.value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: return .int8(field.value.i8)
        case AMQP_FIELD_KIND_U8.rawValue: return .uint8(field.value.u8)
        case AMQP_FIELD_KIND_I16.rawValue: return .int16(field.value.i16)
        case AMQP_FIELD_KIND_U16.rawValue: return .uint16(field.value.u16)
        case AMQP_FIELD_KIND_I32.rawValue: return .int32(field.value.i32)
        case AMQP_FIELD_KIND_U32.rawValue: return .uint32(field.value.u32)
        case AMQP_FIELD_KIND_I64.rawValue: return .int64(field.value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: return .int64(Int64(truncatingIfNeeded: field.value.u64))
        case AMQP_FIELD_KIND_F32.rawValue: return .float(field.value.f32)
        case AMQP_FIELD_KIND_F64.rawValue: return .double(field.value.f64)
        case AMQP_FIELD_KIND_DECIMAL.rawValue:
            return .decimal(scale: field.value.decimal.decimals, value: field.value.decimal.value)
        case AMQP_FIELD_KIND_UTF8.rawValue: return .string(string(field.value.bytes))
        case AMQP_FIELD_KIND_BYTES.rawValue: return .bytes(byteArray(field.value.bytes))
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue:
            return .timestamp(Date(timeIntervalSince1970: Double(field.value.u64)))
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            let array = field.value.array
            guard array.num_entries > 0, let entries = array.entries else { return .array([]) }
            return .array((0..<Int(array.num_entries)).map { fieldValue(entries[$0]) })
        case AMQP_FIELD_KIND_TABLE.rawValue: return .table(table(field.value.table))
        default: return .void
        }
    }
}

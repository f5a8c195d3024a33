import struct Foundation.Date

/// One value in an AMQP field table (headers, queue and exchange arguments).
///
/// The cases are the 0-9-1 field types as RabbitMQ reads them. RabbitMQ sends integers in
/// headers it writes (`x-death` counts, `x-delivery-count`) as `.int64`; use `intValue` to
/// read any integer case.
public indirect enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    /// A decimal: `value / 10^scale`.
    case decimal(scale: UInt8, value: UInt32)
    /// A long string (UTF-8).
    case string(String)
    /// A byte array.
    case bytes([UInt8])
    /// Whole seconds since 1970.
    case timestamp(Date)
    case array([AMQPFieldValue])
    case table(AMQPTable)
    case void

    /// Any integer case as `Int64`.
    public var intValue: Int64? {
        switch self {
        case .int8(let v): return Int64(v)
        case .uint8(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int64(let v): return v
        default: return nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(validating: b, as: UTF8.self)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var dateValue: Date? {
        if case .timestamp(let d) = self { return d }
        return nil
    }

    public var arrayValue: [AMQPFieldValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var tableValue: AMQPTable? {
        if case .table(let t) = self { return t }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals become `.int64`, the type RabbitMQ expects for numeric arguments.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: AMQPFieldValue...) { self = .array(elements) }
}

/// An AMQP field table: string keys to typed values.
public struct AMQPTable: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var entries: [String: AMQPFieldValue]

    public init(_ entries: [String: AMQPFieldValue] = [:]) { self.entries = entries }
    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self.entries = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public subscript(key: String) -> AMQPFieldValue? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public var keys: Dictionary<String, AMQPFieldValue>.Keys { entries.keys }

    public func makeIterator() -> Dictionary<String, AMQPFieldValue>.Iterator { entries.makeIterator() }

    /// This table with `other`'s entries added (`other` wins on equal keys).
    public func merging(_ other: AMQPTable) -> AMQPTable {
        AMQPTable(entries.merging(other.entries, uniquingKeysWith: { _, new in new }))
    }
}

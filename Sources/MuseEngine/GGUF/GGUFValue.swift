// GGUFValue: a decoded GGUF metadata value, its wire type tag, and typed convenience accessors.

/// The on-disk type tag of a GGUF metadata value (spec value types 0...12).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Fewest bytes one encoded value of this type can occupy. Used to reject element
    /// counts that the remaining file could not possibly hold *before* allocating.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string: return 8          // u64 length, possibly zero bytes of text
        case .array: return 12          // u32 element type + u64 count
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }
}

/// A GGUF metadata value.
///
/// Not declared `indirect`: the only recursive case stores an `Array`, which is already a
/// heap reference, so boxing every value (there are ~100k in a typical tokenizer) would
/// cost an allocation each and buy nothing.
///
/// Equality compares values, not bit patterns: a NaN float never equals itself.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    /// Elements of one GGUF array. Files always store homogeneous arrays; an empty
    /// array loses its element type on decoding.
    case array([GGUFValue])
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    /// The wire type tag this value is encoded with.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// Any integer case whose value fits in `Int`. Converters disagree on whether counts
    /// are u32, i32 or u64, so callers should read integers through this.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(exactly: v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// Floating-point cases, and integer cases converted to `Double` (e.g. a rope
    /// frequency base written as an integer by some converters).
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        case .int64(let v): return Double(v)
        default: return int.map { Double($0) }
        }
    }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var array: [GGUFValue]? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// The array's elements if every one is a string.
    public var strings: [String]? {
        guard case .array(let elements) = self else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else { return nil }
            result.append(s)
        }
        return result
    }

    /// The array's elements if every one is an integer that fits in `Int`.
    public var ints: [Int]? {
        guard case .array(let elements) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let v = element.int else { return nil }
            result.append(v)
        }
        return result
    }

    /// The array's elements as `Float` if every one is numeric (float or integer).
    public var floats: [Float]? {
        guard case .array(let elements) = self else { return nil }
        var result: [Float] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            if case .float32(let f) = element {
                result.append(f)
            } else if let d = element.double {
                result.append(Float(d))
            } else {
                return nil
            }
        }
        return result
    }
}

// Literals keep hand-built metadata in tests and tools short: `writer["general.name"] = "tiny"`.
extension GGUFValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Float literals become `float32`, the type llama.cpp uses for hyperparameters.
    public init(floatLiteral value: Double) { self = .float32(Float(value)) }
    /// Integer literals become `uint32` when non-negative and in range (what llama.cpp
    /// writes for counts and lengths), else `int32`, else the 64-bit case.
    public init(integerLiteral value: Int64) {
        if let v = UInt32(exactly: value) {
            self = .uint32(v)
        } else if let v = Int32(exactly: value) {
            self = .int32(v)
        } else if value >= 0 {
            self = .uint64(UInt64(value))
        } else {
            self = .int64(value)
        }
    }
    public init(arrayLiteral elements: GGUFValue...) { self = .array(elements) }
}

extension GGUFValue: CustomStringConvertible {
    /// Short human-readable rendering; long arrays are abbreviated.
    public var description: String {
        switch self {
        case .uint8(let v): return "\(v)"
        case .int8(let v): return "\(v)"
        case .uint16(let v): return "\(v)"
        case .int16(let v): return "\(v)"
        case .uint32(let v): return "\(v)"
        case .int32(let v): return "\(v)"
        case .float32(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let v): return "\"\(v)\""
        case .uint64(let v): return "\(v)"
        case .int64(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .array(let elements):
            let shown = elements.prefix(8).map(\.description).joined(separator: ", ")
            let more = elements.count > 8 ? ", … (\(elements.count) elements)" : ""
            return "[\(shown)\(more)]"
        }
    }
}

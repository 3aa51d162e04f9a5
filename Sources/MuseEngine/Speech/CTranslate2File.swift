// A reader for CTranslate2's model file (`model.bin`), the format faster-whisper's conversions
// ship in. Every field is checked against the file's size before it is read, so a truncated or
// hostile file gives an error naming the offset, never a crash or a huge allocation.
import CMuseKernels
import Foundation

/// A reason a CTranslate2 model file could not be read.
public enum CTranslate2Error: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case truncated(at: Int, needed: Int, available: Int)
    /// Binary versions 1 to 6 are read.
    case unsupportedVersion(UInt32)
    case invalidString(at: Int)
    /// A count or size that the rest of the file could not hold.
    case countTooLarge(what: String, count: Int, at: Int)
    case unknownDataType(UInt8, variable: String, at: Int)
    /// A variable's byte count disagrees with its shape and type.
    case sizeMismatch(variable: String, shape: [Int], bytes: Int, at: Int)
    case duplicateVariable(String, at: Int)
    /// An alias names a variable the file does not have.
    case danglingAlias(String, target: String, at: Int)
    /// Bytes after the last field.
    case trailingBytes(at: Int, count: Int)
    /// The model lacks a variable, or has it in another shape or type.
    case missingVariable(String)
    case badShape(variable: String, expected: [Int], found: [Int])
    case unsupportedDataType(variable: String, type: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "Cannot open CTranslate2 model '\(path)': \(reason)."
        case let .truncated(at, needed, available):
            "The CTranslate2 model file is truncated: \(needed) bytes are needed at offset \(at) but only \(available) remain."
        case .unsupportedVersion(let version):
            "Unsupported CTranslate2 model: binary version \(version) at offset 0 (versions 1 to 6 are read)."
        case .invalidString(let at): "Corrupt CTranslate2 model: the string at offset \(at) is not valid UTF-8 ending in NUL."
        case let .countTooLarge(what, count, at):
            "Corrupt CTranslate2 model: the \(what) \(count) at offset \(at) is larger than the rest of the file could hold."
        case let .unknownDataType(type, variable, at):
            "Corrupt CTranslate2 model: variable '\(variable)' has unknown data type \(type) at offset \(at)."
        case let .sizeMismatch(variable, shape, bytes, at):
            "Corrupt CTranslate2 model: variable '\(variable)' of shape \(shape) declares \(bytes) bytes at offset \(at), which its shape and type do not give."
        case let .duplicateVariable(name, at): "Corrupt CTranslate2 model: variable '\(name)' appears a second time at offset \(at)."
        case let .danglingAlias(alias, target, at):
            "Corrupt CTranslate2 model: alias '\(alias)' at offset \(at) names '\(target)', which the file does not have."
        case let .trailingBytes(at, count): "Corrupt CTranslate2 model: \(count) unexpected bytes after the last field, at offset \(at)."
        case .missingVariable(let name): "The model has no variable '\(name)'; it is not the model this reader expects."
        case let .badShape(variable, expected, found):
            "The model's variable '\(variable)' has shape \(found), expected \(expected)."
        case let .unsupportedDataType(variable, type):
            "The model's variable '\(variable)' is \(type); only float32, float16 and bfloat16 weights are read (convert without quantization)."
        }
    }
}

/// One variable of a CTranslate2 model: its shape, its element type and where its bytes are.
public struct CTranslate2Variable: Sendable, Equatable {
    public enum DataType: UInt8, Sendable, CaseIterable {
        case float32 = 0, int8, int16, int32, float16, bfloat16

        var size: Int {
            switch self {
            case .int8: 1
            case .int16, .float16, .bfloat16: 2
            case .float32, .int32: 4
            }
        }
    }

    public var name: String
    public var shape: [Int]
    public var type: DataType
    /// Absolute offset of the first byte.
    public var offset: Int
    public var byteCount: Int

    public var count: Int { shape.reduce(1, *) }
}

/// A parsed `model.bin`. The file's bytes are mapped and kept for the variables to be read from.
public struct CTranslate2File: @unchecked Sendable {
    public let version: UInt32
    /// The model specification's name (`WhisperSpec`), empty before binary version 2.
    public let spec: String
    public let specRevision: UInt32
    public let variables: [String: CTranslate2Variable]
    /// Alias name to the variable it stands for.
    public let aliases: [String: String]
    private let bytes: Data

    public init(path: String) throws(CTranslate2Error) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
        try self.init(data: data)
    }

    public init(data: Data) throws(CTranslate2Error) {
        bytes = data
        var parsed: (UInt32, String, UInt32, [String: CTranslate2Variable], [String: String])?
        var failure: CTranslate2Error?
        data.withUnsafeBytes { buffer in
            do throws(CTranslate2Error) {
                var cursor = Cursor(buffer: buffer)
                parsed = try Self.parse(&cursor)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        guard let parsed else { throw .truncated(at: 0, needed: 4, available: data.count) }
        (version, spec, specRevision, variables, aliases) = parsed
    }

    /// The variable `name` (or the one an alias names).
    public func variable(_ name: String) throws(CTranslate2Error) -> CTranslate2Variable {
        guard let variable = variables[aliases[name] ?? name] else { throw .missingVariable(name) }
        return variable
    }

    /// The variable's elements as floats, checking its shape when `shape` is given.
    public func floats(_ name: String, shape: [Int]? = nil) throws(CTranslate2Error) -> [Float] {
        let v = try variable(name)
        if let shape, shape != v.shape { throw .badShape(variable: name, expected: shape, found: v.shape) }
        let count = v.count
        switch v.type {
        case .float32, .float16, .bfloat16: break
        default: throw .unsupportedDataType(variable: name, type: "\(v.type)")
        }
        return bytes.withUnsafeBytes { buffer in
            let start = buffer.baseAddress! + v.offset
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch v.type {
                case .float32:
                    memcpy(out.baseAddress!, start, count * 4)
                case .float16:
                    // Copied first: the file does not align its variables.
                    let halves = [UInt16](unsafeUninitializedCapacity: count) { h, n in
                        memcpy(h.baseAddress!, start, count * 2)
                        n = count
                    }
                    halves.withUnsafeBufferPointer { muse_f16_to_f32_row($0.baseAddress, out.baseAddress, Int64(count)) }
                default:
                    for i in 0..<count {
                        let high = start.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                        out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: high)) << 16)
                    }
                }
                initialized = count
            }
        }
    }

    /// The variable's elements as fp16 (exact for a float16 variable, rounded from the others).
    public func halves(_ name: String, shape: [Int]? = nil) throws(CTranslate2Error) -> [UInt16] {
        let v = try variable(name)
        if v.type == .float16 {
            if let shape, shape != v.shape { throw .badShape(variable: name, expected: shape, found: v.shape) }
            return bytes.withUnsafeBytes { buffer in
                [UInt16](unsafeUninitializedCapacity: v.count) { out, initialized in
                    memcpy(out.baseAddress!, buffer.baseAddress! + v.offset, v.count * 2)
                    initialized = v.count
                }
            }
        }
        let values = try floats(name, shape: shape)
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { muse_f32_to_f16_row($0.baseAddress, &out, Int64(values.count)) }
        return out
    }

    /// A scalar integer variable (the spec's `num_heads`, say), nil if absent or not an integer.
    public func integer(_ name: String) -> Int? {
        guard let v = try? variable(name), v.count == 1 else { return nil }
        return bytes.withUnsafeBytes { buffer in
            switch v.type {
            case .int8: Int(Int8(bitPattern: buffer[v.offset]))
            case .int16: Int(Int16(littleEndian: buffer.loadUnaligned(fromByteOffset: v.offset, as: Int16.self)))
            case .int32: Int(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: v.offset, as: Int32.self)))
            default: nil
            }
        }
    }

    /// The names of all variables, sorted.
    public var names: [String] { variables.keys.sorted() }

    private static func parse(_ c: inout Cursor) throws(CTranslate2Error) -> (UInt32, String, UInt32, [String: CTranslate2Variable], [String: String]) {
        let version = try c.load(UInt32.self)
        guard (1...6).contains(version) else { throw .unsupportedVersion(version) }
        var spec = "", revision: UInt32 = 1
        if version >= 2 {
            spec = try c.string()
            revision = try c.load(UInt32.self)
        }
        let countAt = c.pos
        let count = Int(try c.load(UInt32.self))
        // A variable takes at least a 2-byte name length, a NUL and a rank byte.
        guard count <= c.remaining / 4 else { throw .countTooLarge(what: "variable count", count: count, at: countAt) }
        var variables: [String: CTranslate2Variable] = [:]
        for _ in 0..<count {
            let at = c.pos
            let name = try c.string()
            let rank = Int(try c.load(UInt8.self))
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let dimAt = c.pos
                let dim = Int(try c.load(UInt32.self))
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow, product <= c.size else { throw .countTooLarge(what: "dimension", count: dim, at: dimAt) }
                elements = product
                shape.append(dim)
            }
            let type: CTranslate2Variable.DataType
            let byteCount: Int
            if version >= 4 {
                let typeAt = c.pos
                let raw = try c.load(UInt8.self)
                guard let known = CTranslate2Variable.DataType(rawValue: raw) else {
                    throw .unknownDataType(raw, variable: name, at: typeAt)
                }
                type = known
                let bytesAt = c.pos
                byteCount = Int(try c.load(UInt32.self))
                guard byteCount == elements * type.size else {
                    throw .sizeMismatch(variable: name, shape: shape, bytes: byteCount, at: bytesAt)
                }
            } else {
                // Before version 4 the type was an item size: 4 (float32), 2 (int16) or 1 (int8).
                let sizeAt = c.pos
                let itemSize = try c.load(UInt8.self)
                switch itemSize {
                case 4: type = .float32
                case 2: type = .int16
                case 1: type = .int8
                default: throw .unknownDataType(itemSize, variable: name, at: sizeAt)
                }
                byteCount = elements * type.size
            }
            try c.require(byteCount)
            guard variables[name] == nil else { throw .duplicateVariable(name, at: at) }
            variables[name] = CTranslate2Variable(name: name, shape: shape, type: type, offset: c.pos, byteCount: byteCount)
            c.pos += byteCount
        }
        var aliases: [String: String] = [:]
        if version >= 3 {
            let aliasCountAt = c.pos
            let aliasCount = Int(try c.load(UInt32.self))
            guard aliasCount <= c.remaining / 6 else { throw .countTooLarge(what: "alias count", count: aliasCount, at: aliasCountAt) }
            for _ in 0..<aliasCount {
                let at = c.pos
                let alias = try c.string()
                let target = try c.string()
                guard variables[target] != nil else { throw .danglingAlias(alias, target: target, at: at) }
                aliases[alias] = target
            }
        }
        guard c.remaining == 0 else { throw .trailingBytes(at: c.pos, count: c.remaining) }
        return (version, spec, revision, variables, aliases)
    }

    /// A bounds-checked read position.
    private struct Cursor {
        let buffer: UnsafeRawBufferPointer
        var pos = 0

        var size: Int { buffer.count }
        var remaining: Int { buffer.count - pos }

        func require(_ count: Int) throws(CTranslate2Error) {
            if count > remaining { throw .truncated(at: pos, needed: count, available: remaining) }
        }

        mutating func load<T: FixedWidthInteger>(_: T.Type) throws(CTranslate2Error) -> T {
            try require(MemoryLayout<T>.size)
            let value = buffer.loadUnaligned(fromByteOffset: pos, as: T.self)
            pos += MemoryLayout<T>.size
            return T(littleEndian: value)
        }

        /// A uint16 length, then that many bytes ending in NUL.
        mutating func string() throws(CTranslate2Error) -> String {
            let at = pos
            let length = Int(try load(UInt16.self))
            try require(length)
            guard length > 0, buffer[pos + length - 1] == 0,
                  let text = String(validating: UnsafeRawBufferPointer(rebasing: buffer[pos..<(pos + length - 1)]), as: UTF8.self)
            else { throw .invalidString(at: at) }
            pos += length
            return text
        }
    }
}

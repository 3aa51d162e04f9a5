// GGUFWriter: builds valid GGUF v2/v3 files in memory, mainly for tests and synthetic models.

import Foundation

/// Builds a GGUF file in memory.
///
/// ```swift
/// var w = GGUFWriter()
/// w["general.architecture"] = "llama"
/// w["llama.block_count"] = 2                    // integer literals become uint32
/// w["tokenizer.ggml.tokens"] = .array(["a", "b"])
/// w.addTensor("output_norm.weight", shape: [4], floats: [1, 1, 1, 1])
/// let file = try GGUFFile(data: w.serialize())
/// ```
///
/// The writer only produces valid files: misuse (heterogeneous arrays, wrong byte counts,
/// duplicate tensors, bad shapes) is a programmer error and traps with a message. Tests that
/// need malformed files should patch the serialized bytes or build them by hand.
public struct GGUFWriter: Sendable {
    /// One tensor queued for writing.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let type: GGMLType
        public let bytes: [UInt8]
    }

    /// 2 or 3; the two versions share one little-endian layout.
    public let version: UInt32
    /// Alignment of the data section and of every tensor. When it differs from the default
    /// of 32 the writer records it as `general.alignment` (uint32), as the first key.
    public let alignment: Int

    /// Metadata keys in insertion order (excluding the implicit `general.alignment`).
    public private(set) var metadataKeys: [String] = []
    private var values: [String: GGUFValue] = [:]
    public private(set) var tensors: [Tensor] = []
    private var tensorNames: Set<String> = []

    public init(version: UInt32 = 3, alignment: Int = GGUFFile.defaultAlignment) {
        precondition(version == 2 || version == 3, "GGUFWriter writes GGUF v2 or v3, not v\(version)")
        precondition(
            alignment > 0 && alignment & (alignment - 1) == 0 && alignment <= Int(UInt32.max),
            "GGUF alignment must be a power of two that fits in uint32, got \(alignment)")
        self.version = version
        self.alignment = alignment
    }

    /// The metadata exactly as a reader will see it (including `general.alignment` if emitted).
    public var metadata: [String: GGUFValue] {
        var all = values
        if let a = implicitAlignmentValue { all["general.alignment"] = a }
        return all
    }

    /// Gets or sets a metadata value. Setting an existing key replaces it in place (keeping
    /// its position); setting nil removes it.
    public subscript(key: String) -> GGUFValue? {
        get { key == "general.alignment" ? metadata[key] : values[key] }
        set {
            precondition(
                key != "general.alignment",
                "set GGUFWriter(alignment:) instead of the general.alignment key")
            guard let newValue else {
                if values.removeValue(forKey: key) != nil { metadataKeys.removeAll { $0 == key } }
                return
            }
            Self.checkEncodable(newValue, key: key)
            if values.updateValue(newValue, forKey: key) == nil { metadataKeys.append(key) }
        }
    }

    /// Same as `self[key] = value`, for chaining-free call sites.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        self[key] = value
    }

    /// Queues a tensor. `bytes` must be exactly the size ggml expects for `shape` and `type`.
    public mutating func addTensor(
        _ name: String, shape: [Int], type: GGMLType, bytes: some Collection<UInt8>
    ) {
        precondition(!tensorNames.contains(name), "duplicate tensor name '\(name)'")
        precondition((1...4).contains(shape.count), "tensor '\(name)' must have 1 to 4 dimensions, got \(shape)")
        precondition(shape.allSatisfy { $0 > 0 }, "tensor '\(name)' has a non-positive dimension: \(shape)")
        precondition(
            shape[0] % type.blockSize == 0,
            "tensor '\(name)': ne[0] = \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
        var expected = type.byteCount(elements: shape[0])
        for d in shape.dropFirst() {
            expected = expected.flatMap { e in
                let (p, o) = e.multipliedReportingOverflow(by: d)
                return o ? nil : p
            }
        }
        guard let expected else { preconditionFailure("tensor '\(name)' is too large: \(shape)") }
        let data = Array(bytes)
        precondition(
            data.count == expected,
            "tensor '\(name)' \(shape) of type \(type.name) needs \(expected) bytes, got \(data.count)")
        tensorNames.insert(name)
        tensors.append(Tensor(name: name, shape: shape, type: type, bytes: data))
    }

    /// Drops a queued tensor (tests use it to make files that lack one).
    public mutating func removeTensor(_ name: String) {
        tensorNames.remove(name)
        tensors.removeAll { $0.name == name }
    }

    /// Queues an F32 tensor from host floats.
    public mutating func addTensor(_ name: String, shape: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { Self.append(f.bitPattern, to: &bytes) }
        addTensor(name, shape: shape, type: .f32, bytes: bytes)
    }

    /// The complete file.
    public func serialize() -> Data {
        Data(serializedBytes())
    }

    /// The complete file as a byte array (handy for patching in malformed-file tests).
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096 + tensors.reduce(0) { $0 + $1.bytes.count + alignment })

        Self.append(GGUFParser.magic, to: &out)
        Self.append(version, to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        let implicit = implicitAlignmentValue
        Self.append(UInt64(metadataKeys.count + (implicit == nil ? 0 : 1)), to: &out)

        if let implicit { Self.appendKeyValue("general.alignment", implicit, to: &out) }
        for key in metadataKeys {
            Self.appendKeyValue(key, values[key].unsafelyUnwrapped, to: &out)
        }

        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset = Self.align(offset + t.bytes.count, alignment)
        }
        for (t, off) in zip(tensors, offsets) {
            Self.appendString(t.name, to: &out)
            Self.append(UInt32(t.shape.count), to: &out)
            for d in t.shape { Self.append(UInt64(d), to: &out) }
            Self.append(t.type.rawValue, to: &out)
            Self.append(UInt64(off), to: &out)
        }

        // The data section starts aligned, and each tensor is padded so the next one is too;
        // the file also ends padded, as ggml's writer does.
        out.append(contentsOf: repeatElement(0, count: Self.align(out.count, alignment) - out.count))
        for t in tensors {
            out.append(contentsOf: t.bytes)
            out.append(contentsOf: repeatElement(0, count: Self.align(out.count, alignment) - out.count))
        }
        return out
    }

    /// Writes the file to `path`, replacing any existing file.
    public func write(toFile path: String) throws {
        try serialize().write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    // MARK: - Encoding

    private var implicitAlignmentValue: GGUFValue? {
        alignment == GGUFFile.defaultAlignment ? nil : .uint32(UInt32(alignment))
    }

    private static func align(_ n: Int, _ alignment: Int) -> Int {
        (n + alignment - 1) / alignment * alignment
    }

    private static func checkEncodable(_ value: GGUFValue, key: String, depth: Int = 0) {
        guard case .array(let elements) = value else { return }
        precondition(
            depth < GGUFFile.maxArrayNesting,
            "metadata '\(key)': arrays nest deeper than \(GGUFFile.maxArrayNesting) levels")
        guard let first = elements.first else { return }
        precondition(
            elements.allSatisfy { $0.type == first.type },
            "metadata '\(key)': GGUF arrays must be homogeneous, got mixed element types")
        for element in elements { checkEncodable(element, key: key, depth: depth + 1) }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ s: String, to out: inout [UInt8]) {
        let utf8 = s.utf8
        append(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    private static func appendKeyValue(_ key: String, _ value: GGUFValue, to out: inout [UInt8]) {
        appendString(key, to: &out)
        append(value.type.rawValue, to: &out)
        appendValue(value, to: &out)
    }

    private static func appendValue(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let v): appendString(v, to: &out)
        case .array(let elements):
            // An empty array has no element type to preserve; uint8 is as good as any.
            append((elements.first?.type ?? .uint8).rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for e in elements { appendValue(e, to: &out) }
        }
    }
}
